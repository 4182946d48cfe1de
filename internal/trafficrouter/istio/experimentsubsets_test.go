package istio

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

var subsetCfg = Config{Rollout: "ro", Istio: v1alpha1.IstioTrafficRouting{DestinationRule: &v1alpha1.IstioDestinationRule{
	Name: "dr", CanarySubsetName: "canary", StableSubsetName: "stable",
}}}

const subsetVS = `
metadata: {name: vs}
spec:
  http:
  - name: primary
    route:
    - {destination: {host: my-app, subset: stable}, weight: 100}
    - {destination: {host: my-app, subset: canary, port: {number: 80}}, weight: 0}
    - {destination: {host: my-app, subset: legacy}, weight: 0}
`

const subsetDR = `
metadata: {name: dr}
spec:
  host: my-app
  subsets:
  - {name: canary, labels: {app: my-app}}
  - {name: stable, labels: {app: my-app}}
  - {name: legacy, labels: {version: v0}}
`

// subsetDests reads the primary route as subset=weight (host@subset when the host is not
// my-app).
func subsetDests(t *testing.T, vs *unstructured.Unstructured) string {
	t.Helper()
	rs, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	var out []string
	for _, d := range rs[0].(map[string]any)["route"].([]any) {
		dm := d.(map[string]any)
		host, _, _ := unstructured.NestedString(dm, "destination", "host")
		sub, _, _ := unstructured.NestedString(dm, "destination", "subset")
		if host != "my-app" {
			sub = host + "@" + sub
		}
		out = append(out, fmt.Sprintf("%s=%v", sub, dm["weight"]))
	}
	return strings.Join(out, " ")
}

func subsetLabels(dr *unstructured.Unstructured) string {
	subsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
	var out []string
	for _, s := range subsets {
		sm := s.(map[string]any)
		out = append(out, fmt.Sprintf("%v %v", sm["name"], sm["labels"]))
	}
	return strings.Join(out, " ")
}

// Subset split: each experiment destination becomes a DestinationRule subset named after its
// Service that selects its pod-template hash, and a destination of the weighted route on the
// DestinationRule's host with that subset, taken from the stable's share; both are recorded
// and removed — they alone — once the experiment is over.
func TestExperimentSubsets(t *testing.T) {
	ref := v1alpha1.IstioVirtualService{Name: "vs", Routes: []string{"primary"}}
	d := contract.Desired{Services: svc, Weight: 0, Additional: []v1alpha1.WeightDestination{
		{ServiceName: "ex-baseline", Weight: 5, PodTemplateHash: "hb"}, {ServiceName: "ex-canary", Weight: 5, PodTemplateHash: "hc"},
	}}
	dr, err := subsetCfg.ExperimentSubsets(vsFrom(t, subsetDR), d, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := subsetLabels(dr); got != "canary map[app:my-app] stable map[app:my-app] legacy map[version:v0] ex-baseline map[rollouts-pod-template-hash:hb] ex-canary map[rollouts-pod-template-hash:hc]" {
		t.Errorf("subsets with the experiment: %s", got)
	}
	if a := dr.GetAnnotations()[AnnotationExperimentSubsets]; a != `["ex-baseline","ex-canary"]` {
		t.Errorf("DestinationRule annotation %q", a)
	}
	vs, err := subsetCfg.VirtualService(vsFrom(t, subsetVS), ref, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := subsetDests(t, vs); got != "stable=90 canary=0 legacy=0 ex-baseline=5 ex-canary=5" {
		t.Errorf("route with the experiment: %s", got)
	}
	rs, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	if port, _, _ := unstructured.NestedFieldNoCopy(rs[0].(map[string]any)["route"].([]any)[3].(map[string]any), "destination", "port", "number"); fmt.Sprint(port) != "80" {
		t.Errorf("experiment destination port %v, want the canary's 80", port)
	}
	if a := vs.GetAnnotations()[AnnotationExperimentHosts]; a != `["ex-baseline","ex-canary"]` {
		t.Errorf("VirtualService annotation %q", a)
	}
	// Again (a new hash for one template): relabelled in place, nothing duplicated.
	d.Additional[1].PodTemplateHash = "hc2"
	if again, err := subsetCfg.ExperimentSubsets(dr, d, false); err != nil || subsetLabels(again) != strings.Replace(subsetLabels(dr), "hc]", "hc2]", 1) {
		t.Errorf("again: %v %s", err, subsetLabels(again))
	}
	if again, err := subsetCfg.VirtualService(vs, ref, d); err != nil || subsetDests(t, again) != subsetDests(t, vs) {
		t.Errorf("route again: %v", err)
	}
	// Over: the route first (keepOld leaves the subsets while a route may still send to them),
	// then the subsets; the user's legacy subset and destination stay.
	over := contract.Desired{Services: svc}
	if kept, err := subsetCfg.ExperimentSubsets(dr, over, true); err != nil || subsetLabels(kept) != subsetLabels(dr) {
		t.Errorf("keepOld removed subsets: %v %s", err, subsetLabels(kept))
	}
	doneVS, err := subsetCfg.VirtualService(vs, ref, over)
	if err != nil {
		t.Fatal(err)
	}
	if got := subsetDests(t, doneVS); got != "stable=100 canary=0 legacy=0" {
		t.Errorf("route after the experiment: %s", got)
	}
	doneDR, err := subsetCfg.ExperimentSubsets(dr, over, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := subsetLabels(doneDR); got != subsetLabels(vsFrom(t, subsetDR)) {
		t.Errorf("subsets after the experiment: %s", got)
	}
	if len(doneDR.GetAnnotations()) != 0 || len(doneVS.GetAnnotations()) != 0 {
		t.Errorf("annotations left: %v %v", doneDR.GetAnnotations(), doneVS.GetAnnotations())
	}
	// Cleanup of a DestinationRule this Rollout manages removes the experiment subsets too.
	managed, err := subsetCfg.DestinationRule(dr, "hc", "hs")
	if err != nil {
		t.Fatal(err)
	}
	if got := subsetLabels(subsetCfg.CleanDestinationRule(managed)); got != subsetLabels(vsFrom(t, subsetDR)) {
		t.Errorf("cleaned: %s", got)
	}
}

// A subset the user wrote with an experiment Service's name is neither taken over nor
// relabelled.
func TestExperimentSubsetNameTaken(t *testing.T) {
	dr := vsFrom(t, subsetDR)
	d := contract.Desired{Services: svc, Additional: []v1alpha1.WeightDestination{{ServiceName: "legacy", Weight: 5, PodTemplateHash: "h"}}}
	_, err := subsetCfg.ExperimentSubsets(dr, d, true)
	if ic, ok := contract.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, `already has a subset "legacy", which sluice did not add`) {
		t.Errorf("ExperimentSubsets = %v", err)
	}
	d.Additional[0].ServiceName, d.Additional[0].PodTemplateHash = "ex", ""
	if _, err := subsetCfg.ExperimentSubsets(dr, d, true); err == nil || !strings.Contains(err.Error(), "no pod-template hash") {
		t.Errorf("no hash: %v", err)
	}
}
