package rollout_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// backend is a real HTTP server on loopback that reports the canary's error rate, which the
// test sets, the way a metrics API would.
type backend struct {
	rate atomic.Value // string
	srv  *httptest.Server
}

func newBackend(t *testing.T, rate string) *backend {
	t.Helper()
	b := &backend{}
	b.rate.Store(rate)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errorRate":%s,"hash":%q}`, b.rate.Load(), r.URL.Query().Get("hash"))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// errorRateTemplate measures the canary's error rate through the web provider, count times a
// second apart.
func errorRateTemplate(url string, count int32, failure string) *v1alpha1.AnalysisTemplate {
	n := intstr.FromInt32(count)
	return &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "error-rate"},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "canary-hash"}},
			Metrics: []v1alpha1.Metric{{
				Name: "error-rate", Interval: "1s", Count: &n,
				SuccessCondition: "result <= 0.05", FailureCondition: failure,
				Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{
					URL: url + "/?hash={{args.canary-hash}}", JSONPath: "{$.errorRate}",
				}},
			}},
		},
	}
}

func analysisRef() map[string]any {
	return map[string]any{
		"templates": []any{map[string]any{"templateName": "error-rate"}},
		"args":      []any{map[string]any{"name": "canary-hash", "valueFrom": map[string]any{"podTemplateHashValue": "Latest"}}},
	}
}

func (e *env) createObj(o client.Object) {
	e.t.Helper()
	o.SetNamespace(e.ns)
	if err := e.c.Create(e.t.Context(), o); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) runs() []v1alpha1.AnalysisRun {
	e.t.Helper()
	var list v1alpha1.AnalysisRunList
	if err := e.c.List(e.t.Context(), &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// noOverload replays every state the API server wrote and fails at the first where traffic
// reaches a version without the pods for it.
func noOverload(t *testing.T, replicas int32, streams ...*stream) {
	t.Helper()
	w := &replay{rs: map[string]*appsv1.ReplicaSet{}, selector: map[string]string{}, canary: -1}
	for _, ev := range timeline(streams...) {
		w.apply(ev)
		if o := w.overloaded(replicas); o != "" {
			t.Fatalf("at resourceVersion %d: %s", rv(ev), o)
		}
	}
}

// An analysis step with a real backend: a healthy canary passes and completes; the same canary
// at 20 % errors fails it, the Rollout aborts (weight back to the stable before a canary pod
// goes), and is Degraded with a message that names the metric and the value.
func TestAnalysisStepPassesThenAborts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t, "0")
	e.createObj(errorRateTemplate(b.srv.URL, 2, ""))
	steps := []any{map[string]any{"setWeight": int64(20)}, map[string]any{"analysis": analysisRef()}, map[string]any{"setWeight": int64(60)}}
	rsS, svcS, splitS := smiRollout(t, e, 5, steps, nil)

	e.setImage("my-rollout", "nginx:1.26")
	ro := e.waitHealthy("my-rollout", 2*time.Minute)
	runs := e.runs()
	if len(runs) != 1 || runs[0].Name != fmt.Sprintf("my-rollout-%s-2-1", ro.Status.StableRS) || runs[0].Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("runs after a passing analysis: %+v", runNames(runs))
	}
	ar := runs[0]
	if ar.Labels[v1alpha1.LabelRolloutType] != "Step" || ar.Labels[v1alpha1.LabelStepIndex] != "1" || ar.Labels[v1alpha1.LabelPodTemplateHash] != ro.Status.StableRS ||
		ar.Annotations[v1alpha1.AnnotationRevision] != "2" || metav1.GetControllerOf(&ar) == nil || metav1.GetControllerOf(&ar).Name != "my-rollout" {
		t.Errorf("run labels %v annotations %v owner %v", ar.Labels, ar.Annotations, ar.OwnerReferences)
	}
	if a := ar.Spec.Args; len(a) != 1 || a[0].Value == nil || *a[0].Value != ro.Status.StableRS {
		t.Errorf("podTemplateHashValue Latest resolved to %+v, want %s", a, ro.Status.StableRS)
	}

	b.rate.Store("0.2")
	e.setImage("my-rollout", "nginx:1.27")
	e.waitFor(2*time.Minute, func() string {
		ro := e.rollout("my-rollout")
		running, _ := e.pods(map[string]string{"app": "my-app"})
		if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || running[ro.Status.CurrentPodHash] > 0 {
			return fmt.Sprintf("waiting for the abort: %s %q, pods %s", ro.Status.Phase, ro.Status.Message, counts(running))
		}
		return ""
	})
	st := e.rollout("my-rollout").Status
	if !st.Abort || !strings.Contains(st.Message, `Metric "error-rate" assessed Failed`) || !strings.Contains(st.Message, "last value 0.2") {
		t.Fatalf("abort message %q does not name the metric and the value", st.Message)
	}
	if s := st.Canary.CurrentStepAnalysisRunStatus; s == nil || s.Status != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("currentStepAnalysisRunStatus %+v", s)
	}
	if w := st.Canary.Weights; w == nil || w.Canary.Weight != 0 {
		t.Errorf("canary weight after the abort: %+v", w)
	}
	noOverload(t, 5, rsS, svcS, splitS)

	// Retry with a healthy canary: a new run, and the update completes.
	b.rate.Store("0.01")
	e.statusPatch("my-rollout", `{"status":{"abort":false}}`)
	ro = e.waitHealthy("my-rollout", 2*time.Minute)
	if got := runNames(e.runs()); !strings.Contains(got, fmt.Sprintf("my-rollout-%s-3-1.1", ro.Status.StableRS)) {
		t.Errorf("runs after the retry: %s", got)
	}
}

