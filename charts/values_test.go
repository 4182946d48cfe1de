package charts

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// wholeValues are maps documented as one value (their keys are Kubernetes fields).
var wholeValues = map[string]bool{"resources": true, "podSecurityContext": true, "securityContext": true}

// TestEveryValueIsDocumented checks that each value in values.yaml has a row in the chart's
// README (as `path`), so a new value cannot ship undocumented.
func TestEveryValueIsDocumented(t *testing.T) {
	b, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(chartDir + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			p := strings.TrimPrefix(prefix+"."+k, ".")
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !wholeValues[p] {
				walk(p, sub)
				continue
			}
			paths = append(paths, p)
		}
	}
	walk("", values)
	for _, p := range paths {
		if !strings.Contains(string(readme), "| `"+p+"` |") {
			t.Errorf("value %s has no row in %s/README.md", p, chartDir)
		}
	}
	if len(paths) < 30 {
		t.Errorf("found only %d values: %v", len(paths), paths)
	}
}
