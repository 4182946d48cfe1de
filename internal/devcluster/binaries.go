package devcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// toolsrc holds copies of the tools module devcluster/tools/k8s (go.mod, go.sum, tools.go and
// the control plane's main), named <module>.<path with / as .>.txt and kept in step
// by hack/sync-tools-src.sh (make generate; make verify fails when they are stale).
//
//go:embed toolsrc/*.txt
var toolsrc embed.FS

// toolFiles lists each tools module's files, as paths inside the module. kwok is built in the
// k8s module too: against the control plane's k8s.io/* modules it compiles about 150 packages of
// its own (its own module, with k8s.io/* v0.36, compiled about 630).
var toolFiles = map[string][]string{
	"k8s": {"go.mod", "go.sum", "tools.go", "controlplane/main.go"},
}

func toolsrcName(module, file string) string {
	return "toolsrc/" + module + "." + strings.ReplaceAll(file, "/", ".") + ".txt"
}

// Binary names of the cluster's components. The first four are symlinks to one multi-call
// binary, BinControlPlane, which runs the component it is started as.
const (
	BinEtcd              = "etcd"
	BinAPIServer         = "kube-apiserver"
	BinControllerManager = "kube-controller-manager"
	BinScheduler         = "kube-scheduler"
	BinKwok              = "kwok"
	BinControlPlane      = "kube-control-plane"
)

// A build is one `go build` of one binary, with symlinks to it under other names.
type build struct {
	out        string
	links      []string
	module     string // the tools module it is built in
	pkg        string
	k8sVersion bool // stamp k8s.io/component-base/version like a release build
}

var builds = []build{
	// etcd, kube-apiserver, kube-controller-manager and kube-scheduler share most of their
	// packages: as one binary they compile once and link once (devcluster/tools/k8s/controlplane).
	{BinControlPlane, []string{BinEtcd, BinAPIServer, BinControllerManager, BinScheduler}, "k8s", "./controlplane", true},
	{BinKwok, nil, "k8s", "sigs.k8s.io/kwok/cmd/kwok", false},
}

func (b build) label() string {
	if len(b.links) == 0 {
		return b.out
	}
	return b.out + " (" + strings.Join(b.links, ", ") + ")"
}

// built reports whether b's binary and its links are in dir.
func (b build) built(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, b.out))
	if err != nil || fi.Mode()&0o111 == 0 {
		return false
	}
	for _, l := range b.links {
		if t, err := os.Readlink(filepath.Join(dir, l)); err != nil || t != b.out {
			return false
		}
	}
	return true
}

// buildFlags are go build's flags for every binary (besides -ldflags). -trimpath and -ldflags=-s -w
// make smaller, reproducible binaries; -dwarf=false skips writing the debug information that -w
// throws away at link time (22 % less compile CPU time measured). Stack traces keep their file
// names and lines (those are not DWARF).
var buildFlags = []string{"-trimpath", "-gcflags=all=-dwarf=false"}

// BinaryCacheDir returns the directory the binaries for the pinned versions live in. The key
// is a digest of the embedded tools modules (go.mod, go.sum and sources) and the build flags,
// so a version bump or a change to how they are built builds anew; anything else reuses the
// cache.
// SLUICE_CLUSTER_CACHE overrides the parent directory.
func BinaryCacheDir() (string, error) {
	h := sha256.New()
	for _, m := range []string{"k8s"} {
		for _, f := range toolFiles[m] {
			b, err := toolsrc.ReadFile(toolsrcName(m, f))
			if err != nil {
				return "", err
			}
			_, _ = fmt.Fprintf(h, "%s/%s %d\n", m, f, len(b))
			h.Write(b)
		}
	}
	_, _ = fmt.Fprintf(h, "flags %q\n", buildFlags)
	key := hex.EncodeToString(h.Sum(nil))[:16]
	parent := os.Getenv("SLUICE_CLUSTER_CACHE")
	if parent == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("finding the user cache directory: %w", err)
		}
		parent = filepath.Join(c, "sluice", "cluster")
	}
	return filepath.Join(parent, key), nil
}

