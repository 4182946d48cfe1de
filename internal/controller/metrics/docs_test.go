package metrics_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/controller/metrics"
)

// docs/metrics.md has a table row for every family, with its type and label names.
func TestDocsListEveryFamily(t *testing.T) {
	b, err := os.ReadFile("../../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (gauge|counter|histogram) \\| ([^|]*) \\|")
	label := regexp.MustCompile("`([a-z_]+)`")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		var labels []string
		for _, l := range label.FindAllStringSubmatch(m[3], -1) {
			labels = append(labels, l[1])
		}
		documented[m[1]] = m[2] + " " + strings.Join(labels, ",")
	}
	var names []string
	for _, f := range metrics.Families() {
		names = append(names, f.Name)
		if got, want := documented[f.Name], f.Type+" "+strings.Join(f.Labels, ","); got != want {
			t.Errorf("docs/metrics.md documents %s as %q, want %q", f.Name, got, want)
		}
	}
	for name := range documented {
		if !slices.Contains(names, name) {
			t.Errorf("docs/metrics.md documents %s, which the controller does not export", name)
		}
	}
}
