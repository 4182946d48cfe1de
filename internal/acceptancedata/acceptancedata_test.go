package acceptancedata_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/acceptancedata"
)

// recorder stands in for the test Dir is called from: it records Skipf and Fatalf instead of
// ending the goroutine, so one test can look at both outcomes.
type recorder struct {
	testing.TB
	skipped, failed []string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = append(r.skipped, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}

// layout makes <tmp>/work/sluice (a module, with a package directory api/v1alpha1), unsets
// SLUICE_SHARED_DIR and changes into the package directory, as `go test` does. It returns <tmp>.
func layout(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	pkg := filepath.Join(tmp, "work", "sluice", "api", "v1alpha1")
	mkdir(t, pkg)
	if err := os.WriteFile(filepath.Join(tmp, "work", "sluice", "go.mod"), []byte("module example.com/sluice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(pkg)
	t.Setenv(acceptancedata.EnvDir, "")
	if dir, err := acceptancedata.Find(pkg); !errors.Is(err, acceptancedata.ErrNotFound) {
		t.Skipf("found %q (%v) above %s on this machine; the layout cannot be tested here", dir, err, tmp)
	}
	return tmp
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
}

func TestDirMissingSkipsOutsideCI(t *testing.T) {
	layout(t)
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	if got := acceptancedata.Dir(r); got != "" {
		t.Errorf("Dir = %q, want \"\"", got)
	}
	if len(r.failed) != 0 || len(r.skipped) != 1 {
		t.Fatalf("skipped %q, failed %q; want exactly one skip", r.skipped, r.failed)
	}
	if line := r.skipped[0]; strings.Contains(line, "\n") || !strings.Contains(line, "Argo acceptance check") || !strings.Contains(line, acceptancedata.EnvDir) {
		t.Errorf("skip line %q: want one line naming the check and %s", line, acceptancedata.EnvDir)
	}
	t.Log(r.skipped[0])
}

func TestDirMissingFailsInCI(t *testing.T) {
	layout(t)
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	acceptancedata.Dir(r)
	if len(r.skipped) != 0 || len(r.failed) != 1 {
		t.Fatalf("skipped %q, failed %q; want exactly one failure under CI=true", r.skipped, r.failed)
	}
	if !strings.Contains(r.failed[0], "CI=true") {
		t.Errorf("failure %q does not say why (CI=true)", r.failed[0])
	}
	t.Log(r.failed[0])
}

func TestDirFoundBesideRepository(t *testing.T) {
	for _, tc := range []struct{ name, shared string }{
		{"next to the repository", filepath.Join("work", "shared")},
		{"further up", "shared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := layout(t)
			want := filepath.Join(tmp, tc.shared)
			mkdir(t, filepath.Join(want, "argo-examples"))
			mkdir(t, filepath.Join(tmp, "work", "sluice", "api", "shared", "argo-examples")) // inside the repository: ignored
			t.Setenv("CI", "true")
			r := &recorder{TB: t}
			if got := acceptancedata.Dir(r); got != want || len(r.skipped)+len(r.failed) != 0 {
				t.Errorf("Dir = %q (skipped %q, failed %q), want %q", got, r.skipped, r.failed, want)
			}
		})
	}
}

func TestDirFromEnvironment(t *testing.T) {
	layout(t)
	elsewhere := t.TempDir()
	mkdir(t, filepath.Join(elsewhere, "argo-examples"))
	t.Setenv(acceptancedata.EnvDir, elsewhere)
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	if got := acceptancedata.Dir(r); got != elsewhere || len(r.skipped)+len(r.failed) != 0 {
		t.Errorf("Dir = %q (skipped %q, failed %q), want %q", got, r.skipped, r.failed, elsewhere)
	}

	// A variable that points at nothing was a request to run the check: fail, CI or not.
	t.Setenv(acceptancedata.EnvDir, filepath.Join(elsewhere, "typo"))
	r = &recorder{TB: t}
	acceptancedata.Dir(r)
	if len(r.skipped) != 0 || len(r.failed) != 1 || !strings.Contains(r.failed[0], acceptancedata.EnvDir) {
		t.Errorf("skipped %q, failed %q; want one failure naming %s", r.skipped, r.failed, acceptancedata.EnvDir)
	}
}