func runNames(runs []v1alpha1.AnalysisRun) string {
	var s []string
	for _, r := range runs {
		s = append(s, fmt.Sprintf("%s=%s(terminate=%v)", r.Name, r.Status.Phase, r.Spec.Terminate))
	}
	return strings.Join(s, " ")
}

// Background analysis from step 2 that turns bad while the Rollout waits at a pause: it aborts
// mid-way; dry-run metrics that fail never change the outcome.
func TestBackgroundAnalysisAbortsMidway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t, "0")
	tpl := errorRateTemplate(b.srv.URL, 0, "")
	tpl.Spec.Metrics[0].Count = nil // runs until the Rollout ends it
	dry := *tpl.Spec.Metrics[0].DeepCopy()
	dry.Name, dry.SuccessCondition = "always-fails", "result > 1"
	tpl.Spec.Metrics = append(tpl.Spec.Metrics, dry)
	tpl.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "always-fails"}}
	e.createObj(tpl)
	steps := []any{
		map[string]any{"setWeight": int64(20)}, map[string]any{"pause": map[string]any{"duration": "2s"}},
		map[string]any{"setWeight": int64(40)}, map[string]any{"pause": map[string]any{}},
	}
	bg := analysisRef()
	bg["startingStep"] = int64(2)
	rsS, svcS, splitS := smiRollout(t, e, 5, steps, map[string]any{"analysis": bg})

	e.setImage("my-rollout", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		st := e.rollout("my-rollout").Status
		s := st.Canary.CurrentBackgroundAnalysisRunStatus
		if ptr.Deref(st.CurrentStepIndex, 0) != 3 || s == nil || s.Status != v1alpha1.AnalysisPhaseRunning {
			return fmt.Sprintf("waiting for the pause at 40%% with the background run going: step %d, %+v", ptr.Deref(st.CurrentStepIndex, 0), s)
		}
		return ""
	})
	time.Sleep(2 * time.Second) // a few good measurements (and failing dry-run ones)
	if st := e.rollout("my-rollout").Status; st.Abort {
		t.Fatalf("a failing dry-run metric aborted the Rollout: %q", st.Message)
	}
	b.rate.Store("0.3")
	e.waitFor(time.Minute, func() string {
		ro := e.rollout("my-rollout")
		running, _ := e.pods(map[string]string{"app": "my-app"})
		if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || running[ro.Status.CurrentPodHash] > 0 {
			return fmt.Sprintf("waiting for the abort: %s %q, pods %s", ro.Status.Phase, ro.Status.Message, counts(running))
		}
		return ""
	})
	if msg := e.rollout("my-rollout").Status.Message; !strings.Contains(msg, "last value 0.3") || strings.Contains(msg, "always-fails") {
		t.Errorf("abort message %q", msg)
	}
	noOverload(t, 5, rsS, svcS, splitS)
}

