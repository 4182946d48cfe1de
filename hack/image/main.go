package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  image build [-out dir] [-tag ref] [-ca-bundle file] [-version v] [-revision sha] os/arch=binary...
  image push [-layout dir] ref`

func run(args []string, w io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "build":
		return runBuild(args[1:], w)
	case "push":
		return runPush(args[1:], w)
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}

func runBuild(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("out", "bin", "directory for image/ (OCI layout) and image.tar (docker save format)")
	o := Options{}
	fs.StringVar(&o.Tag, "tag", "ghcr.io/sluicehq/sluice:latest", "reference the tarball is tagged with (and the layout annotated with)")
	fs.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle installed as /etc/ssl/certs/ca-certificates.crt")
	fs.StringVar(&o.Version, "version", "", "org.opencontainers.image.version label")
	fs.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision label (the commit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("no binaries: pass os/arch=path, e.g. linux/amd64=bin/image-build/linux-amd64/sluice")
	}
	for _, a := range fs.Args() {
		platform, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q: want os/arch=path", a)
		}
		o.Binaries = append(o.Binaries, Binary{Platform: platform, Path: path})
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	o.Created = epoch
	res, err := Build(o, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "image %s\n  index %s (%s)\n", o.Tag, res.IndexDigest, res.LayoutDir)
	for _, p := range res.Platforms {
		fmt.Fprintf(w, "  %-12s %s  %.1f MiB compressed\n", p.Platform, p.Digest, float64(p.CompressedSize)/(1<<20))
	}
	fmt.Fprintf(w, "  %s: %s for docker load or crane push\n", res.Tarball, res.Platforms[0].Platform)
	fmt.Fprintf(w, "push every platform with:\n  go run ./hack/image push -layout %s %s\n", res.LayoutDir, o.Tag)
	return nil
}

// sourceDateEpoch is SOURCE_DATE_EPOCH (reproducible-builds.org), the Unix epoch when unset.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

func runPush(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	dir := fs.String("layout", "bin/image", "OCI image layout written by image build")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("push: want one reference, e.g. ghcr.io/sluicehq/sluice:v0.1.0")
	}
	digest, err := Push(*dir, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pushed %s@%s\n", fs.Arg(0), digest)
	return nil
}
