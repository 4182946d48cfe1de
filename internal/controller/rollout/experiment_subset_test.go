package rollout_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

var drGVK = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}

// An experiment step with weighted templates through Istio's subset split: while the experiment
// runs, the DestinationRule has a subset per template, named after the template's Service and
// selecting its pod-template hash, and the weighted route sends 5 % to each (from the stable's
// share: 90/5/5, canary 0); on abort both are removed. A subset and a destination the user
// wrote stay as they were in every state. Both objects are watched on every event.
func TestExperimentThroughIstioSubsetSplit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	objs := routertest.Load(t, "examples/istio/subset-split.yaml")
	steps := []any{
		map[string]any{"experiment": map[string]any{
			"scaleDownDelaySeconds": int64(0),
			"templates": []any{
				map[string]any{"name": "baseline", "specRef": "stable", "weight": int64(5)},
				map[string]any{"name": "canary", "specRef": "canary", "weight": int64(5)},
			},
		}},
		map[string]any{"setWeight": int64(50)},
	}
	legacy := map[string]any{"name": "legacy", "labels": map[string]any{"version": "v0"}}
	for _, o := range objs {
		switch o.GetKind() {
		case "Rollout":
			must(t, unstructured.SetNestedSlice(o.Object, steps, "spec", "strategy", "canary", "steps"))
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			containers[0].(map[string]any)["ports"] = []any{map[string]any{"containerPort": int64(80)}}
			must(t, unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"))
		case "DestinationRule": // a subset the user wrote
			subsets, _, _ := unstructured.NestedSlice(o.Object, "spec", "subsets")
			must(t, unstructured.SetNestedSlice(o.Object, append(subsets, legacy), "spec", "subsets"))
		case "VirtualService": // and a destination the user wrote
			http, _, _ := unstructured.NestedSlice(o.Object, "spec", "http")
			route := http[0].(map[string]any)
			route["route"] = append(route["route"].([]any), map[string]any{"destination": map[string]any{"host": "my-app", "subset": "legacy"}, "weight": int64(0)})
			must(t, unstructured.SetNestedSlice(o.Object, http, "spec", "http"))
		}
	}
	vsList, drList := &unstructured.UnstructuredList{}, &unstructured.UnstructuredList{}
	vsList.SetGroupVersionKind(vsGVK.GroupVersion().WithKind("VirtualServiceList"))
	drList.SetGroupVersionKind(drGVK.GroupVersion().WithKind("DestinationRuleList"))
	routertest.Apply(t, e.c, e.ns, objs)
	e.waitHealthy("my-rollout", time.Minute)
	vsStream, drStream := e.watch(vsList), e.watch(drList)
	e.setImage("my-rollout", "nginx:1.26")
	name := e.waitExperiment("my-rollout")
	baseline, canary := name+"-baseline", name+"-canary"
	during := map[string]string{"stable": "90", "canary": "0", "legacy": "0", baseline: "5", canary: "5"}
	stable := map[string]string{"stable": "100", "canary": "0", "legacy": "0"}
	hashes := map[string]string{}
	e.waitFor(time.Minute, func() string {
		if got := subsetDestinations(e.get(vsGVK, "my-app"), "primary"); !maps.Equal(got, during) {
			return fmt.Sprintf("weights %v, want %v", got, during)
		}
		for _, ts := range e.experiment(name).Status.TemplateStatuses {
			hashes[name+"-"+ts.Name] = ts.PodTemplateHash
		}
		if hashes[baseline] == "" || hashes[canary] == "" {
			return fmt.Sprintf("template hashes %v", hashes)
		}
		return ""
	})
	e.statusPatch("my-rollout", `{"status":{"abort":true}}`)
	e.waitFor(time.Minute, func() string {
		if got := subsetDestinations(e.get(vsGVK, "my-app"), "primary"); !maps.Equal(got, stable) {
			return fmt.Sprintf("weights after the abort %v, want %v", got, stable)
		}
		if got := drSubsets(e.get(drGVK, "my-app")); len(got) != 3 {
			return fmt.Sprintf("subsets after the abort %v", got)
		}
		return ""
	})
	dr := e.get(drGVK, "my-app")
	if a := dr.GetAnnotations()["sluice.dev/experiment-subsets"]; a != "" {
		t.Errorf("DestinationRule annotation left after the abort: %q", a)
	}
	if a := e.get(vsGVK, "my-app").GetAnnotations()["sluice.dev/experiment-destinations"]; a != "" {
		t.Errorf("VirtualService annotation left after the abort: %q", a)
	}

	// Every state of the route: all on the stable, or the experiment's 90/5/5.
	// (vsOn, vsOff: the resourceVersions of the route's first state with the experiment and of
	// the first without it after that; drOn, drOff: the same for the DestinationRule.)
	sawDuring := false
	var vsOn, vsOff, drOn, drOff int64
	for _, s := range vsStream.all() {
		got := subsetDestinations(s.Obj.(*unstructured.Unstructured), "primary")
		t.Logf("VirtualService %s %s: %v", s.At.Format(time.StampMilli), s.Type, got)
		switch {
		case maps.Equal(got, during):
			sawDuring = true
			vsOn = cmp.Or(vsOn, rv(s))
		case maps.Equal(got, stable):
			if vsOn != 0 {
				vsOff = cmp.Or(vsOff, rv(s))
			}
		default:
			t.Errorf("route state %s at %s: %v", s.Type, s.At.Format(time.StampMilli), got)
		}
	}
	// Every state of the DestinationRule: the user's subset unchanged; the experiment's subsets
	// both or neither, each selecting its template's pod-template hash alone.
	sawSubsets := false
	wantLegacy := `{"version":"v0"}`
	for _, s := range drStream.all() {
		got := drSubsets(s.Obj.(*unstructured.Unstructured))
		t.Logf("DestinationRule %s %s: %v", s.At.Format(time.StampMilli), s.Type, got)
		if got["legacy"] != wantLegacy || got["stable"] == "" || got["canary"] == "" {
			t.Errorf("user subsets changed at %s: %v", s.At.Format(time.StampMilli), got)
		}
		_, hasB := got[baseline]
		_, hasC := got[canary]
		switch {
		case hasB && hasC:
			sawSubsets = true
			drOn = cmp.Or(drOn, rv(s))
			for _, n := range []string{baseline, canary} {
				if want := fmt.Sprintf(`{%q:%q}`, v1alpha1.LabelPodTemplateHash, hashes[n]); got[n] != want {
					t.Errorf("subset %s selects %s, want %s", n, got[n], want)
				}
			}
		case hasB || hasC || len(got) != 3:
			t.Errorf("DestinationRule state %s at %s: %v", s.Type, s.At.Format(time.StampMilli), got)
		case drOn != 0:
			drOff = cmp.Or(drOff, rv(s))
		}
	}
	if !sawDuring || !sawSubsets {
		t.Errorf("the watches never saw the experiment: weights %v, subsets %v", sawDuring, sawSubsets)
	}
	// The subsets exist before the route sends to them and go only after it no longer does
	// (resourceVersions: etcd's revisions, one sequence for every object).
	if drOn >= vsOn || vsOff >= drOff {
		t.Errorf("order: subsets added at %d, route at %d; route back at %d, subsets removed at %d", drOn, vsOn, vsOff, drOff)
	}
}

// subsetDestinations reads a VirtualService's named HTTP route as subset → weight.
func subsetDestinations(vs *unstructured.Unstructured, route string) map[string]string {
	out := map[string]string{}
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	each(http, func(r map[string]any) {
		if r["name"] != route {
			return
		}
		dests, _, _ := unstructured.NestedSlice(r, "route")
		each(dests, func(d map[string]any) {
			host, _, _ := unstructured.NestedString(d, "destination", "host")
			subset, _, _ := unstructured.NestedString(d, "destination", "subset")
			if host != "my-app" {
				subset = host + "@" + subset // (a wrong host shows)
			}
			out[subset] = fmt.Sprint(d["weight"])
		})
	})
	return out
}

// drSubsets reads a DestinationRule's subsets as name → labels (JSON).
func drSubsets(dr *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	subsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
	each(subsets, func(s map[string]any) {
		b, _ := json.Marshal(s["labels"])
		out[fmt.Sprint(s["name"])] = string(b)
	})
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
