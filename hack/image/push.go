package main

import (
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads the image index of the OCI layout dir (every platform) as ref and returns the
// index digest. Credentials come from the docker config (~/.docker/config.json, or
// $DOCKER_CONFIG) and its credential helpers, as docker and crane use them.
func Push(dir, ref string, opts ...remote.Option) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reference %q: %w", ref, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%s is not an OCI image layout (make image writes one): %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return v1.Hash{}, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	if len(m.Manifests) == 0 {
		return v1.Hash{}, errors.New(dir + " holds no image")
	}
	opts = append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return idx.Digest()
}
