package rollout_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/acceptancedata"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// argoExample reads one of Argo Rollouts' example manifests (the acceptance data).
func argoExample(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	dir := acceptancedata.Dir(t)
	b, err := os.ReadFile(filepath.Join(dir, "argo-examples", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := routertest.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return objs
}

// applyArgo creates the objects in the test's namespace; cluster-scoped ones once per cluster.
func (e *env) applyArgo(objs []*unstructured.Unstructured) {
	e.t.Helper()
	var namespaced []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "ClusterAnalysisTemplate" {
			namespaced = append(namespaced, o)
			continue
		}
		if err := e.c.Create(e.t.Context(), o.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			e.t.Fatalf("creating ClusterAnalysisTemplate %s: %v", o.GetName(), err)
		}
	}
	routertest.Apply(e.t, e.c, e.ns, namespaced)
}

// Argo's analysis examples, applied unchanged, run here: job metrics (played by the local
// cluster; random-fail's $RANDOM script is not understood, so its Jobs exit 0), a
// ClusterAnalysisTemplate, background analysis, and a web metric whose URL comes from a
// Secret (pointed at a loopback server: there is no internet here).
func TestArgoAnalysisExamples(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.applyArgo(argoExample(t, "analysis-templates.yaml"))
	e.applyArgo(argoExample(t, "cluster-analysis-templates.yaml"))

	t.Run("analysis step", func(t *testing.T) {
		e.applyArgo(argoExample(t, "rollout-analysis-step.yaml"))
		e.waitHealthy("rollout-analysis-step", time.Minute)
		e.setImage("rollout-analysis-step", "argoproj/rollouts-demo:yellow")
		e.waitHealthy("rollout-analysis-step", 2*time.Minute)
		e.expectRun("rollout-analysis-step", "Step", v1alpha1.AnalysisPhaseSuccessful)
	})
	t.Run("background analysis", func(t *testing.T) {
		e.applyArgo(argoExample(t, "rollout-background-analysis.yaml"))
		e.waitHealthy("rollout-background-analysis", time.Minute)
		e.setImage("rollout-background-analysis", "argoproj/rollouts-demo:yellow")
		e.waitFor(time.Minute, func() string {
			st := e.rollout("rollout-background-analysis").Status
			if s := st.Canary.CurrentBackgroundAnalysisRunStatus; len(st.PauseConditions) == 0 || s == nil || s.Status != v1alpha1.AnalysisPhaseSuccessful {
				return fmt.Sprintf("waiting for the pause with a Successful background run: %s %+v", st.Phase, s)
			}
			return ""
		})
		e.statusPatch("rollout-background-analysis", `{"status":{"pauseConditions":null}}`)
		e.waitHealthy("rollout-background-analysis", time.Minute)
	})
	t.Run("secret", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"message":"It worked!"}`)
		}))
		t.Cleanup(srv.Close)
		objs := argoExample(t, "rollout-secret.yaml")
		sec := routertest.Find(t, objs, "Secret", "example-secret")
		if err := unstructured.SetNestedField(sec.Object, base64.StdEncoding.EncodeToString([]byte(srv.URL)), "data", "secretUrl"); err != nil {
			t.Fatal(err)
		}
		e.applyArgo(objs)
		e.waitHealthy("rollout-secret", time.Minute)
		e.setImage("rollout-secret", "argoproj/rollouts-demo:yellow")
		e.waitFor(time.Minute, func() string {
			st := e.rollout("rollout-secret").Status
			if ptr.Deref(st.CurrentStepIndex, 0) != 2 || len(st.PauseConditions) == 0 {
				return fmt.Sprintf("waiting for the pause after the analysis: step %d %s %q", ptr.Deref(st.CurrentStepIndex, 0), st.Phase, st.Message)
			}
			return ""
		})
		e.expectRun("rollout-secret", "Step", v1alpha1.AnalysisPhaseSuccessful)
	})
}

// expectRun checks that the Rollout's newest run of a type ended in the given phase.
func (e *env) expectRun(rollout, typ string, want v1alpha1.AnalysisPhase) {
	e.t.Helper()
	var got *v1alpha1.AnalysisRun
	for _, r := range e.runs() {
		if r.Labels[v1alpha1.LabelRolloutType] == typ && len(r.OwnerReferences) > 0 && r.OwnerReferences[0].Name == rollout {
			if got == nil || r.CreationTimestamp.After(got.CreationTimestamp.Time) {
				got = r.DeepCopy()
			}
		}
	}
	if got == nil || got.Status.Phase != want {
		e.t.Fatalf("%s: newest %s run %+v, want %s", rollout, typ, got, want)
	}
}

// Argo's blue-green example, applied unchanged: paused before the cut-over until promoted.
func TestArgoBlueGreenExample(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.applyArgo(argoExample(t, "rollout-bluegreen.yaml"))
	e.waitHealthy("rollout-bluegreen", time.Minute)
	e.setImage("rollout-bluegreen", "argoproj/rollouts-demo:green")
	e.waitFor(time.Minute, func() string {
		st := e.rollout("rollout-bluegreen").Status
		if len(st.PauseConditions) == 0 || st.PauseConditions[0].Reason != v1alpha1.PauseReasonBlueGreenPause || st.BlueGreen.PreviewSelector != st.CurrentPodHash {
			return fmt.Sprintf("waiting for BlueGreenPause with the preview on the new version: %s %+v", st.Phase, st.BlueGreen)
		}
		return ""
	})
	e.statusPatch("rollout-bluegreen", `{"status":{"pauseConditions":null}}`)
	ro := e.waitHealthy("rollout-bluegreen", time.Minute)
	if ro.Status.BlueGreen.ActiveSelector != ro.Status.CurrentPodHash {
		t.Fatalf("active selector %q after promotion", ro.Status.BlueGreen.ActiveSelector)
	}
}
