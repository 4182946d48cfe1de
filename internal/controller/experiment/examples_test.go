package experiment_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/acceptancedata"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

func (e *env) apply(objs ...[]*unstructured.Unstructured) {
	e.t.Helper()
	for _, o := range objs {
		routertest.Apply(e.t, e.c, e.ns, o)
	}
}

func (e *env) rollout(name string) *v1alpha1.Rollout {
	e.t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := e.get(name, ro); err != nil {
		e.t.Fatal(err)
	}
	return ro
}

func (e *env) setImage(name, image string) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if err := e.c.Patch(e.t.Context(), ro, patch); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitRollout(name string, cond func(ro *v1alpha1.Rollout) string) *v1alpha1.Rollout {
	e.t.Helper()
	var ro *v1alpha1.Rollout
	devclustertest.Eventually(e.t, 2*time.Minute, func() string {
		ro = e.rollout(name)
		return cond(ro)
	})
	return ro
}

func healthyAt(generation int64) func(ro *v1alpha1.Rollout) string {
	return func(ro *v1alpha1.Rollout) string {
		st := ro.Status
		if st.Phase != v1alpha1.RolloutPhaseHealthy || st.StableRS != st.CurrentPodHash || st.ObservedGeneration != fmt.Sprint(generation) {
			return fmt.Sprintf("rollout %s: %s %q, step %v", ro.Name, st.Phase, st.Message, st.CurrentStepIndex)
		}
		return ""
	}
}

// examples/experiments, applied as they are: the standalone Experiment passes its smoke test
// against the canary template's pods and ends Successful; the Rollout runs its experiment step
// and completes.
func TestExamplesExperiments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(routertest.Load(t, "examples/experiments/analysis-template.yaml"), routertest.Load(t, "examples/experiments/experiment.yaml"),
		routertest.Load(t, "examples/experiments/rollout-experiment-step.yaml"))
	e.waitRollout("my-app", healthyAt(1))
	e.setImage("my-app", "nginx:1.26")

	ex := e.waitPhase("baseline-vs-canary", v1alpha1.AnalysisPhaseSuccessful, 2*time.Minute)
	if len(ex.Status.AnalysisRuns) != 1 || ex.Status.AnalysisRuns[0].Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("standalone analyses %+v", ex.Status.AnalysisRuns)
	}
	run := &v1alpha1.AnalysisRun{}
	if err := e.get("baseline-vs-canary-canary-smoke", run); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{}
	if err := e.get("baseline-vs-canary-canary", rs); err != nil {
		t.Fatal(err)
	}
	if a := run.Spec.Args; len(a) != 1 || a[0].Value == nil || *a[0].Value != rs.Labels[v1alpha1.LabelPodTemplateHash] {
		t.Errorf("smoke test args %+v, want the canary template's hash %s", a, rs.Labels[v1alpha1.LabelPodTemplateHash])
	}

	ro := e.waitRollout("my-app", healthyAt(2))
	name := fmt.Sprintf("my-app-%s-2-1", ro.Status.StableRS)
	if ex := e.experiment(name); ex.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || ex.Status.Message != "Required AnalysisRuns completed" && ex.Status.Message != "" {
		t.Errorf("the step's experiment %s: %s %q", name, ex.Status.Phase, ex.Status.Message)
	}
}

func argoExample(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(acceptancedata.Dir(t), "argo-examples", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := routertest.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return objs
}

// Argo Rollouts' experiment examples, applied unchanged (their job metrics are played by the
// local cluster, where random-fail's $RANDOM script exits 0). Without a duration and without
// requiredForCompletion analyses an Experiment runs until it is terminated, in Argo as here:
// the standalone one runs with both analyses Successful, the Rollout waits at its experiment
// step; terminating the experiment lets the Rollout go on.
func TestArgoExperimentExamples(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(argoExample(t, "analysis-templates.yaml"), argoExample(t, "experiment-with-analysis.yaml"), argoExample(t, "rollout-experiment-step.yaml"))

	devclustertest.Eventually(t, 2*time.Minute, func() string {
		ex := e.experiment("experiment-with-analysis")
		if ex.Status.Phase != v1alpha1.AnalysisPhaseRunning || len(ex.Status.AnalysisRuns) != 2 ||
			ex.Status.AnalysisRuns[0].Phase != v1alpha1.AnalysisPhaseSuccessful || ex.Status.AnalysisRuns[1].Phase != v1alpha1.AnalysisPhaseSuccessful {
			return fmt.Sprintf("experiment-with-analysis: %s, analyses %+v", ex.Status.Phase, ex.Status.AnalysisRuns)
		}
		return ""
	})
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"terminate":true}}`))
	if err := e.c.Patch(t.Context(), e.experiment("experiment-with-analysis"), patch); err != nil {
		t.Fatal(err)
	}
	e.waitPhase("experiment-with-analysis", v1alpha1.AnalysisPhaseSuccessful, time.Minute)

	e.waitRollout("rollout-experiment-step", healthyAt(1))
	e.setImage("rollout-experiment-step", "argoproj/rollouts-demo:yellow")
	var name string
	e.waitRollout("rollout-experiment-step", func(ro *v1alpha1.Rollout) string {
		name = ro.Status.Canary.CurrentExperiment
		if name == "" {
			return fmt.Sprintf("no experiment: %s %q", ro.Status.Phase, ro.Status.Message)
		}
		if ex := e.experiment(name); ex.Status.Phase != v1alpha1.AnalysisPhaseRunning || len(ex.Status.AnalysisRuns) != 1 || ex.Status.AnalysisRuns[0].Phase != v1alpha1.AnalysisPhaseSuccessful {
			return fmt.Sprintf("experiment %s: %s %+v", name, ex.Status.Phase, ex.Status.AnalysisRuns)
		}
		return ""
	})
	if err := e.c.Patch(t.Context(), e.experiment(name), patch); err != nil {
		t.Fatal(err)
	}
	e.waitRollout("rollout-experiment-step", healthyAt(2))
}
