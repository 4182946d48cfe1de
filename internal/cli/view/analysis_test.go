package view_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

func mtime(d time.Duration) *metav1.Time { t := ago(d); return &t }

// failedStepRun is the step run of rollout-basic's revision 2 at step index 1: the success
// rate was fine three times, then 0.8 (failed), and the latency metric is a dry run that
// found no data.
func failedStepRun(ro *v1alpha1.Rollout) v1alpha1.AnalysisRun {
	ctrl := true
	one, four := intstr.FromInt32(1), intstr.FromInt32(4)
	token := "s3cr3t-in-a-header"
	return v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: "my-rollout-6d4f8b9c7-2-1", Namespace: ro.Namespace, CreationTimestamp: ago(2 * time.Minute),
			Labels: map[string]string{
				v1alpha1.LabelRolloutType: v1alpha1.RolloutTypeStep, v1alpha1.LabelStepIndex: "1",
				v1alpha1.LabelPodTemplateHash: "6d4f8b9c7",
			},
			Annotations:     map[string]string{v1alpha1.AnnotationRevision: "2"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Rollout", Name: ro.Name, UID: ro.UID, Controller: &ctrl}},
		},
		Spec: v1alpha1.AnalysisRunSpec{
			Args: []v1alpha1.Argument{
				{Name: "service", Value: new("my-app-canary")},
				{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "prom", Key: "token"}}},
			},
			Metrics: []v1alpha1.Metric{
				{
					Name: "success-rate", Interval: "30s", Count: &four, FailureLimit: &one,
					SuccessCondition: "len(result) == 0 || result[0] >= 0.95",
					Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
						Address: "http://prometheus.monitoring:9090",
						Query:   "sum(rate(requests{service=\"{{args.service}}\",code!~\"5..\"}[1m]))\n  / sum(rate(requests{service=\"{{args.service}}\"}[1m]))",
						Headers: []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer " + token}},
					}},
				},
				{
					Name: "latency-p99", SuccessCondition: "result[0] < 0.5",
					Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "histogram_quantile(0.99, ...)"}},
				},
			},
			DryRun: []v1alpha1.DryRun{{MetricName: "latency-p99"}},
		},
		Status: v1alpha1.AnalysisRunStatus{
			Phase:     v1alpha1.AnalysisPhaseFailed,
			Message:   `Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)`,
			StartedAt: mtime(2 * time.Minute), CompletedAt: mtime(30 * time.Second),
			RunSummary:    v1alpha1.RunSummary{Count: 1, Failed: 1},
			DryRunSummary: &v1alpha1.RunSummary{Count: 1, Error: 1},
			MetricResults: []v1alpha1.MetricResult{
				{
					Name: "success-rate", Phase: v1alpha1.AnalysisPhaseFailed, Count: 4, Successful: 2, Failed: 2,
					Measurements: []v1alpha1.Measurement{
						{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: "[0.99]", StartedAt: mtime(2 * time.Minute), FinishedAt: mtime(2 * time.Minute)},
						{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: "[0.98]", StartedAt: mtime(90 * time.Second), FinishedAt: mtime(90 * time.Second)},
						{Phase: v1alpha1.AnalysisPhaseFailed, Value: "[0.8]", StartedAt: mtime(time.Minute), FinishedAt: mtime(time.Minute)},
						{Phase: v1alpha1.AnalysisPhaseFailed, Value: "[0.8]", StartedAt: mtime(30 * time.Second), FinishedAt: mtime(30 * time.Second)},
					},
				},
				{
					Name: "latency-p99", Phase: v1alpha1.AnalysisPhaseError, Error: 1, ConsecutiveError: 1, DryRun: true,
					Message: "the query returned no samples",
					Measurements: []v1alpha1.Measurement{{
						Phase: v1alpha1.AnalysisPhaseError, StartedAt: mtime(2 * time.Minute), FinishedAt: mtime(2 * time.Minute),
						Message: `the query returned no samples: histogram_quantile(0.99, ...)`,
					}},
				},
			},
		},
	}
}

// abortedWithRuns is rollout-basic with an analysis step at index 1 and a background analysis,
// aborted by the failed step run; the background run of the same revision was still running.
func abortedWithRuns(t *testing.T) (*v1alpha1.Rollout, *fixture, []v1alpha1.AnalysisRun) {
	t.Helper()
	ro, f := pausedAtStep1(t)
	c := ro.Spec.Strategy.Canary
	c.Steps[1] = v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "success-rate", ClusterScope: true}}}}
	c.Analysis = &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "latency"}}}}
	ro.Status.PauseConditions, ro.Status.ControllerPause = nil, false
	ro.Status.Phase, ro.Status.Message = v1alpha1.RolloutPhaseProgressing, ""
	ro.Status.Canary.CurrentStepAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "my-rollout-6d4f8b9c7-2-1", Status: v1alpha1.AnalysisPhaseRunning}
	ro.Status.Canary.CurrentBackgroundAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "my-rollout-6d4f8b9c7-2", Status: v1alpha1.AnalysisPhaseRunning}
	step := failedStepRun(ro)
	step.Status.Phase, step.Status.Message, step.Status.CompletedAt = v1alpha1.AnalysisPhaseRunning, "", nil
	step.Status.MetricResults[0].Phase = v1alpha1.AnalysisPhaseRunning
	step.Status.MetricResults[0].Measurements = append(step.Status.MetricResults[0].Measurements[:3], v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: mtime(time.Second)})
	step.Status.MetricResults[0].Count, step.Status.MetricResults[0].Failed = 3, 1
	bg := *step.DeepCopy()
	bg.Name = "my-rollout-6d4f8b9c7-2"
	bg.Labels = map[string]string{v1alpha1.LabelRolloutType: v1alpha1.RolloutTypeBackground, v1alpha1.LabelPodTemplateHash: "6d4f8b9c7"}
	bg.Annotations = nil // found through the pod-template hash
	bg.CreationTimestamp = ago(3 * time.Minute)
	bg.Spec.Metrics, bg.Spec.DryRun = bg.Spec.Metrics[1:], nil
	bg.Status = v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseRunning, MetricResults: []v1alpha1.MetricResult{{
		Name: "latency-p99", Phase: v1alpha1.AnalysisPhaseRunning, Count: 1, Successful: 1,
		Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: "[0.21]", FinishedAt: mtime(time.Minute)}},
	}}}
	old := failedStepRun(ro)
	old.Name, old.Labels[v1alpha1.LabelPodTemplateHash], old.Annotations[v1alpha1.AnnotationRevision] = "my-rollout-5c7b9d8f6-1-1", "5c7b9d8f6", "1"
	old.Status = v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseSuccessful, MetricResults: []v1alpha1.MetricResult{
		{Name: "success-rate", Phase: v1alpha1.AnalysisPhaseSuccessful, Count: 4, Successful: 4, Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: "[1]"}}},
		{Name: "latency-p99", Phase: v1alpha1.AnalysisPhaseSuccessful, Count: 1, Successful: 1, DryRun: true},
	}}
	return ro, f, []v1alpha1.AnalysisRun{bg, step, old}
}