// EnsureBinaries builds whatever binaries are missing from the cache and returns the cache
// directory. With a warm cache it only stats a few files. Progress goes to progress (may be
// nil): a line per build and, while one runs, a line every 10 s with the elapsed time and the
// packages compiled. It needs the go command on PATH and the Go module proxy (or a warm module
// cache).
func EnsureBinaries(ctx context.Context, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	dir, err := BinaryCacheDir()
	if err != nil {
		return "", err
	}
	var missing []build
	for _, b := range builds {
		if !b.built(dir) {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return dir, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("building the local cluster needs the go command on PATH (Go 1.26)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// One build at a time per cache: concurrent test binaries wait for the first one.
	unlock, err := lockFile(ctx, filepath.Join(dir, ".build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	src, err := os.MkdirTemp("", "sluice-tools-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(src) }()
	for m, files := range toolFiles {
		for _, f := range files {
			b, err := toolsrc.ReadFile(toolsrcName(m, f))
			if err != nil {
				return "", err
			}
			p := filepath.Join(src, m, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", err
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return "", err
			}
		}
	}
	k8sVersion, err := moduleVersion(toolsrcName("k8s", "go.mod"), "k8s.io/kubernetes")
	if err != nil {
		return "", err
	}

	first := true
	for _, b := range missing {
		if b.built(dir) {
			continue // built by another process while we waited for the lock
		}
		if first {
			_, _ = fmt.Fprintf(progress, "sluice: building the local cluster's binaries into %s\n", dir)
			_, _ = fmt.Fprintf(progress, "sluice: first time only: about %s on 2 cores, reused afterwards\n", coldBuildTime)
			first = false
		}
		ldflags := "-s -w"
		if b.k8sVersion {
			ldflags += k8sLDFlags(k8sVersion)
		}
		if err := goBuild(ctx, progress, goBin, filepath.Join(src, b.module), b, ldflags, dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// coldBuildTime is what the first build takes with empty Go caches (README, docs/local-cluster.md).
const coldBuildTime = "7–10 minutes"

// goBuild builds b into dir, printing progress while it runs.
func goBuild(ctx context.Context, progress io.Writer, goBin, moduleDir string, b build, ldflags, dir string) error {
	_, _ = fmt.Fprintf(progress, "sluice:   building %s\n", b.label())
	p := newBuildProgress(progress, "sluice:     ", time.Now)
	tick := time.NewTicker(progressInterval)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); p.report(tick.C, stop) }()
	stopped := false
	stopReport := func() { // before writing to progress ourselves
		if !stopped {
			stopped = true
			tick.Stop()
			close(stop)
			<-done
		}
	}
	defer stopReport()

	env := append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	// The packages the build needs, for "N/total packages compiled" (this also downloads the
	// modules). A failure here only loses the total: go build reports the real error.
	var list bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, "list", "-deps", b.pkg)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = moduleDir, env, &list, p
	if cmd.Run() == nil {
		p.setPackages(strings.Fields(list.String()))
	}

	tmp := filepath.Join(dir, b.out+".tmp")
	args := append(append([]string{"build", "-v"}, buildFlags...), "-ldflags", ldflags, "-o", tmp, b.pkg)
	cmd = exec.CommandContext(ctx, goBin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = moduleDir, env, p, p
	err := cmd.Run()
	stopReport()
	if err != nil {
		_, _ = fmt.Fprintf(progress, "sluice:   building %s failed after %s\n", b.out, p.elapsed())
		return fmt.Errorf("building %s: %w\n%s", b.out, err, tail(p.output(), 4000))
	}
	if err := os.Rename(tmp, filepath.Join(dir, b.out)); err != nil {
		return err
	}
	for _, l := range b.links {
		// Replace whatever is there (an older cache layout's file) atomically.
		tmpLink := filepath.Join(dir, l+".tmp")
		_ = os.Remove(tmpLink)
		if err := os.Symlink(b.out, tmpLink); err != nil {
			return err
		}
		if err := os.Rename(tmpLink, filepath.Join(dir, l)); err != nil {
			return err
		}
	}
	p.finish()
	_, _ = fmt.Fprintf(progress, "sluice:   built %s in %s (%s)\n", b.out, p.elapsed(), p.counts())
	return nil
}

func k8sLDFlags(v string) string {
	const pkg = "k8s.io/component-base/version"
	minor := ""
	if parts := strings.Split(strings.TrimPrefix(v, "v"), "."); len(parts) > 1 {
		minor = parts[1]
	}
	return fmt.Sprintf(" -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=1 -X %[1]s.gitMinor=%[3]s"+
		" -X %[1]s.gitTreeState=clean -X %[1]s.buildDate=1970-01-01T00:00:00Z", pkg, v, minor)
}

// moduleVersion reads the required version of module from an embedded go.mod.
func moduleVersion(file, module string) (string, error) {
	b, err := toolsrc.ReadFile(file)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) >= 2 && f[0] == module {
			return f[1], nil
		}
		if len(f) >= 3 && f[0] == "require" && f[1] == module {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("%s does not require %s", file, module)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
