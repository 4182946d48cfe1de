package crd

import (
	"embed"
	"io/fs"
)

// FS holds the generated CRD manifests, one YAML file per CRD.
//
//go:embed argoproj.io_*.yaml
var FS embed.FS

// Files returns the CRD manifests by file name.
func Files() (map[string][]byte, error) {
	names, err := fs.Glob(FS, "*.yaml")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, name := range names {
		b, err := FS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}