func TestTreeWithAnalysisRuns(t *testing.T) {
	ro, f, runs := abortedWithRuns(t)
	info := view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, AnalysisRuns: runs, Now: now})
	golden(t, "tree-analysis-running.txt", view.Tree(&info, view.Options{}))
	if r := info.Revisions[0]; len(r.AnalysisRuns) != 2 || r.AnalysisRuns[0].Name != "my-rollout-6d4f8b9c7-2-1" ||
		r.AnalysisRuns[0].Successful != 2 || r.AnalysisRuns[0].Failed != 1 || r.AnalysisRuns[0].Error != 1 ||
		r.AnalysisRuns[0].Metrics[0].Last.Phase != "Running" || *r.AnalysisRuns[0].StepIndex != 1 {
		b, _ := json.MarshalIndent(r, "", "  ")
		t.Errorf("revision 2:\n%s", b)
	}
	if len(info.Analysis) != 2 || info.CurrentStep != "analysis: templates success-rate (cluster)" {
		t.Errorf("analysis %+v, current step %q", info.Analysis, info.CurrentStep)
	}

	// Aborted by the failed step run: the run's metric shows the failing value.
	ro.Status.Abort, ro.Status.Phase = true, v1alpha1.RolloutPhaseDegraded
	ro.Status.Message = `RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)`
	ro.Status.Canary.CurrentStepAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "my-rollout-6d4f8b9c7-2-1", Status: v1alpha1.AnalysisPhaseFailed, Message: `Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)`}
	ro.Status.Canary.CurrentBackgroundAnalysisRunStatus = nil
	runs[1] = failedStepRun(ro)
	info = view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, AnalysisRuns: runs, Now: now})
	tree := view.Tree(&info, view.Options{})
	golden(t, "tree-analysis-failed.txt", tree)
	for _, want := range []string{"✖ Failed", "✔ 2 ✖ 2", "last [0.8]", "dry-run, ⚠ 1, last error: the query returned no samples"} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree lacks %q", want)
		}
	}
}

func TestAnalysisRunDetail(t *testing.T) {
	ro := loadRollout(t)
	run := failedStepRun(ro)
	info := view.BuildAnalysisRun(&run, now)
	out := view.AnalysisRunDetail(&info, view.Options{})
	golden(t, "analysisrun-failed.txt", out)
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{out, string(b)} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("a header value is shown:\n%s", s)
		}
		if !strings.Contains(s, "secret:prom/token") {
			t.Errorf("the secretKeyRef argument is not shown as secret:prom/token:\n%s", s)
		}
	}
	if len(info.Metrics) != 2 || len(info.Metrics[0].Measurements) != 4 || info.Metrics[0].Limits != "failureLimit 1, inconclusiveLimit 0 (default), consecutiveErrorLimit 4 (default)" ||
		info.Metrics[0].Schedule != "4 measurements, every 30s" || !info.Metrics[1].DryRun || info.DryRun == nil || info.DryRun.Error != 1 || info.Rollout != "my-rollout" {
		t.Errorf("info: %s", b)
	}
	// A run no controller has touched yet: every metric Pending.
	run.Status = v1alpha1.AnalysisRunStatus{}
	info = view.BuildAnalysisRun(&run, now)
	if info.Phase != "Pending" || info.Metrics[0].Phase != "Pending" || info.Metrics[1].Phase != "Pending" {
		t.Errorf("untouched run: %+v", info)
	}
}

func TestPlanTableWithAnalysis(t *testing.T) {
	c := loadRollout(t).Spec.Strategy.Canary
	c.Steps = append(c.Steps[:2:2], v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{
		{TemplateName: "success-rate", ClusterScope: true}, {TemplateName: "latency"},
	}}}, c.Steps[2])
	start := int32(1)
	c.Analysis = &v1alpha1.RolloutAnalysisBackground{StartingStep: &start, RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "error-rate"}}}}
	out := view.PlanTable(view.PlanInput{Name: "my-rollout", Replicas: 5, Canary: c}, view.Options{})
	golden(t, "plan-analysis.txt", out)
	for _, want := range []string{
		"3     analysis: success-rate (cluster), latency  ",
		"  step 3: templates success-rate (cluster), latency: waits for the AnalysisRun; Successful goes on, Failed/Error aborts, Inconclusive pauses until promoted\n",
		"  background: templates error-rate, from step 2 (startingStep: 1) until promotion",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}
