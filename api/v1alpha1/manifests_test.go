package v1alpha1_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/acceptancedata"
)

// The acceptance data lives outside the repository (Argo Rollouts' own examples and the
// manifests of the question sluice answers), read in place, never copied; acceptancedata.Dir
// finds it ($SLUICE_SHARED_DIR, else a shared/ directory beside the repository) or skips the
// tests that use it (fails them under CI=true). The repository's own manifests are testdata/.
const testdataDir = "testdata"

// knownUnparseable are documents no Kubernetes client can send: they are not valid YAML for a
// JSON object. Each entry names the document (file#index) and a substring of the parse error.
// The tests fail if one of them starts to parse (the entry is stale) or if any other document
// fails to parse.
var knownUnparseable = map[string]string{
	// `linkerd.io/inject: {{args.linkerd-enabled}}` is an unquoted flow mapping used as a map
	// key: YAML-to-JSON conversion (kubectl, client-go, Argo's own tooling) rejects it.
	"argo-examples/traffic-management/rollout-linkerd.yaml#4": "invalid map key",
}

// manifest is one YAML document of an acceptance file.
type manifest struct {
	File  string         // e.g. argo-examples/istio/istio-mirror.yaml
	Index int            // position of the document in the file, from 0
	Obj   map[string]any // nil when the document is empty or failed to parse
	Err   error          // the parse error, if any
}

func (m manifest) Name() string { return fmt.Sprintf("%s#%d", m.File, m.Index) }

func (m manifest) Kind() string { s, _ := m.Obj["kind"].(string); return s }

func (m manifest) APIVersion() string { s, _ := m.Obj["apiVersion"].(string); return s }

func (m manifest) IsArgo() bool { return strings.HasPrefix(m.APIVersion(), "argoproj.io/") }

// readManifests returns every document of every YAML file under dir (recursively), named
// relative to the parent of dir. A missing directory fails the test.
func readManifests(tb testing.TB, dir string, recursive bool) []manifest {
	tb.Helper()
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		tb.Fatalf("manifest directory %s is missing: %v", dir, err)
	}
	base := filepath.Dir(filepath.Clean(dir))
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walking %s: %v", dir, err)
	}
	slices.Sort(files)
	var out []manifest
	for _, path := range files {
		rel, err := filepath.Rel(base, path)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		docs, err := splitYAML(b)
		if err != nil {
			tb.Fatalf("%s: splitting YAML documents: %v", rel, err)
		}
		for i, doc := range docs {
			m := manifest{File: filepath.ToSlash(rel), Index: i}
			m.Obj, m.Err = parseObject(doc)
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no YAML documents found under %s", dir)
	}
	return out
}

