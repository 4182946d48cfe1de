package routertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/yamldocs"
)

// Scheme has the Kubernetes built-in types and argoproj.io/v1alpha1.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// Client returns an uncached client for the test binary's local cluster.
func Client(tb testing.TB) client.Client {
	tb.Helper()
	c, err := client.New(devclustertest.Config(tb), client.Options{Scheme: Scheme()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// RepoPath returns the absolute path of a file given relative to the repository root.
func RepoPath(tb testing.TB, rel string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/sluicehq/sluice\n") {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no repository root above the test directory")
		}
		dir = parent
	}
}

// Load reads the objects of a multi-document YAML file given relative to the repository root.
func Load(tb testing.TB, rel string) []*unstructured.Unstructured {
	tb.Helper()
	b, err := os.ReadFile(RepoPath(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	objs, err := Decode(b)
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	return objs
}

// Decode splits a multi-document YAML (or JSON) stream into objects.
func Decode(b []byte) ([]*unstructured.Unstructured, error) { return yamldocs.Decode(b) }

// Find returns the object of the given kind and name among objs, or fails the test.
func Find(tb testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	tb.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	tb.Fatalf("no %s %q in the manifests", kind, name)
	return nil
}

// Rollout converts the Rollout among objs (the first one) to the typed object.
func Rollout(tb testing.TB, objs []*unstructured.Unstructured) *v1alpha1.Rollout {
	tb.Helper()
	for _, o := range objs {
		if o.GetKind() == v1alpha1.RolloutKind {
			ro := &v1alpha1.Rollout{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, ro); err != nil {
				tb.Fatal(err)
			}
			return ro
		}
	}
	tb.Fatal("no Rollout in the manifests")
	return nil
}

// Apply creates objs in namespace ns (in order) and returns the Rollout among them as created
// (with its UID, for owner references). The objects are deep-copied first.
func Apply(tb testing.TB, c client.Client, ns string, objs []*unstructured.Unstructured) *v1alpha1.Rollout {
	tb.Helper()
	var ro *v1alpha1.Rollout
	for _, o := range objs {
		o = o.DeepCopy()
		o.SetNamespace(ns)
		if err := c.Create(tb.Context(), o); err != nil {
			tb.Fatalf("creating %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetKind() == v1alpha1.RolloutKind && ro == nil {
			ro = &v1alpha1.Rollout{}
			if err := c.Get(tb.Context(), client.ObjectKeyFromObject(o), ro); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return ro
}
