package trafficrouter_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// exampleBody is an example file without its leading comment lines.
func exampleBody(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(routertest.RepoPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "#") {
		i++
	}
	return strings.Join(lines[i:], "\n")
}

// TestDocSnippets keeps the YAML of docs/traffic-routing.md equal to the example files the
// router tests apply, and every router example documented.
func TestDocSnippets(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(routertest.RepoPath(t, "docs/traffic-routing.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- example: (\\S+) -->\n```yaml\n(.*?)\n```")
	var seen []string
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		seen = append(seen, m[1])
		if want := exampleBody(t, m[1]); m[2] != want {
			t.Errorf("docs/traffic-routing.md: the block of %s differs from the file", m[1])
		}
	}
	if n := strings.Count(string(doc), "<!-- example: "); n != len(seen) {
		t.Errorf("%d example markers, %d followed by a yaml block", n, len(seen))
	}
	for _, dir := range []string{"nginx", "istio", "smi", "alb", "gatewayapi"} {
		files, err := filepath.Glob(routertest.RepoPath(t, filepath.Join("examples", dir, "*.yaml")))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			rel := filepath.Join("examples", dir, filepath.Base(f))
			if !slices.Contains(seen, rel) {
				t.Errorf("%s is not shown in docs/traffic-routing.md", rel)
			}
		}
	}
}