func splitYAML(b []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// parseObject converts one YAML document to a JSON object, as kubectl does. An empty document
// (only comments) returns nil, nil.
func parseObject(doc []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(j, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// acceptanceManifests returns the argoproj.io documents of the acceptance data: every Argo
// example (recursively) and the question's manifests. It checks that exactly the known
// unparseable documents fail to parse. Without the acceptance data it skips the test (fails it
// under CI=true).
func acceptanceManifests(tb testing.TB) []manifest {
	tb.Helper()
	shared := acceptancedata.Dir(tb)
	all := readManifests(tb, filepath.Join(shared, "argo-examples"), true)
	all = append(all, readManifests(tb, filepath.Join(shared, "question"), false)...)
	var out []manifest
	seenBad := map[string]bool{}
	for _, m := range all {
		want, known := knownUnparseable[m.Name()]
		switch {
		case m.Err != nil && known:
			if !strings.Contains(m.Err.Error(), want) {
				tb.Errorf("%s: parse error %q, want one containing %q", m.Name(), m.Err, want)
			}
			seenBad[m.Name()] = true
		case m.Err != nil:
			tb.Errorf("%s: cannot be parsed: %v", m.Name(), m.Err)
		case known:
			tb.Errorf("%s: listed in knownUnparseable but parses now; remove the entry", m.Name())
		case m.Obj != nil && m.IsArgo():
			out = append(out, m)
		}
	}
	for name := range knownUnparseable {
		if !seenBad[name] {
			tb.Errorf("knownUnparseable lists %s, which does not exist", name)
		}
	}
	if len(out) < 20 {
		tb.Fatalf("found only %d argoproj.io documents in the acceptance data; is it complete?", len(out))
	}
	return out
}

// testdataManifests returns the argoproj.io documents of testdata/*.yaml: the repository's own
// objects, which between them set every field of the API, status included
// (TestTestdataSetsEverySchemaField checks that).
func testdataManifests(tb testing.TB) []manifest {
	tb.Helper()
	var out []manifest
	for _, m := range readManifests(tb, testdataDir, false) {
		if m.Err != nil {
			tb.Fatalf("%s: %v", m.Name(), m.Err)
		}
		if m.Obj != nil && m.IsArgo() {
			out = append(out, m)
		}
	}
	return out
}

// normalize returns a JSON round-trip of v: numbers become float64, typed values become maps.
func normalize(tb testing.TB, v any) map[string]any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// withoutServerFields drops what the API server sets or rewrites on its own: metadata fields it
// owns and status. The namespace goes too: tests apply into their own namespaces.
func withoutServerFields(obj map[string]any) map[string]any {
	out := maps.Clone(obj)
	delete(out, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		m := maps.Clone(md)
		for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "namespace", "selfLink"} {
			delete(m, k)
		}
		out["metadata"] = m
	}
	return out
}

// diffWithDefaults compares what was sent with what came back. Every field sent must come back
// unchanged (nothing pruned or altered). A field that came back without being sent must be a
// default of the CRD schema at that place, with exactly the schema's default value.
func diffWithDefaults(path string, sent, got any, s *apiextensionsv1.JSONSchemaProps) []string {
	switch sv := sent.(type) {
	case map[string]any:
		gv, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: sent an object, got %s", path, short(got))}
		}
		var diffs []string
		for k, v := range sv {
			g, found := gv[k]
			if !found {
				diffs = append(diffs, fmt.Sprintf("%s.%s: pruned (sent %s)", path, k, short(v)))
				continue
			}
			diffs = append(diffs, diffWithDefaults(path+"."+k, v, g, childSchema(s, k))...)
		}
		for k, g := range gv {
			if _, sentIt := sv[k]; sentIt {
				continue
			}
			c := childSchema(s, k)
			if c == nil || c.Default == nil {
				diffs = append(diffs, fmt.Sprintf("%s.%s: added by the server (%s), not a schema default", path, k, short(g)))
				continue
			}
			var def any
			if err := json.Unmarshal(c.Default.Raw, &def); err != nil || !reflect.DeepEqual(def, g) {
				diffs = append(diffs, fmt.Sprintf("%s.%s: added as %s, schema default is %s", path, k, short(g), string(c.Default.Raw)))
			}
		}
		slices.Sort(diffs)
		return diffs
	case []any:
		gv, ok := got.([]any)
		if !ok || len(gv) != len(sv) {
			return []string{fmt.Sprintf("%s: sent %s, got %s", path, short(sent), short(got))}
		}
		var items *apiextensionsv1.JSONSchemaProps
		if s != nil && s.Items != nil {
			items = s.Items.Schema
		}
		var diffs []string
		for i := range sv {
			diffs = append(diffs, diffWithDefaults(fmt.Sprintf("%s[%d]", path, i), sv[i], gv[i], items)...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(sent, got) {
			return []string{fmt.Sprintf("%s: sent %s, got %s", path, short(sent), short(got))}
		}
		return nil
	}
}

func childSchema(s *apiextensionsv1.JSONSchemaProps, key string) *apiextensionsv1.JSONSchemaProps {
	if s == nil {
		return nil
	}
	if c, ok := s.Properties[key]; ok {
		return &c
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		return s.AdditionalProperties.Schema
	}
	return nil
}

// diffIgnoringEmpty compares a manifest with its round trip through the Go types: every field of
// the manifest must survive unchanged, and the only fields the Go types may add are empty ones
// (null, {}, [] or objects made only of those), which Go's encoding/json emits for struct fields.
func diffIgnoringEmpty(path string, want, got any) []string {
	switch wv := want.(type) {
	case map[string]any:
		gv, ok := got.(map[string]any)
		if !ok {
			if isEmpty(want) && isEmpty(got) {
				return nil
			}
			return []string{fmt.Sprintf("%s: want an object, got %s", path, short(got))}
		}
		var diffs []string
		for k, v := range wv {
			g, found := gv[k]
			if !found {
				if !isEmpty(v) {
					diffs = append(diffs, fmt.Sprintf("%s.%s: lost (was %s)", path, k, short(v)))
				}
				continue
			}
			diffs = append(diffs, diffIgnoringEmpty(path+"."+k, v, g)...)
		}
		for k, g := range gv {
			if _, ok := wv[k]; !ok && !isEmpty(g) {
				diffs = append(diffs, fmt.Sprintf("%s.%s: added (%s)", path, k, short(g)))
			}
		}
		slices.Sort(diffs)
		return diffs
	case []any:
		gv, ok := got.([]any)
		if !ok || len(gv) != len(wv) {
			if isEmpty(want) && isEmpty(got) {
				return nil
			}
			return []string{fmt.Sprintf("%s: want %s, got %s", path, short(want), short(got))}
		}
		var diffs []string
		for i := range wv {
			diffs = append(diffs, diffIgnoringEmpty(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i])...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: want %s, got %s", path, short(want), short(got))}
		}
		return nil
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, e := range x {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}