// An inconclusive result pauses the Rollout; promote runs the analysis again, which passes.
func TestInconclusiveAnalysisPauses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t, "0.2") // between success (≤ 0.05) and failure (> 0.5)
	e.createObj(errorRateTemplate(b.srv.URL, 1, "result > 0.5"))
	steps := []any{map[string]any{"setWeight": int64(20)}, map[string]any{"analysis": analysisRef()}}
	smiRollout(t, e, 3, steps, nil)
	e.setImage("my-rollout", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		st := e.rollout("my-rollout").Status
		if st.Phase != v1alpha1.RolloutPhasePaused || len(st.PauseConditions) != 1 || st.PauseConditions[0].Reason != v1alpha1.PauseReasonInconclusiveAnalysis {
			return fmt.Sprintf("waiting for the inconclusive pause: %s %q %+v", st.Phase, st.Message, st.PauseConditions)
		}
		return ""
	})
	b.rate.Store("0")
	e.statusPatch("my-rollout", `{"status":{"pauseConditions":null}}`) // kubectl argo rollouts promote
	e.waitHealthy("my-rollout", time.Minute)
	if got := e.runs(); len(got) != 2 {
		t.Errorf("runs: %s; want the inconclusive one and a second", runNames(got))
	}
}

// jobTemplate runs a Job per measurement; the local cluster plays out its shell command.
func jobTemplate(script string, deadline int64) *v1alpha1.AnalysisTemplate {
	js := v1alpha1.JobSpec{BackoffLimit: new(int32(0))}
	if deadline > 0 {
		js.ActiveDeadlineSeconds = &deadline
	}
	js.Template.Spec.RestartPolicy = "Never"
	js.Template.Spec.Containers = []corev1.Container{{Name: "check", Image: "busybox", Command: []string{"sh", "-c", script}}}
	return &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
		Spec:       v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{Name: "smoke-test", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Spec: js}}}}},
	}
}

// The job provider passes and fails the same Rollout both ways, and a Job that runs past its
// activeDeadlineSeconds fails it.
func TestJobAnalysis(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tpl := jobTemplate("sleep 1 && exit 0", 0)
	e.createObj(tpl)
	step := v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "smoke"}}}}
	e.create(canaryRollout(t, "jobs", 2, setWeight(50), step))
	e.waitHealthy("jobs", time.Minute)

	e.setImage("jobs", "nginx:1.26")
	e.waitHealthy("jobs", time.Minute)

	for _, tc := range []struct {
		script   string
		deadline int64
		image    string
		want     string
	}{
		{"sleep 1 && exit 1", 0, "nginx:1.27", "BackoffLimitExceeded"},
		{"sleep infinity", 2, "nginx:1.28", "DeadlineExceeded"},
	} {
		cur := &v1alpha1.AnalysisTemplate{}
		if err := e.c.Get(t.Context(), client.ObjectKey{Namespace: e.ns, Name: "smoke"}, cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec = jobTemplate(tc.script, tc.deadline).Spec
		if err := e.c.Update(t.Context(), cur); err != nil {
			t.Fatal(err)
		}
		e.statusPatch("jobs", `{"status":{"abort":false}}`)
		e.setImage("jobs", tc.image)
		e.waitFor(time.Minute, func() string {
			st := e.rollout("jobs").Status
			if st.Phase != v1alpha1.RolloutPhaseDegraded || !strings.Contains(st.Message, tc.want) {
				return fmt.Sprintf("%s: waiting for an abort naming %s: %s %q", tc.script, tc.want, st.Phase, st.Message)
			}
			return ""
		})
	}
	var jobs batchv1.JobList
	if err := e.c.List(t.Context(), &jobs, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 3 {
		t.Errorf("%d Jobs, want one per measurement (3)", len(jobs.Items))
	}
}
