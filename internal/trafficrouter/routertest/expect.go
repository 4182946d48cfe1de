package routertest

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ExpectObjects compares the live objects in namespace ns with the ones in a YAML file given
// relative to the repository root (the documented "what sluice writes"): annotations must be
// equal, labels too when the file sets them, the live spec must contain the file's spec (same
// lists, same values; map keys the file leaves out, such as fields the API server defaults,
// are ignored), and each owner reference in the file must be on the live object (apiVersion,
// kind, name, controller). Status is ignored.
func ExpectObjects(tb testing.TB, c client.Client, ns, rel string) {
	tb.Helper()
	for _, want := range Load(tb, rel) {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		if err := c.Get(tb.Context(), types.NamespacedName{Namespace: ns, Name: want.GetName()}, got); err != nil {
			tb.Fatalf("%s: reading %s %s: %v", rel, want.GetKind(), want.GetName(), err)
		}
		what := rel + ": " + want.GetKind() + " " + want.GetName()
		if !sameJSON(got.GetAnnotations(), want.GetAnnotations()) {
			tb.Errorf("%s annotations:\n got %s\nwant %s", what, toJSON(got.GetAnnotations()), toJSON(want.GetAnnotations()))
		}
		if want.GetLabels() != nil && !sameJSON(got.GetLabels(), want.GetLabels()) {
			tb.Errorf("%s labels:\n got %s\nwant %s", what, toJSON(got.GetLabels()), toJSON(want.GetLabels()))
		}
		if !contains(normalize(got.Object["spec"]), normalize(want.Object["spec"])) {
			tb.Errorf("%s spec:\n got %s\nwant %s", what, toJSON(got.Object["spec"]), toJSON(want.Object["spec"]))
		}
		for _, w := range want.GetOwnerReferences() {
			found := false
			for _, g := range got.GetOwnerReferences() {
				found = found || (g.APIVersion == w.APIVersion && g.Kind == w.Kind && g.Name == w.Name &&
					reflect.DeepEqual(g.Controller, w.Controller))
			}
			if !found {
				tb.Errorf("%s: no owner reference %s %s (controller %v); has %s", what, w.Kind, w.Name, w.Controller, toJSON(got.GetOwnerReferences()))
			}
		}
	}
}

func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// contains reports whether got has everything want has: equal scalars, lists of the same
// length whose elements contain want's, maps with want's keys.
func contains(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !contains(g[k], v) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !contains(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

func sameJSON(a, b any) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
