package analysis

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// simulate drives a run the way the controller does, one pass per second for up to d, with
// values[metric] giving each measurement's value in turn (an error value is an Error).
func simulate(run *v1alpha1.AnalysisRun, values map[string][]any, d time.Duration) (passes []time.Time) {
	taken := map[string]int{}
	for now := t0; now.Before(t0.Add(d)) && !Completed(run.Status.Phase); now = now.Add(time.Second) {
		for _, task := range Tasks(run, now) {
			vs := values[task.Metric.Name]
			v := vs[min(taken[task.Metric.Name], len(vs)-1)]
			taken[task.Metric.Name]++
			var r metricprovider.Result
			if err, ok := v.(error); ok {
				r = metricprovider.Errorf(err)
			} else {
				r = metricprovider.Result{Value: v, Display: fmt.Sprint(v)}
			}
			Record(run, task, Measurement(&task.Metric, r, now, now, nil), now)
		}
		Assess(run, now)
		passes = append(passes, now)
	}
	return passes
}

func metric(name string, mod func(*v1alpha1.Metric)) v1alpha1.Metric {
	m := v1alpha1.Metric{Name: name, SuccessCondition: "result < 0.05", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x"}}}
	if mod != nil {
		mod(&m)
	}
	return m
}

func runOf(ms ...v1alpha1.Metric) *v1alpha1.AnalysisRun {
	return &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Metrics: ms}}
}

func every(interval string, count int) func(*v1alpha1.Metric) {
	return func(m *v1alpha1.Metric) {
		m.Interval = v1alpha1.DurationString(interval)
		if count > 0 {
			m.Count = ptrIOS(count)
		}
	}
}

func ptrIOS(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }

func TestRunPhases(t *testing.T) {
	boom := errors.New("connection refused")
	for _, tc := range []struct {
		name    string
		run     *v1alpha1.AnalysisRun
		values  map[string][]any
		want    v1alpha1.AnalysisPhase
		msg     string
		at      time.Duration // when the run completes
		measure int           // measurements kept for "m"
	}{
		{name: "three good measurements", run: runOf(metric("m", every("10s", 3))), values: map[string][]any{"m": {0.01}},
			want: v1alpha1.AnalysisPhaseSuccessful, at: 20 * time.Second, measure: 3},
		{name: "one failure fails it", run: runOf(metric("m", every("10s", 3))), values: map[string][]any{"m": {0.01, 0.2}},
			want: v1alpha1.AnalysisPhaseFailed, msg: `Metric "m" assessed Failed due to failed (1) > failureLimit (0): last value 0.2`, at: 10 * time.Second, measure: 2},
		{name: "failureLimit 1 takes two", run: runOf(metric("m", func(m *v1alpha1.Metric) { every("10s", 5)(m); m.FailureLimit = ptrIOS(1) })),
			values: map[string][]any{"m": {0.2, 0.01, 0.2}}, want: v1alpha1.AnalysisPhaseFailed, at: 20 * time.Second, measure: 3},
		{name: "inconclusive", run: runOf(metric("m", func(m *v1alpha1.Metric) { m.FailureCondition = "result > 0.5" })),
			values: map[string][]any{"m": {0.2}}, want: v1alpha1.AnalysisPhaseInconclusive, msg: "inconclusive (1) > inconclusiveLimit (0)", measure: 1},
		{name: "errors retried every 10s until the limit", run: runOf(metric("m", nil)), values: map[string][]any{"m": {boom}},
			want: v1alpha1.AnalysisPhaseError, msg: "consecutiveErrors (5) > consecutiveErrorLimit (4)", at: 40 * time.Second, measure: 5},
		{name: "an error then a success", run: runOf(metric("m", nil)), values: map[string][]any{"m": {boom, 0.01}},
			want: v1alpha1.AnalysisPhaseSuccessful, at: 10 * time.Second, measure: 2},
		{name: "consecutiveSuccessLimit", run: runOf(metric("m", func(m *v1alpha1.Metric) {
			every("5s", 10)(m)
			m.FailureLimit, m.ConsecutiveSuccessLimit = ptrIOS(-1), ptrIOS(2)
		})), values: map[string][]any{"m": {0.2, 0.01, 0.2, 0.01, 0.01}}, want: v1alpha1.AnalysisPhaseSuccessful, at: 20 * time.Second, measure: 5},
		{name: "consecutiveSuccessLimit not reached within count", run: runOf(metric("m", func(m *v1alpha1.Metric) {
			every("5s", 3)(m)
			m.FailureLimit, m.ConsecutiveSuccessLimit = ptrIOS(-1), ptrIOS(2)
		})), values: map[string][]any{"m": {0.01, 0.2, 0.01}}, want: v1alpha1.AnalysisPhaseFailed, at: 10 * time.Second, measure: 3},
		{name: "dry-run failure does not count", run: func() *v1alpha1.AnalysisRun {
			r := runOf(metric("m", nil), metric("dry", nil))
			r.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "dry"}}
			return r
		}(), values: map[string][]any{"m": {0.01}, "dry": {0.9}}, want: v1alpha1.AnalysisPhaseSuccessful, measure: 1},
		{name: "retention", run: func() *v1alpha1.AnalysisRun {
			r := runOf(metric("m", every("1s", 12)))
			r.Spec.MeasurementRetention = []v1alpha1.MeasurementRetention{{MetricName: "m", Limit: 3}}
			return r
		}(), values: map[string][]any{"m": {0.01}}, want: v1alpha1.AnalysisPhaseSuccessful, at: 11 * time.Second, measure: 3},
		{name: "default retention is 10", run: runOf(metric("m", every("1s", 12))), values: map[string][]any{"m": {0.01}},
			want: v1alpha1.AnalysisPhaseSuccessful, at: 11 * time.Second, measure: 10},
		{name: "initialDelay", run: runOf(metric("m", func(m *v1alpha1.Metric) { m.InitialDelay = "30s" })), values: map[string][]any{"m": {0.01}},
			want: v1alpha1.AnalysisPhaseSuccessful, at: 30 * time.Second, measure: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			passes := simulate(tc.run, tc.values, 2*time.Minute)
			st := tc.run.Status
			if st.Phase != tc.want || !strings.Contains(st.Message, tc.msg) {
				t.Fatalf("phase %s (%q), want %s (%q)", st.Phase, st.Message, tc.want, tc.msg)
			}
			if got := passes[len(passes)-1].Sub(t0); got != tc.at {
				t.Errorf("completed after %v, want %v", got, tc.at)
			}
			if st.CompletedAt == nil || !st.CompletedAt.Time.Equal(t0.Add(tc.at)) {
				t.Errorf("completedAt %v", st.CompletedAt)
			}
			if got := len(Result(tc.run, "m").Measurements); got != tc.measure {
				t.Errorf("%d measurements kept, want %d", got, tc.measure)
			}
		})
	}
}

func TestRunSummaries(t *testing.T) {
	r := runOf(metric("a", nil), metric("b", nil), metric("dry", nil))
	r.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "d.*"}}
	simulate(r, map[string][]any{"a": {0.01}, "b": {0.01}, "dry": {0.9}}, time.Minute)
	if got, want := r.Status.RunSummary, (v1alpha1.RunSummary{Count: 2, Successful: 2}); got != want {
		t.Errorf("runSummary %+v, want %+v", got, want)
	}
	if got, want := *r.Status.DryRunSummary, (v1alpha1.RunSummary{Count: 1, Failed: 1}); got != want {
		t.Errorf("dryRunSummary %+v, want %+v", got, want)
	}
	if res := Result(r, "dry"); !res.DryRun || res.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("dry-run metric %+v", res)
	}
}

