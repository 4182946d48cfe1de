package rollout_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// The scenario through Gateway API and Istio's host split: an experiment step with a
// baseline (stable template) and a canary (new template) at 5 % each and an analysis required
// for completion, which passes three measurements before it fails. Every state of the
// HTTPRoute's weighted rule (the VirtualService's weighted route) is either all on the stable
// or 90/5/5 with the canary at 0 while the experiment runs; when the analysis fails, the
// Rollout aborts, the Experiment is terminated, and the route goes back to 100 % stable
// without the experiment's backends.
func TestExperimentWithAnalysisThroughRouters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		kind       schema.GroupVersionKind
		read       func(*unstructured.Unstructured) map[string]string
	}{
		{"gateway-api", "examples/gatewayapi/rollout.yaml", httpRouteGV, func(u *unstructured.Unstructured) map[string]string { return ruleBackends(u, "main") }},
		{"istio-host-split", "examples/istio/host-split.yaml", vsGVK, func(u *unstructured.Unstructured) map[string]string { return routeDestinations(u, "primary") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			experimentWithAnalysis(t, tc.file, tc.kind, tc.read)
		})
	}
}

func experimentWithAnalysis(t *testing.T, file string, kind schema.GroupVersionKind, read func(*unstructured.Unstructured) map[string]string) {
	t.Helper()
	e := newEnv(t)
	if kind == httpRouteGV {
		go fakeGateway(t.Context(), e.c, e.ns) // (accepts the route, so the weights verify)
	}
	b := newBackend(t, "0.01")
	e.createObj(errorRateTemplate(b.srv.URL, 600, "result > 0.05"))
	objs := routertest.Load(t, file)
	steps := []any{
		map[string]any{"experiment": map[string]any{
			"scaleDownDelaySeconds": int64(0),
			"templates": []any{
				map[string]any{"name": "baseline", "specRef": "stable", "weight": int64(5)},
				map[string]any{"name": "canary", "specRef": "canary", "weight": int64(5)},
			},
			"analyses": []any{map[string]any{
				"name": "errors", "templateName": "error-rate", "requiredForCompletion": true,
				"args": []any{map[string]any{"name": "canary-hash", "valueFrom": map[string]any{"podTemplateHashValue": "Latest"}}},
			}},
		}},
		map[string]any{"setWeight": int64(50)},
	}
	for _, o := range objs {
		if o.GetKind() != "Rollout" {
			continue
		}
		if err := unstructured.SetNestedSlice(o.Object, steps, "spec", "strategy", "canary", "steps"); err != nil {
			t.Fatal(err)
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		containers[0].(map[string]any)["ports"] = []any{map[string]any{"containerPort": int64(80)}}
		if err := unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
	}
	routes := &unstructured.UnstructuredList{}
	routes.SetGroupVersionKind(kind.GroupVersion().WithKind(kind.Kind + "List"))
	current := func() map[string]string {
		u := e.get(kind, "my-app")
		if u == nil {
			return nil
		}
		return read(u)
	}
	routertest.Apply(t, e.c, e.ns, objs)
	e.waitHealthy("my-rollout", time.Minute)
	stream := e.watch(routes)
	e.setImage("my-rollout", "nginx:1.26")
	name := e.waitExperiment("my-rollout")
	during := map[string]string{"my-app-stable": "90", "my-app-canary": "0", name + "-baseline": "5", name + "-canary": "5"}
	stable := map[string]string{"my-app-stable": "100", "my-app-canary": "0"}
	e.waitFor(time.Minute, func() string {
		if got := current(); !maps.Equal(got, during) {
			return fmt.Sprintf("weights %v, want %v", got, during)
		}
		// The analysis passes three measurements (a second apart) with the weights in place.
		if runs := e.runs(); len(runs) != 1 || runs[0].Status.Phase != v1alpha1.AnalysisPhaseRunning ||
			len(runs[0].Status.MetricResults) == 0 || runs[0].Status.MetricResults[0].Successful < 3 {
			return fmt.Sprintf("waiting for the experiment's analysis to pass 3 measurements: %d runs", len(runs))
		}
		return ""
	})
	b.rate.Store("0.5")
	e.waitFor(time.Minute, func() string {
		ro := e.rollout("my-rollout")
		if !ro.Status.Abort || ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
			return fmt.Sprintf("waiting for the abort: %s %q", ro.Status.Phase, ro.Status.Message)
		}
		if got := current(); !maps.Equal(got, stable) {
			return fmt.Sprintf("weights after the abort %v, want %v", got, stable)
		}
		ex := e.experiment(name)
		if !ex.Spec.Terminate || ex.Status.Phase != v1alpha1.AnalysisPhaseFailed {
			return fmt.Sprintf("experiment terminate=%v phase %s", ex.Spec.Terminate, ex.Status.Phase)
		}
		for _, tmpl := range []string{"baseline", "canary"} {
			rs := &appsv1.ReplicaSet{}
			if err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: name + "-" + tmpl}, rs); err != nil || ptr.Deref(rs.Spec.Replicas, 1) != 0 {
				return fmt.Sprintf("experiment ReplicaSet %s not scaled down (%v)", tmpl, err)
			}
		}
		return ""
	})
	if ro := e.rollout("my-rollout"); ro.Status.Canary.Weights != nil && len(ro.Status.Canary.Weights.Additional) != 0 {
		t.Errorf("status weights after the abort %+v", ro.Status.Canary.Weights)
	}
	// Every state the route went through: all on the stable, or the experiment's 90/5/5.
	sawDuring := false
	states := stream.all()
	t.Logf("%d states of the %s observed", len(states), kind.Kind)
	for _, s := range states {
		got := read(s.Obj.(*unstructured.Unstructured))
		t.Logf("%s %s: %v", s.At.Format(time.StampMilli), s.Type, got)
		switch {
		case maps.Equal(got, during):
			sawDuring = true
		case maps.Equal(got, stable):
		default:
			t.Errorf("route state %s at %s: %v", s.Type, s.At.Format(time.StampMilli), got)
		}
	}
	if !sawDuring {
		t.Error("the watch never saw the experiment's weights")
	}
}

// routeDestinations reads a VirtualService's named HTTP route as host → weight.
func routeDestinations(vs *unstructured.Unstructured, route string) map[string]string {
	out := map[string]string{}
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	each(http, func(r map[string]any) {
		if r["name"] != route {
			return
		}
		dests, _, _ := unstructured.NestedSlice(r, "route")
		each(dests, func(d map[string]any) {
			host, _, _ := unstructured.NestedString(d, "destination", "host")
			out[host] = fmt.Sprint(d["weight"])
		})
	})
	return out
}

// ruleBackends reads an HTTPRoute's named rule as backend → weight.
func ruleBackends(hr *unstructured.Unstructured, rule string) map[string]string {
	out := map[string]string{}
	rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
	each(rules, func(r map[string]any) {
		if r["name"] != rule {
			return
		}
		refs, _, _ := unstructured.NestedSlice(r, "backendRefs")
		each(refs, func(b map[string]any) { out[fmt.Sprint(b["name"])] = fmt.Sprint(b["weight"]) })
	})
	return out
}
