package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// experimentStep is a baseline (stable template) next to a canary (new template), 1 pod each.
func experimentStep(duration string, analyses ...v1alpha1.RolloutExperimentStepAnalysisTemplateRef) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Experiment: &v1alpha1.RolloutExperimentStep{
		Duration: v1alpha1.DurationString(duration), ScaleDownDelaySeconds: new(int32(0)),
		Templates: []v1alpha1.RolloutExperimentTemplate{
			{Name: "baseline", SpecRef: v1alpha1.StableSpecRef},
			{Name: "canary", SpecRef: v1alpha1.CanarySpecRef},
		},
		Analyses: analyses,
	}}
}

func (e *env) experiments() []v1alpha1.Experiment {
	e.t.Helper()
	var list v1alpha1.ExperimentList
	if err := e.c.List(e.t.Context(), &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func (e *env) experiment(name string) *v1alpha1.Experiment {
	e.t.Helper()
	ex := &v1alpha1.Experiment{}
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, ex); err != nil {
		e.t.Fatal(err)
	}
	return ex
}

// waitExperiment waits for the Rollout to run the Experiment of its current step and returns
// its name.
func (e *env) waitExperiment(rollout string) string {
	e.t.Helper()
	name := ""
	e.waitFor(time.Minute, func() string {
		ro := e.rollout(rollout)
		name = ro.Status.Canary.CurrentExperiment
		if name == "" || len(e.experiments()) == 0 {
			return fmt.Sprintf("no experiment yet: step %d, phase %s %q", ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.Phase, ro.Status.Message)
		}
		return ""
	})
	return name
}

// A canary with an experiment step creates the Experiment with Argo's name (baseline from the
// stable template, canary from the new one), waits at the step while it runs, and goes on to
// promotion once it is Successful.
func TestExperimentStepRunsAndContinues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "my-rollout", 2, setWeight(50), experimentStep("3s"), setWeight(100)))
	e.waitHealthy("my-rollout", time.Minute)
	e.setImage("my-rollout", "nginx:1.26")
	name := e.waitExperiment("my-rollout")
	ro := e.rollout("my-rollout")
	if want := fmt.Sprintf("my-rollout-%s-2-1", ro.Status.CurrentPodHash); name != want || ptr.Deref(ro.Status.CurrentStepIndex, -1) != 1 {
		t.Fatalf("experiment %q at step %d, want %s at step 1", name, ptr.Deref(ro.Status.CurrentStepIndex, -1), want)
	}
	ex := e.experiment(name)
	if ref := metav1.GetControllerOf(ex); ref == nil || ref.Name != "my-rollout" || ex.Labels[v1alpha1.LabelPodTemplateHash] != ro.Status.CurrentPodHash ||
		ex.Annotations[v1alpha1.AnnotationRevision] != "2" {
		t.Errorf("experiment metadata %+v", ex.ObjectMeta)
	}
	images := map[string]string{}
	for _, tmpl := range ex.Spec.Templates {
		images[tmpl.Name] = tmpl.Template.Spec.Containers[0].Image
	}
	if images["baseline"] != "nginx:1.25" || images["canary"] != "nginx:1.26" {
		t.Errorf("experiment images %v, want the stable's for baseline and the new one's for canary", images)
	}
	// It waits for the experiment (3 s once its pods are up), then completes.
	ro = e.waitHealthy("my-rollout", 2*time.Minute)
	ex = e.experiment(name)
	if ex.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || ex.Spec.Terminate {
		t.Fatalf("experiment after the rollout: %s terminate=%v", ex.Status.Phase, ex.Spec.Terminate)
	}
	if ro.Status.Canary.CurrentExperiment != "" {
		t.Errorf("currentExperiment %q after promotion", ro.Status.Canary.CurrentExperiment)
	}
	rs := &appsv1.ReplicaSet{}
	if err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: name + "-canary"}, rs); err != nil {
		t.Fatal(err)
	}
	if ro.Status.Conditions == nil || ex.Status.AvailableAt == nil {
		t.Fatal("no status")
	}
	if done := condition(ro, v1alpha1.RolloutCompleted); done == nil || done.LastTransitionTime.Before(&metav1.Time{Time: ex.Status.AvailableAt.Add(3 * time.Second)}) {
		t.Errorf("the Rollout completed at %v, before the experiment's 3 s from %v", done, ex.Status.AvailableAt)
	}
}

