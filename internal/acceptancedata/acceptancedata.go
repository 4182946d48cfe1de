package acceptancedata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// EnvDir names the environment variable that points at the shared directory.
const EnvDir = "SLUICE_SHARED_DIR"

// marker is the subdirectory that identifies the shared directory.
const marker = "argo-examples"

// ErrNotFound is returned by [Find] when no shared directory is found.
var ErrNotFound = errors.New("no shared/" + marker + " beside the repository")

// Find returns the shared directory for a test running in dir (a directory inside the
// repository): $SLUICE_SHARED_DIR if set, else the first shared/ holding argo-examples/ found
// in the parent of the module root or in a directory above it. It does not look at CI.
func Find(dir string) (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if !isDir(filepath.Join(d, marker)) {
			return "", fmt.Errorf("%s=%s has no %s/ directory", EnvDir, d, marker)
		}
		return d, nil
	}
	root, err := moduleRoot(dir)
	if err != nil {
		return "", err
	}
	for d := filepath.Dir(root); ; d = filepath.Dir(d) {
		if shared := filepath.Join(d, "shared"); isDir(filepath.Join(shared, marker)) {
			return shared, nil
		}
		if filepath.Dir(d) == d {
			return "", ErrNotFound
		}
	}
}

// Dir returns the shared directory for the running test (see the package documentation). When
// it is not found, Dir skips the test with one line, or fails it under CI=true; a
// $SLUICE_SHARED_DIR that does not hold the data always fails. Dir returns "" only after
// tb.Skipf or tb.Fatalf.
func Dir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("acceptance data: %v", err)
		return ""
	}
	dir, err := Find(wd)
	switch {
	case err == nil:
		return dir
	case !errors.Is(err, ErrNotFound):
		tb.Fatalf("acceptance data: %v", err)
	case inCI():
		tb.Fatalf("acceptance data: %v and CI=true: CI must run the Argo acceptance check; set %s or check the repository out next to shared/", err, EnvDir)
	default:
		tb.Skipf("skipping the Argo acceptance check: %v (set %s to run it)", err, EnvDir)
	}
	return ""
}

// inCI reports whether CI is set to a true value (CI=true, as CI systems and .ci/run set it).
func inCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// moduleRoot returns the nearest directory at or above dir holding a go.mod.
func moduleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", dir)
		}
	}
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
