package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the image's user and group: nonroot, as distroless names it, and the UID the
// install manifests and the chart run the pod as.
const User = "65532:65532"

// Entrypoint is the sluice binary's path in the image.
const Entrypoint = "/sluice"

// Options describe one image build.
type Options struct {
	// Binaries are the static sluice binaries, one per platform; the first one also goes
	// into the docker-save tarball.
	Binaries []Binary
	// Tag names the image in the tarball (repository:tag).
	Tag string
	// CABundle is the PEM file installed as /etc/ssl/certs/ca-certificates.crt.
	CABundle string
	// Version and Revision become the org.opencontainers.image.version/revision labels.
	Version, Revision string
	// Created is every timestamp in the image (SOURCE_DATE_EPOCH).
	Created time.Time
}

// Binary is a sluice binary built for Platform ("linux/amd64").
type Binary struct {
	Platform string
	Path     string
}

// Result says what Build wrote.
type Result struct {
	LayoutDir, Tarball string
	IndexDigest        v1.Hash
	Platforms          []PlatformImage
}

// PlatformImage is one platform's image in the index.
type PlatformImage struct {
	Platform       string
	Digest         v1.Hash
	CompressedSize int64
}

// Build writes the OCI layout <out>/image (replacing it) and the tarball <out>/image.tar.
func Build(o Options, out string) (Result, error) {
	if len(o.Binaries) == 0 {
		return Result{}, errors.New("no binaries")
	}
	ref, err := name.NewTag(o.Tag)
	if err != nil {
		return Result{}, fmt.Errorf("-tag %q: %w", o.Tag, err)
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return Result{}, fmt.Errorf("CA bundle: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return Result{}, fmt.Errorf("CA bundle %s holds no PEM certificate", o.CABundle)
	}
	res := Result{LayoutDir: filepath.Join(out, "image"), Tarball: filepath.Join(out, "image.tar")}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var first v1.Image
	for _, b := range o.Binaries {
		img, err := platformImage(o, b, ca, ref)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", b.Platform, err)
		}
		p, err := v1.ParsePlatform(b.Platform)
		if err != nil {
			return Result{}, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		digest, err := img.Digest()
		if err != nil {
			return Result{}, err
		}
		layers, err := img.Layers()
		if err != nil {
			return Result{}, err
		}
		size, err := layers[0].Size()
		if err != nil {
			return Result{}, err
		}
		res.Platforms = append(res.Platforms, PlatformImage{Platform: b.Platform, Digest: digest, CompressedSize: size})
		if first == nil {
			first = img
		}
	}
	if res.IndexDigest, err = idx.Digest(); err != nil {
		return Result{}, err
	}
	if err := os.RemoveAll(res.LayoutDir); err != nil {
		return Result{}, err
	}
	if _, err := layout.Write(res.LayoutDir, idx); err != nil {
		return Result{}, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := tarball.WriteToFile(res.Tarball, ref, first); err != nil {
		return Result{}, fmt.Errorf("writing %s: %w", res.Tarball, err)
	}
	return res, nil
}

// platformImage is scratch plus one layer, with sluice's config.
func platformImage(o Options, b Binary, ca []byte, ref name.Tag) (v1.Image, error) {
	p, err := v1.ParsePlatform(b.Platform)
	if err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, err
	}
	if err := checkStatic(bin, p); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Path, err)
	}
	layerTar, err := rootFS(bin, ca, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Created}
	img, err := mutate.Append(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1),
		mutate.Addendum{Layer: layer, History: v1.History{
			Created:   created,
			CreatedBy: "hack/image: " + Entrypoint + ", /etc/passwd, /etc/group, /etc/ssl/certs/ca-certificates.crt",
			Comment:   "sluice " + o.Version,
		}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{Entrypoint},
		WorkingDir: "/",
		Env:        []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "sluice",
			"org.opencontainers.image.description": "Progressive-delivery controller for argoproj.io/v1alpha1 Rollouts",
			"org.opencontainers.image.source":      "https://github.com/sluicehq/sluice",
			"org.opencontainers.image.url":         "https://github.com/sluicehq/sluice",
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.revision":    o.Revision,
			"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
			"org.opencontainers.image.ref.name":    ref.TagStr(),
			"org.opencontainers.image.base.name":   "scratch",
		},
	}
	return mutate.ConfigFile(img, cf)
}

// checkStatic refuses a binary the image could not run: not an ELF executable for the
// platform's architecture, or dynamically linked (scratch has no loader or libc).
func checkStatic(bin []byte, p *v1.Platform) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Architecture]
	if p.OS != "linux" || want == elf.EM_NONE {
		return fmt.Errorf("platform %s is not supported (linux/amd64, linux/arm64)", p)
	}
	if f.Machine != want {
		return fmt.Errorf("built for %s, not %s", f.Machine, p.Architecture)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (build with CGO_ENABLED=0)")
		}
	}
	return nil
}

// file is one entry of the image's only layer.
type file struct {
	path     string
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
}

// rootFS is the layer's tar: fixed order, owners, modes and times, no user or group names.
func rootFS(bin, ca []byte, mtime time.Time) ([]byte, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnonroot:x:65532:\n"
	files := []file{
		{path: "etc/", mode: 0o755},
		{path: "etc/group", mode: 0o644, data: []byte(group)},
		{path: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "etc/ssl/", mode: 0o755},
		{path: "etc/ssl/certs/", mode: 0o755},
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{path: "home/", mode: 0o755},
		{path: "home/nonroot/", mode: 0o700, uid: 65532, gid: 65532},
		{path: "sluice", mode: 0o755, data: bin},
		{path: "tmp/", mode: 0o1777},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX,
			Typeflag: tar.TypeReg, Size: int64(len(f.data)),
		}
		if strings.HasSuffix(f.path, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