// An experiment whose required analysis fails aborts the Rollout with the analysis's message.
func TestFailingExperimentAbortsTheRollout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t, "0.5")
	e.createObj(errorRateTemplate(b.srv.URL, 2, ""))
	step := experimentStep("", v1alpha1.RolloutExperimentStepAnalysisTemplateRef{
		Name: "errors", TemplateName: "error-rate", RequiredForCompletion: true,
		Args: []v1alpha1.AnalysisRunArgument{{Name: "canary-hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: new(v1alpha1.Latest)}}},
	})
	e.create(canaryRollout(t, "my-rollout", 2, setWeight(50), step, setWeight(100)))
	e.waitHealthy("my-rollout", time.Minute)
	e.setImage("my-rollout", "nginx:1.26")
	name := e.waitExperiment("my-rollout")
	e.waitFor(2*time.Minute, func() string {
		ro := e.rollout("my-rollout")
		if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || !ro.Status.Abort {
			return fmt.Sprintf("waiting for the abort: %s %q; experiment %s", ro.Status.Phase, ro.Status.Message, e.experiment(name).Status.Phase)
		}
		return ""
	})
	ro := e.rollout("my-rollout")
	if !strings.Contains(ro.Status.Message, `Metric "error-rate" assessed Failed`) {
		t.Errorf("abort message %q does not say why", ro.Status.Message)
	}
	if ex := e.experiment(name); ex.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("experiment %s", ex.Status.Phase)
	}
	e.waitPods("my-rollout", 0, 2, v1alpha1.RolloutPhaseDegraded)
}

// Aborting the Rollout while its experiment runs terminates the Experiment, which scales its
// pods down.
func TestAbortTerminatesTheExperiment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "my-rollout", 2, setWeight(50), experimentStep("1h"), setWeight(100)))
	e.waitHealthy("my-rollout", time.Minute)
	e.setImage("my-rollout", "nginx:1.26")
	name := e.waitExperiment("my-rollout")
	e.waitFor(time.Minute, func() string {
		if ex := e.experiment(name); ex.Status.Phase != v1alpha1.AnalysisPhaseRunning {
			return fmt.Sprintf("experiment %s", ex.Status.Phase)
		}
		return ""
	})
	e.statusPatch("my-rollout", `{"status":{"abort":true}}`)
	e.waitFor(time.Minute, func() string {
		ex := e.experiment(name)
		if !ex.Spec.Terminate || ex.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
			return fmt.Sprintf("experiment terminate=%v phase %s", ex.Spec.Terminate, ex.Status.Phase)
		}
		for _, tmpl := range []string{"baseline", "canary"} {
			rs := &appsv1.ReplicaSet{}
			if err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: name + "-" + tmpl}, rs); err != nil || ptr.Deref(rs.Spec.Replicas, 1) != 0 {
				return fmt.Sprintf("%s not scaled down (%v)", tmpl, err)
			}
		}
		return ""
	})
	if ro := e.rollout("my-rollout"); ro.Status.Canary.CurrentExperiment != "" {
		t.Errorf("currentExperiment %q after the abort", ro.Status.Canary.CurrentExperiment)
	}
}

// splitBackends reads the SMI TrafficSplit's backends as service → weight.
func (e *env) splitBackends() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	ts := e.get(splitGVK, "my-app")
	if ts == nil {
		return out
	}
	backends, _, _ := unstructured.NestedSlice(ts.Object, "spec", "backends")
	each(backends, func(b map[string]any) { out[fmt.Sprint(b["service"])] = fmt.Sprint(b["weight"]) })
	return out
}