func TestTerminate(t *testing.T) {
	// A metric that runs until terminated (interval, no count).
	r := runOf(metric("m", every("10s", 0)))
	simulate(r, map[string][]any{"m": {0.01}}, 25*time.Second)
	if r.Status.Phase != v1alpha1.AnalysisPhaseRunning || len(Result(r, "m").Measurements) != 3 {
		t.Fatalf("before terminate: %s with %d measurements", r.Status.Phase, len(Result(r, "m").Measurements))
	}
	r.Spec.Terminate = true
	if tasks := Tasks(r, t0.Add(time.Hour)); len(tasks) != 0 {
		t.Errorf("a terminated run still measures: %v", tasks)
	}
	a := Assess(r, t0.Add(26*time.Second))
	if r.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || r.Status.Message != "Run Terminated" || a.RequeueAfter != 0 {
		t.Errorf("terminated: %s %q requeue %v", r.Status.Phase, r.Status.Message, a.RequeueAfter)
	}
	// Terminated before any measurement: Successful.
	r = runOf(metric("m", func(m *v1alpha1.Metric) { m.InitialDelay = "1h" }))
	Assess(r, t0)
	r.Spec.Terminate = true
	Assess(r, t0.Add(time.Second))
	if r.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("terminated before measuring: %s", r.Status.Phase)
	}
}

func TestInFlightMeasurements(t *testing.T) {
	r := runOf(metric("job", nil), metric("fast", nil))
	now := t0
	for _, task := range Tasks(r, now) {
		res := metricprovider.Result{Value: 0.01}
		if task.Metric.Name == "job" {
			res = metricprovider.Result{Phase: v1alpha1.AnalysisPhaseRunning, ResumeAt: now.Add(10 * time.Second)}
		}
		Record(r, task, Measurement(&task.Metric, res, now, now, nil), now)
	}
	a := Assess(r, now)
	if r.Status.Phase != v1alpha1.AnalysisPhaseRunning || a.RequeueAfter != 10*time.Second {
		t.Fatalf("with a job running: %s, requeue %v", r.Status.Phase, a.RequeueAfter)
	}
	if tasks := Tasks(r, now.Add(5*time.Second)); len(tasks) != 0 {
		t.Errorf("resumed before resumeAt: %v", tasks)
	}
	tasks := Tasks(r, now.Add(10*time.Second))
	if len(tasks) != 1 || tasks[0].Measurement == nil {
		t.Fatalf("resume tasks %+v", tasks)
	}
	Record(r, tasks[0], Measurement(&tasks[0].Metric, metricprovider.Result{Phase: v1alpha1.AnalysisPhaseFailed, Message: "BackoffLimitExceeded"}, now, now.Add(10*time.Second), nil), now.Add(10*time.Second))
	Assess(r, now.Add(10*time.Second))
	if res := Result(r, "job"); len(res.Measurements) != 1 || r.Status.Phase != v1alpha1.AnalysisPhaseFailed || !strings.Contains(r.Status.Message, "BackoffLimitExceeded") {
		t.Errorf("after the job failed: %s %q, %d measurements", r.Status.Phase, r.Status.Message, len(res.Measurements))
	}
}

func TestValidate(t *testing.T) {
	good := metric("m", every("10s", 3))
	if p := Validate([]v1alpha1.Metric{good}, nil, nil); len(p) != 0 {
		t.Errorf("valid metric refused: %v", p)
	}
	for _, tc := range []struct {
		m    v1alpha1.Metric
		want string
	}{
		{metric("m", func(m *v1alpha1.Metric) { m.Count = ptrIOS(3) }), "interval is not set"},
		{metric("m", func(m *v1alpha1.Metric) { m.Interval = "ten seconds" }), "invalid duration"},
		{metric("m", func(m *v1alpha1.Metric) { m.Provider = v1alpha1.MetricProvider{} }), "sets no provider"},
		{metric("m", func(m *v1alpha1.Metric) { m.Provider.Prometheus = &v1alpha1.PrometheusMetric{} }), "more than one provider"},
		{metric("m", func(m *v1alpha1.Metric) { m.FailureLimit = ptrIOS(-2) }), "failureLimit"},
		{metric("m", func(m *v1alpha1.Metric) { every("1s", 2)(m); m.ConsecutiveSuccessLimit = ptrIOS(3) }), "never be reached"},
	} {
		if p := strings.Join(Validate([]v1alpha1.Metric{tc.m}, nil, nil), "; "); !strings.Contains(p, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.m, p, tc.want)
		}
	}
	if p := Validate([]v1alpha1.Metric{good, good}, []v1alpha1.DryRun{{MetricName: "x"}}, nil); len(p) != 2 {
		t.Errorf("duplicate name and unknown dryRun metric: %v", p)
	}
}
