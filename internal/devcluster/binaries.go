package devcluster

import (
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

// toolsrc holds copies of devcluster/tools/{k8s,kwok}/{go.mod,go.sum,tools.go}, kept in step by
// hack/sync-tools-src.sh (make generate; make verify fails when they are stale).
//
//go:embed toolsrc/*.txt
var toolsrc embed.FS

// Binary names of the cluster's components.
const (
	BinEtcd              = "etcd"
	BinAPIServer         = "kube-apiserver"
	BinControllerManager = "kube-controller-manager"
	BinScheduler         = "kube-scheduler"
	BinKwok              = "kwok"
)

type binary struct {
	name, module, pkg string
	k8sVersion        bool // stamp k8s.io/component-base/version like a release build
}

var binaries = []binary{
	{BinEtcd, "k8s", "go.etcd.io/etcd/server/v3", false},
	{BinAPIServer, "k8s", "k8s.io/kubernetes/cmd/kube-apiserver", true},
	{BinControllerManager, "k8s", "k8s.io/kubernetes/cmd/kube-controller-manager", true},
	{BinScheduler, "k8s", "k8s.io/kubernetes/cmd/kube-scheduler", true},
	{BinKwok, "kwok", "sigs.k8s.io/kwok/cmd/kwok", false},
}

// BinaryCacheDir returns the directory the binaries for the pinned versions live in. The key
// is a digest of the tools modules' go.mod and go.sum, so a version bump builds anew and
// anything else reuses the cache. SLUICE_CLUSTER_CACHE overrides the parent directory.
func BinaryCacheDir() (string, error) {
	h := sha256.New()
	for _, f := range []string{"k8s.go.mod", "k8s.go.sum", "kwok.go.mod", "kwok.go.sum"} {
		b, err := toolsrc.ReadFile("toolsrc/" + f + ".txt")
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
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
// directory. With a warm cache it only stats five files. Progress goes to progress (may be nil).
// It needs the go command on PATH and the Go module proxy (or a warm module cache).
func EnsureBinaries(ctx context.Context, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	dir, err := BinaryCacheDir()
	if err != nil {
		return "", err
	}
	var missing []binary
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(dir, b.name)); err != nil || fi.Mode()&0o111 == 0 {
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
	for _, m := range []string{"k8s", "kwok"} {
		if err := os.MkdirAll(filepath.Join(src, m), 0o755); err != nil {
			return "", err
		}
		for _, f := range []string{"go.mod", "go.sum", "tools.go"} {
			b, err := toolsrc.ReadFile("toolsrc/" + m + "." + f + ".txt")
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(src, m, f), b, 0o644); err != nil {
				return "", err
			}
		}
	}
	k8sVersion, err := moduleVersion("toolsrc/k8s.go.mod.txt", "k8s.io/kubernetes")
	if err != nil {
		return "", err
	}

	first := true
	for _, b := range missing {
		if _, err := os.Stat(filepath.Join(dir, b.name)); err == nil {
			continue // built by another process while we waited for the lock
		}
		if first {
			_, _ = fmt.Fprintf(progress, "sluice: building the local cluster's binaries into %s\n", dir)
			_, _ = fmt.Fprintf(progress, "sluice: first time only: about 7 minutes on 2 cores, reused afterwards\n")
			first = false
		}
		start := time.Now()
		_, _ = fmt.Fprintf(progress, "sluice:   building %-24s", b.name+" ...")
		ldflags := "-s -w"
		if b.k8sVersion {
			ldflags += k8sLDFlags(k8sVersion)
		}
		tmp := filepath.Join(dir, b.name+".tmp")
		cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags", ldflags, "-o", tmp, b.pkg)
		cmd.Dir = filepath.Join(src, b.module)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
		out, err := cmd.CombinedOutput()
		if err != nil {
			_, _ = fmt.Fprintln(progress, "failed")
			return "", fmt.Errorf("building %s: %w\n%s", b.name, err, tail(out, 4000))
		}
		if err := os.Rename(tmp, filepath.Join(dir, b.name)); err != nil {
			return "", err
		}
		_, _ = fmt.Fprintf(progress, " done in %s\n", time.Since(start).Round(time.Second))
	}
	return dir, nil
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