// primaryDestinations reads the Istio VirtualService's route "primary" as host → weight.
func (e *env) primaryDestinations() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	vs := e.get(vsGVK, "my-app")
	if vs == nil {
		return out
	}
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	each(http, func(r map[string]any) {
		if r["name"] != "primary" {
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

// mainRuleBackends reads the Gateway API HTTPRoute's rule "main" as backend → weight.
func (e *env) mainRuleBackends() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	hr := e.get(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}, "my-app")
	if hr == nil {
		return out
	}
	rules, _, _ := unstructured.NestedSlice(hr.Object, "spec", "rules")
	each(rules, func(r map[string]any) {
		if r["name"] != "main" {
			return
		}
		refs, _, _ := unstructured.NestedSlice(r, "backendRefs")
		each(refs, func(b map[string]any) { out[fmt.Sprint(b["name"])] = fmt.Sprint(b["weight"]) })
	})
	return out
}

// With SMI, Istio's host split and Gateway API, an experiment step whose templates have a weight sends
// each template's Service exactly its share while the experiment runs (taken from the
// stable's), reports it in status.canary.weights.additional, and gives it back when the step
// is over.
func TestExperimentWeightsThroughRouters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		read       func(e *env) map[string]string
		gateway    bool
	}{
		{"smi", "examples/smi/rollout.yaml", (*env).splitBackends, false},
		{"istio-host-split", "examples/istio/host-split.yaml", (*env).primaryDestinations, false},
		{"gateway-api", "examples/gatewayapi/rollout.yaml", (*env).mainRuleBackends, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.gateway {
				go fakeGateway(t.Context(), e.c, e.ns) // (accepts the route, so the weights verify)
			}
			objs := routertest.Load(t, tc.file)
			steps := []any{
				map[string]any{"setWeight": int64(20)},
				map[string]any{"experiment": map[string]any{
					"duration": "8s", "scaleDownDelaySeconds": int64(10),
					"templates": []any{
						map[string]any{"name": "baseline", "specRef": "stable", "weight": int64(5)},
						map[string]any{"name": "canary", "specRef": "canary", "weight": int64(5)},
					},
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
			routertest.Apply(t, e.c, e.ns, objs)
			e.waitHealthy("my-rollout", time.Minute)
			e.setImage("my-rollout", "nginx:1.26")
			name := e.waitExperiment("my-rollout")
			e.waitFor(time.Minute, func() string {
				b := tc.read(e)
				ws := e.rollout("my-rollout").Status.Canary.Weights
				if b[name+"-baseline"] != "5" || b[name+"-canary"] != "5" || b["my-app-canary"] != "20" || b["my-app-stable"] != "70" ||
					ws == nil || len(ws.Additional) != 2 || ws.Stable.Weight != 70 || ws.Additional[0].PodTemplateHash == "" {
					return fmt.Sprintf("router weights %v, status weights %+v", b, ws)
				}
				return ""
			})
			e.waitHealthy("my-rollout", 2*time.Minute)
			e.waitFor(time.Minute, func() string {
				b := tc.read(e)
				if len(b) != 2 || b["my-app-stable"] != "100" {
					return fmt.Sprintf("weights after the experiment %v", b)
				}
				return ""
			})
			if ws := e.rollout("my-rollout").Status.Canary.Weights; ws == nil || len(ws.Additional) != 0 {
				t.Errorf("status weights after the experiment %+v", ws)
			}
		})
	}
}

// Argo Rollouts' experiment-step examples, applied unchanged: after an update each Rollout runs
// its experiment (with the template's weight on its router, status.canary.weights.additional,
// for the traffic-routing ones), and completes once the experiment (which has no duration) is
// terminated.
func TestArgoExperimentStepExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, rollout string
		additional    int
	}{
		{"traffic-routing-experiment-step/rollout-smi-experiment-step.yaml", "rollout-smi-experiment", 1},
		{"traffic-routing-experiment-step/istio-host-split-experiment-step.yaml", "istio-host-split", 1},
		{"traffic-routing-experiment-step/rollout-alb-experiment-step.yaml", "alb-rollout", 1},
		{"rollout-baseline-vs-canary.yaml", "rollout-baseline-vs-canary", 0},
		{"rollout-canary-preview.yaml", "rollout-canary-preview", 0},
	} {
		t.Run(tc.rollout, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.applyArgo(argoExample(t, tc.file))
			e.waitHealthy(tc.rollout, time.Minute)
			e.setImage(tc.rollout, "argoproj/rollouts-demo:yellow")
			var name string
			e.waitFor(time.Minute, func() string {
				st := e.rollout(tc.rollout).Status
				name = st.Canary.CurrentExperiment
				ws := st.Canary.Weights
				if name == "" || (tc.additional > 0 && (ws == nil || len(ws.Additional) != tc.additional || ws.Additional[0].ServiceName == "")) {
					return fmt.Sprintf("waiting for the experiment (and its weight): %s %q, experiment %q, weights %+v", st.Phase, st.Message, name, ws)
				}
				if ex := e.experiment(name); ex.Status.Phase != v1alpha1.AnalysisPhaseRunning {
					return fmt.Sprintf("experiment %s %s %q", name, ex.Status.Phase, ex.Status.Message)
				}
				return ""
			})
			ex := e.experiment(name)
			patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"terminate":true}}`))
			if err := e.c.Patch(t.Context(), ex, patch); err != nil {
				t.Fatal(err)
			}
			e.waitHealthy(tc.rollout, 2*time.Minute)
			if ws := e.rollout(tc.rollout).Status.Canary.Weights; ws != nil && len(ws.Additional) != 0 {
				t.Errorf("weights after the experiment %+v", ws)
			}
		})
	}
}
