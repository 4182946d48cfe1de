package charts

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test.
const chartDir = "sluice"

// rendering is what `helm install <release> charts/sluice -n <namespace>` would apply.
type rendering struct {
	// objects are the decoded documents, typed where client-go's scheme knows the kind
	// (unstructured otherwise), in template order.
	objects []client.Object
	// manifest is the rendered YAML of all templates, as Helm stores it in the release.
	manifest string
	notes    string
}

// loadChart loads the chart the way `helm install` does (.helmignore applied).
func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading %s: %v", chartDir, err)
	}
	return c
}

// render renders the chart for an install of release name into namespace with user values
// (given as YAML, as -f would pass them). It fails the test on a template error.
func render(t *testing.T, name, namespace, values string) rendering {
	t.Helper()
	r, err := tryRender(t, name, namespace, values)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryRender is render returning the template error (a fail in a template, a schema error).
func tryRender(t *testing.T, name, namespace, values string) (rendering, error) {
	t.Helper()
	c := loadChart(t)
	user := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &user); err != nil {
		t.Fatalf("values: %v", err)
	}
	vals, err := chartutil.ToRenderValues(c, user, chartutil.ReleaseOptions{
		Name: name, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return rendering{}, err
	}
	// Strict: a template that reads a value missing from values.yaml is an error.
	out, err := engine.Engine{Strict: true}.Render(c, vals)
	if err != nil {
		return rendering{}, err
	}
	var r rendering
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, "NOTES.txt"):
			r.notes = out[n]
			continue
		case strings.HasPrefix(filepath.Base(n), "_"):
			continue
		}
		objs, err := decodeAll(out[n])
		if err != nil {
			t.Fatalf("%s: %v\n%s", n, err, out[n])
		}
		r.objects = append(r.objects, objs...)
		if strings.TrimSpace(out[n]) != "" {
			r.manifest += "---\n# Source: " + n + "\n" + out[n] + "\n"
		}
	}
	return r, nil
}

// strictDecoder refuses unknown and duplicate fields of the kinds client-go knows.
var strictDecoder = serializer.NewCodecFactory(clientgoscheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decodeAll decodes every YAML document of a rendered template.
func decodeAll(s string) ([]client.Object, error) {
	var objs []client.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, err
		}
		if len(probe) == 0 {
			continue // only comments
		}
		obj, _, err := strictDecoder.Decode(doc, nil, nil)
		if runtime.IsNotRegisteredError(err) {
			u := &unstructured.Unstructured{Object: probe}
			objs = append(objs, u)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", firstLine(doc), err)
		}
		co, ok := obj.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%T is not an object", obj)
		}
		objs = append(objs, co)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// releaseSecretSize is the size of the data Helm's default storage driver writes into the
// release's Secret (sh.helm.release.v1.<name>.v<revision>) for this rendering: the release
// (with the whole chart, files included, and the rendered manifest) as JSON, gzipped at best
// compression and base64-encoded, as helm.sh/helm/v3/pkg/storage/driver encodes it. The API
// server refuses a Secret whose data exceeds 1 MiB.
func releaseSecretSize(t *testing.T, c *chart.Chart, r rendering, values map[string]any) int {
	t.Helper()
	rel := &release.Release{
		Name: "sluice", Namespace: "sluice-system", Version: 1, Chart: c, Config: values,
		Manifest: r.manifest, Info: &release.Info{Status: release.StatusDeployed, Notes: r.notes},
	}
	b, err := json.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodedLen(buf.Len())
}
