// Command image builds sluice's container image with Go alone: no Docker, no BuildKit, no
// registry pull. `make image` cross-compiles the static binaries (CGO_ENABLED=0, -trimpath)
// and runs
//
//	go run ./hack/image build -out bin -tag ghcr.io/sluicehq/sluice:<version> \
//	    linux/amd64=bin/image-build/linux-amd64/sluice [linux/arm64=…]
//
// which writes
//
//   - bin/image: an OCI image layout whose index.json is the image index (one manifest per
//     platform); the index digest is the image's name for `docker pull …@sha256:…`;
//   - bin/image.tar: the first platform's image as a `docker save` tarball, tagged -tag,
//     for `docker load` or `crane push`.
//
// The image has one layer on an empty base (scratch): /sluice (the entrypoint), /etc/passwd
// and /etc/group naming root and nonroot (65532), the CA bundle at
// /etc/ssl/certs/ca-certificates.crt (from -ca-bundle, the Debian system bundle by default),
// an empty /tmp (1777) and /home/nonroot. There is no shell. The image runs as 65532:65532.
//
// It is reproducible: every timestamp (the config's created, the history, every file in the
// layer) is SOURCE_DATE_EPOCH (0 when unset; the Makefile passes the commit's time), files are
// written in a fixed order with fixed owners and modes, so the same binaries and CA bundle
// give the same digests, byte for byte.
//
//	go run ./hack/image push -layout bin/image ghcr.io/sluicehq/sluice:<version>
//
// pushes the layout's index with every platform, authenticating like docker and crane do
// (~/.docker/config.json, credential helpers).
package main
