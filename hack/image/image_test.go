package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// staticBinary builds a small static linux/amd64 program the way `make image` builds sluice
// (CGO_ENABLED=0, -trimpath). The image assembly does not depend on what the binary does, and
// linking sluice itself would cost a minute of CPU per test run; Go's build cache makes the
// builds after the first one take a moment.
func staticBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "hello.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", out, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GO111MODULE=off", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// caBundle is a PEM file standing in for the system bundle (its content is copied, not parsed).
func caBundle(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.crt")
	pem := "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
	if err := os.WriteFile(p, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var epoch = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func options(t *testing.T) Options {
	t.Helper()
	return Options{
		Binaries: []Binary{{Platform: "linux/amd64", Path: staticBinary(t)}},
		Tag:      "ghcr.io/sluicehq/sluice:v1.2.3",
		CABundle: caBundle(t),
		Version:  "v1.2.3",
		Revision: "0123abc",
		Created:  epoch,
	}
}

// TestBuildIsReproducible builds twice into different directories: the same digests and
// byte-identical outputs.
func TestBuildIsReproducible(t *testing.T) {
	o := options(t)
	a, b := t.TempDir(), t.TempDir()
	ra, err := Build(o, a)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a wall-clock time anywhere would now differ
	rb, err := Build(o, b)
	if err != nil {
		t.Fatal(err)
	}
	if ra.IndexDigest != rb.IndexDigest || ra.Platforms[0].Digest != rb.Platforms[0].Digest {
		t.Errorf("digests differ: %s/%s and %s/%s", ra.IndexDigest, ra.Platforms[0].Digest, rb.IndexDigest, rb.Platforms[0].Digest)
	}
	if fa, fb := tree(t, a), tree(t, b); !equalTrees(fa, fb) {
		t.Errorf("outputs differ:\n%v\n%v", keysOf(fa), keysOf(fb))
	}

	o.Created = epoch.Add(time.Second)
	rc, err := Build(o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if rc.IndexDigest == ra.IndexDigest {
		t.Error("another SOURCE_DATE_EPOCH gives the same digest: the time is not in the image")
	}
}

// tree maps every file under dir to its content.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalTrees(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func keysOf(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestImageContents reads the layout and the tarball back as a registry client would.
func TestImageContents(t *testing.T) {
	o := options(t)
	out := t.TempDir()
	res, err := Build(o, out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(res.LayoutDir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 1 || im.Manifests[0].Platform == nil ||
		im.Manifests[0].Platform.String() != "linux/amd64" || im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("index %+v, want one OCI manifest for linux/amd64", im)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/sluice"}) || len(c.Cmd) != 0 {
		t.Errorf("config user %q entrypoint %q cmd %q, want 65532:65532 [/sluice] []", c.User, c.Entrypoint, c.Cmd)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Equal(epoch) {
		t.Errorf("config %s/%s created %s, want linux/amd64 created %s", cf.OS, cf.Architecture, cf.Created, epoch)
	}
	for _, h := range cf.History {
		if !h.Created.Equal(epoch) {
			t.Errorf("history %q created %s, want %s", h.CreatedBy, h.Created, epoch)
		}
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  "v1.2.3",
		"org.opencontainers.image.revision": "0123abc",
		"org.opencontainers.image.source":   "https://github.com/sluicehq/sluice",
		"org.opencontainers.image.created":  "2026-11-01T12:00:00Z",
		"org.opencontainers.image.title":    "sluice",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s=%q, want %q", k, c.Labels[k], want)
		}
	}

	files := layerFiles(t, img)
	want := []string{"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt",
		"home/", "home/nonroot/", "sluice", "tmp/"}
	if got := keysOfHeaders(files); !slices.Equal(got, want) {
		t.Errorf("layer holds %v, want %v (no shell, nothing else)", got, want)
	}
	bin, _ := os.ReadFile(o.Binaries[0].Path)
	ca, _ := os.ReadFile(o.CABundle)
	for path, check := range map[string]func(h *tar.Header, data []byte) bool{
		"sluice": func(h *tar.Header, d []byte) bool { return h.Mode == 0o755 && h.Uid == 0 && bytes.Equal(d, bin) },
		"etc/passwd": func(h *tar.Header, d []byte) bool {
			return strings.Contains(string(d), "\nnonroot:x:65532:65532:")
		},
		"etc/group":                         func(h *tar.Header, d []byte) bool { return strings.Contains(string(d), "\nnonroot:x:65532:") },
		"etc/ssl/certs/ca-certificates.crt": func(h *tar.Header, d []byte) bool { return bytes.Equal(d, ca) },
		"home/nonroot/":                     func(h *tar.Header, d []byte) bool { return h.Uid == 65532 && h.Gid == 65532 },
		"tmp/":                              func(h *tar.Header, d []byte) bool { return h.Mode == 0o1777 },
	} {
		if f := files[path]; f.h == nil || !check(f.h, f.data) {
			t.Errorf("%s: unexpected header %+v", path, f.h)
		}
	}
	for p, f := range files {
		if !f.h.ModTime.Equal(epoch) || f.h.Uname != "" || f.h.Gname != "" {
			t.Errorf("%s: mtime %s owner names %q/%q, want %s and none", p, f.h.ModTime, f.h.Uname, f.h.Gname, epoch)
		}
	}

	// The docker-save tarball holds the same image, tagged.
	tag, _ := name.NewTag(o.Tag)
	timg, err := tarball.ImageFromPath(res.Tarball, &tag)
	if err != nil {
		t.Fatal(err)
	}
	// A docker-save tarball keeps the config and layers, not the manifest: compare the config.
	tc, _ := timg.ConfigName()
	lc, _ := img.ConfigName()
	if tc != lc {
		t.Errorf("image.tar holds config %s, the layout %s", tc, lc)
	}
}

type entry struct {
	h    *tar.Header
	data []byte
}

func layerFiles(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = entry{h: h, data: data}
	}
}

func keysOfHeaders(m map[string]entry) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestRefusesBinariesTheImageCannotRun(t *testing.T) {
	o := options(t)
	o.Binaries = []Binary{{Platform: "linux/arm64", Path: staticBinary(t)}}
	if _, err := Build(o, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not arm64") {
		t.Errorf("an amd64 binary as linux/arm64: %v, want a refusal", err)
	}
	o.Binaries = []Binary{{Platform: "linux/amd64", Path: o.CABundle}}
	if _, err := Build(o, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an ELF binary") {
		t.Errorf("a text file as the binary: %v, want a refusal", err)
	}
}

// TestPush pushes the layout to a registry (go-containerregistry's, in memory, on loopback)
// and reads the index back by tag.
func TestPush(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials from the machine
	res, err := Build(options(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ref := u.Host + "/sluicehq/sluice:v1.2.3"
	got, err := Push(res.LayoutDir, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got != res.IndexDigest {
		t.Errorf("pushed %s, built %s", got, res.IndexDigest)
	}
	r, _ := name.ParseReference(ref)
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != res.IndexDigest || desc.MediaType != types.OCIImageIndex {
		t.Errorf("the registry serves %s (%s), want the index %s", desc.Digest, desc.MediaType, res.IndexDigest)
	}
}
