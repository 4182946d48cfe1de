package devcluster

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// lineWriter hands each Write to a channel, so a test can wait for the reporter's lines.
type lineWriter chan string

func (w lineWriter) Write(b []byte) (int, error) { w <- string(b); return len(b), nil }

func TestBuildProgressReportsEveryTick(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make(lineWriter, 10)
	p := newBuildProgress(out, "sluice:     ", func() time.Time { return now })
	ticks := make(chan time.Time)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); p.report(ticks, stop) }()
	tick := func(advance time.Duration) string {
		t.Helper()
		now = now.Add(advance)
		ticks <- now
		select {
		case l := <-out:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("no progress line after a tick")
			return ""
		}
	}

	if got, want := tick(10*time.Second), "sluice:     10s     loading packages\n"; got != want {
		t.Errorf("before any output: %q, want %q", got, want)
	}
	// go list downloads modules, then gives the total.
	_, _ = p.Write([]byte("go: downloading k8s.io/api v0.37.2\ngo: downloading k8s.io/apimachinery v0.3"))
	_, _ = p.Write([]byte("7.2\n"))
	if got, want := tick(10*time.Second), "sluice:     20s     2 modules downloaded\n"; got != want {
		t.Errorf("after downloads: %q, want %q", got, want)
	}
	p.setPackages(append(make([]string, 2186), "example.com/cmd"))
	// go build -v: one import path per compiled package, split across writes; compiler
	// messages are not packages.
	_, _ = p.Write([]byte("internal/goarch\nruntime\nk8s.io/api/core/v1\nk8s.io/kube"))
	_, _ = p.Write([]byte("rnetes/pkg/apis/core\n# k8s.io/x\n./x.go:1:2: undefined: y\ngo: warning: z\n"))
	if got, want := tick(70*time.Second), "sluice:     1m30s   4/2187 packages compiled, 2 modules downloaded\n"; got != want {
		t.Errorf("after compiling: %q, want %q", got, want)
	}
	_, _ = p.Write([]byte("example.com/cmd\n"))
	if got, want := tick(10*time.Second), "sluice:     1m40s   5/2187 packages compiled, 2 modules downloaded, linking\n"; got != want {
		t.Errorf("after compiling main: %q, want %q", got, want)
	}
	close(stop)
	<-done
	if got := string(p.output()); !strings.Contains(got, "./x.go:1:2: undefined: y") {
		t.Errorf("output tail lost the compiler message: %q", got)
	}
}

func TestBuildProgressKeepsOnlyTheTail(t *testing.T) {
	p := newBuildProgress(lineWriter(make(chan string, 1)), "", time.Now)
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 1000 {
		_, _ = p.Write(line)
	}
	if n := len(p.output()); n < tailSize || n > 2*tailSize {
		t.Errorf("tail is %d bytes, want %d..%d", n, tailSize, 2*tailSize)
	}
	if p.compiled != 1000 {
		t.Errorf("counted %d packages, want 1000", p.compiled)
	}
}

// A fake go command: `list` prints three packages, `build -v` prints them slowly and writes
// the -o file. EnsureBinaries must print what it builds, progress lines while a build runs,
// and the result, and leave the multi-call binary's symlinks.
const fakeGo = `#!/bin/sh
case "$1" in
list) echo internal/goarch; echo unsafe; echo runtime; echo example.com/m/cmd ;;
build)
  out=""
  while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
  echo "go: downloading example.com/m v1.0.0" >&2
  echo internal/goarch >&2; sleep 0.3
  echo runtime >&2; sleep 0.3
  echo example.com/m/cmd >&2; sleep 0.3
  printf '#!/bin/sh\n' > "$out"; chmod +x "$out" ;;
esac
`

func TestEnsureBinariesOutput(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("SLUICE_CLUSTER_CACHE", t.TempDir())
	old := progressInterval
	progressInterval = 100 * time.Millisecond
	t.Cleanup(func() { progressInterval = old })

	var out strings.Builder
	dir, err := EnsureBinaries(t.Context(), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Logf("output:\n%s", got)
	for _, re := range []string{
		`(?m)^sluice: building the local cluster's binaries into ` + regexp.QuoteMeta(dir) + `$`,
		`(?m)^sluice: first time only: about .* on 2 cores, reused afterwards$`,
		`(?m)^sluice:   building kube-control-plane \(etcd, kube-apiserver, kube-controller-manager, kube-scheduler\)$`,
		`(?m)^sluice:     \d+s +(loading packages|\d/3 packages compiled)(, 1 modules downloaded)?$`,
		`(?m)^sluice:     \d+s +3/3 packages compiled, 1 modules downloaded, linking$`,
		`(?m)^sluice:   built kube-control-plane in \d+s \(3/3 packages compiled, 1 modules downloaded\)$`,
		`(?m)^sluice:   building kwok$`,
		`(?m)^sluice:   built kwok in \d+s \(3/3 packages compiled, 1 modules downloaded\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("output does not match %s", re)
		}
	}
	for _, name := range []string{BinEtcd, BinAPIServer, BinControllerManager, BinScheduler} {
		if target, err := os.Readlink(filepath.Join(dir, name)); err != nil || target != BinControlPlane {
			t.Errorf("%s -> %q (%v), want a symlink to %s", name, target, err, BinControlPlane)
		}
	}
	// A second call finds everything and builds nothing.
	out.Reset()
	if _, err := EnsureBinaries(t.Context(), &out); err != nil || out.Len() != 0 {
		t.Errorf("second call: err %v, output %q", err, out.String())
	}
}
