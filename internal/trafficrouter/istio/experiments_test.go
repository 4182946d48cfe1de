package istio

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// Host split: an experiment's Services are added to the weighted routes with their weights
// (on the canary's port), taken from the stable's share, recorded on the VirtualService, and
// removed — they alone — once the experiment is over.
func TestExperimentDestinations(t *testing.T) {
	vs := vsFrom(t, twoRoutes)
	ref := v1alpha1.IstioVirtualService{Name: "vs", Routes: []string{"primary"}}
	d := contract.Desired{Services: svc, Weight: 20, Additional: []v1alpha1.WeightDestination{
		{ServiceName: "ex-baseline", Weight: 5}, {ServiceName: "ex-canary", Weight: 5},
	}}
	got, err := Config{}.VirtualService(vs, ref, d)
	if err != nil {
		t.Fatal(err)
	}
	if w := weights(t, got, "http", 0); w != "stable=70 canary.ns.svc.cluster.local=20 ex-baseline=5 ex-canary=5" {
		t.Errorf("with the experiment: %s", w)
	}
	rs, _, _ := unstructured.NestedSlice(got.Object, "spec", "http")
	if port, _, _ := unstructured.NestedFieldNoCopy(rs[0].(map[string]any)["route"].([]any)[2].(map[string]any), "destination", "port", "number"); fmt.Sprint(port) != "8080" {
		t.Errorf("experiment destination port %v, want the canary's 8080", port)
	}
	if a := got.GetAnnotations()[AnnotationExperimentHosts]; a != `["ex-baseline","ex-canary"]` {
		t.Errorf("annotation %q", a)
	}
	if w := weights(t, got, "http", 1); w != "stable=<nil>" {
		t.Errorf("an unselected route changed: %s", w)
	}
	// Again with new weights: updated in place, nothing duplicated.
	d.Additional[1].Weight = 10
	again, err := Config{}.VirtualService(got, ref, d)
	if err != nil {
		t.Fatal(err)
	}
	if w := weights(t, again, "http", 0); w != "stable=65 canary.ns.svc.cluster.local=20 ex-baseline=5 ex-canary=10" {
		t.Errorf("updated: %s", w)
	}
	// Over: ours go, a destination someone else added (weight 0) stays.
	rs, _, _ = unstructured.NestedSlice(again.Object, "spec", "http")
	route := rs[0].(map[string]any)
	route["route"] = append(route["route"].([]any), map[string]any{"destination": map[string]any{"host": "mirror-sink"}, "weight": int64(0)})
	_ = unstructured.SetNestedSlice(again.Object, rs, "spec", "http")
	done, err := Config{}.VirtualService(again, ref, contract.Desired{Services: svc, Weight: 20})
	if err != nil {
		t.Fatal(err)
	}
	if w := weights(t, done, "http", 0); w != "stable=80 canary.ns.svc.cluster.local=20 mirror-sink=0" {
		t.Errorf("after the experiment: %s", w)
	}
	if _, ok := done.GetAnnotations()[AnnotationExperimentHosts]; ok {
		t.Error("annotation left after the experiment")
	}
	// A destination sluice did not add keeps being refused when it has weight.
	rs, _, _ = unstructured.NestedSlice(done.Object, "spec", "http")
	rs[0].(map[string]any)["route"].([]any)[2].(map[string]any)["weight"] = int64(5)
	_ = unstructured.SetNestedSlice(done.Object, rs, "spec", "http")
	if _, err := (Config{}).VirtualService(done, ref, contract.Desired{Services: svc, Weight: 20}); err == nil || !strings.Contains(err.Error(), "mirror-sink") {
		t.Errorf("a foreign weighted destination: %v", err)
	}
}
