package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// The tests in this file run against the local cluster (a real kube-apiserver with sluice's
// CRDs installed by devclustertest). SLUICE_SKIP_CLUSTER=1 skips them; the pure tests of this
// package emulate the same admission chain without a cluster.

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

const fieldManager = "sluice-test"

// clusterClient is a dynamic client plus the resource of each argoproj.io kind.
type clusterClient struct {
	dyn  dynamic.Interface
	crds map[string]*crdSchema
}

func newClusterClient(t *testing.T) *clusterClient {
	t.Helper()
	cfg := devclustertest.Config(t)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &clusterClient{dyn: dyn, crds: loadCRDs(t)}
}

func (c *clusterClient) resource(tb testing.TB, kind, namespace string) (dynamic.ResourceInterface, *crdSchema) {
	tb.Helper()
	s := c.crds[kind]
	if s == nil {
		tb.Fatalf("no CRD for kind %q", kind)
	}
	gvr := schema.GroupVersionResource{Group: s.crd.Spec.Group, Version: s.crd.Spec.Versions[0].Name, Resource: s.crd.Spec.Names.Plural}
	if s.crd.Spec.Scope == apiextensionsv1.ClusterScoped {
		return c.dyn.Resource(gvr), s
	}
	return c.dyn.Resource(gvr).Namespace(namespace), s
}

// apply server-side applies obj (in namespace, unless the kind is cluster-scoped) and returns the
// object read back with a fresh GET. A cluster-scoped object gets a name unique to the test and
// is deleted at the end.
func (c *clusterClient) apply(t *testing.T, obj map[string]any, namespace string) (sent, got map[string]any, s *crdSchema, err error) {
	t.Helper()
	u := &unstructured.Unstructured{Object: normalize(t, obj)}
	ri, s := c.resource(t, u.GetKind(), namespace)
	if s.crd.Spec.Scope == apiextensionsv1.ClusterScoped {
		u.SetName(u.GetName() + "-" + namespace)
		u.SetNamespace("")
		name := u.GetName()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10e9)
			defer cancel()
			_ = ri.Delete(ctx, name, metav1.DeleteOptions{})
		})
	} else {
		u.SetNamespace(namespace)
	}
	if _, err := ri.Apply(t.Context(), u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return u.Object, nil, s, err
	}
	back, err := ri.Get(t.Context(), u.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return u.Object, normalize(t, back.Object), s, nil
}

// TestManifestsApplyAndReadBackUnchanged applies every testdata object server-side, reads each
// back and requires every field to come back unchanged; the only extra fields allowed are CRD
// schema defaults. A testdata object's status goes through the status subresource the same way.
func TestManifestsApplyAndReadBackUnchanged(t *testing.T) {
	checkApplyAndReadBack(t, newClusterClient(t), testdataManifests(t))
}

// TestAcceptanceManifestsApplyAndReadBackUnchanged does the same for every argoproj.io document
// of the acceptance data (Argo Rollouts' examples, the question's manifests), when it is found.
// Documents of other kinds (Services, Ingresses, Istio objects …) are not sluice's to store and
// are skipped.
func TestAcceptanceManifestsApplyAndReadBackUnchanged(t *testing.T) {
	c := newClusterClient(t)
	checkApplyAndReadBack(t, c, acceptanceManifests(t))
}

func checkApplyAndReadBack(t *testing.T, c *clusterClient, ms []manifest) {
	t.Helper()
	byFile := map[string][]manifest{}
	for _, m := range ms {
		byFile[m.File] = append(byFile[m.File], m)
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			ns := devclustertest.Namespace(t) // one per file: examples reuse names across files
			for _, m := range byFile[file] {
				t.Run(fmt.Sprint(m.Index), func(t *testing.T) {
					sent, got, s, err := c.apply(t, m.Obj, ns)
					if err != nil {
						t.Fatalf("apply rejected %s: %v", m.Name(), err)
					}
					for _, d := range diffWithDefaults("", withoutServerFields(sent), withoutServerFields(got), s.schema) {
						t.Error(d)
					}
					if status, ok := m.Obj["status"].(map[string]any); ok {
						checkStatusRoundTrip(t, c, sent, status, ns, s)
					}
				})
			}
		})
	}
}

// checkStatusRoundTrip applies a testdata object's status through the status subresource, as
// the controller (and clients patching status) would, and reads it back.
func checkStatusRoundTrip(t *testing.T, c *clusterClient, sent, status map[string]any, ns string, s *crdSchema) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": sent["apiVersion"], "kind": sent["kind"],
		"metadata": map[string]any{"name": sent["metadata"].(map[string]any)["name"]},
		"status":   status,
	}}
	ri, _ := c.resource(t, u.GetKind(), ns)
	if _, err := ri.Apply(t.Context(), u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}, "status"); err != nil {
		t.Fatalf("status apply rejected: %v", err)
	}
	back, err := ri.Get(t.Context(), u.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := normalize(t, back.Object)
	for _, d := range diffWithDefaults(".status", normalize(t, map[string]any{"s": status})["s"], got["status"], childSchema(s.schema, "status")) {
		t.Error(d)
	}
}

// TestValidationRulesOnCluster sends every validation case to the API server: invalid objects
// must be rejected with a message that names the problem, valid edge cases accepted.
func TestValidationRulesOnCluster(t *testing.T) {
	c := newClusterClient(t)
	ns := devclustertest.Namespace(t)
	for i, tc := range validationCases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("case-%d", i)
			if tc.old != "" {
				old := mustParse(t, tc.old)
				setName(old, name)
				if _, _, _, err := c.apply(t, old, ns); err != nil {
					t.Fatalf("the old object is rejected: %v", err)
				}
			}
			obj := mustParse(t, tc.yaml)
			setName(obj, name)
			_, _, _, err := c.apply(t, obj, ns)
			checkRejection(t, tc, err)
		})
	}
}

func setName(obj map[string]any, name string) {
	obj["metadata"].(map[string]any)["name"] = name
}
