package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifest is one YAML or JSON document of a file given with -f.
type manifest struct {
	// Where is "file.yaml" or "file.yaml (document 2)", for messages.
	Where                  string
	APIVersion, Kind, Name string
	Namespace              string
	// Raw is the document as JSON; Object the same, decoded.
	Raw    []byte
	Object map[string]any
}

// readManifests reads every document of the files ("-" is stdin). Empty documents are skipped.
func readManifests(paths []string, stdin io.Reader) ([]manifest, error) {
	var out []manifest
	for _, path := range paths {
		var r io.Reader
		if path == "-" {
			r = stdin
		} else {
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", path, err)
			}
			defer func() { _ = f.Close() }()
			r = f
		}
		yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
		for doc := 1; ; doc++ {
			b, err := yr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s (document %d): %w", path, doc, err)
			}
			where := path
			if doc > 1 {
				where = fmt.Sprintf("%s (document %d)", path, doc)
			}
			if len(bytes.TrimSpace(stripComments(b))) == 0 {
				continue
			}
			j, err := yaml.YAMLToJSON(b)
			if err != nil {
				return nil, fmt.Errorf("%s: not valid YAML: %w", where, err)
			}
			var obj map[string]any
			if err := yaml.Unmarshal(j, &obj); err != nil || obj == nil {
				return nil, fmt.Errorf("%s: not a Kubernetes object", where)
			}
			m := manifest{Where: where, Raw: j, Object: obj}
			m.APIVersion, _ = obj["apiVersion"].(string)
			m.Kind, _ = obj["kind"].(string)
			if md, ok := obj["metadata"].(map[string]any); ok {
				m.Name, _ = md["name"].(string)
				m.Namespace, _ = md["namespace"].(string)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// stripComments drops YAML comment lines, so a document of only comments counts as empty.
func stripComments(b []byte) []byte {
	var out []byte
	for line := range bytes.Lines(b) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
		}
	}
	return out
}
