package analysis

import (
	"fmt"
	"regexp"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Defaults from Argo Rollouts.
const (
	// DefaultMeasurementRetention is how many measurements a metric keeps without a
	// measurementRetention for it.
	DefaultMeasurementRetention = 10
	// ErrorRetryInterval is how soon a measurement that ended in Error is taken again.
	ErrorRetryInterval = 10 * time.Second
	// DefaultConsecutiveErrorLimit is consecutiveErrorLimit when unset.
	DefaultConsecutiveErrorLimit = 4
)

// Task is a measurement to take (Measurement nil), resume or terminate (Measurement set: the
// metric's last, unfinished one).
type Task struct {
	Metric      v1alpha1.Metric
	Measurement *v1alpha1.Measurement
	// Terminate is set when the run is terminating: an in-flight measurement is stopped.
	Terminate bool
}

// Terminating is true when the run was told to stop (spec.terminate) or a metric that counts
// already failed, errored or was inconclusive: no new measurement starts.
func Terminating(run *v1alpha1.AnalysisRun) bool {
	if run.Spec.Terminate {
		return true
	}
	dry := DryRunMetrics(run)
	for _, r := range run.Status.MetricResults {
		if dry[r.Name] {
			continue
		}
		switch r.Phase {
		case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
			return true
		default:
		}
	}
	return false
}

// Tasks lists the measurements due at now. The run's spec must have passed Validate.
func Tasks(run *v1alpha1.AnalysisRun, now time.Time) []Task {
	terminating := Terminating(run)
	var tasks []Task
	for _, m := range run.Spec.Metrics {
		res := Result(run, m.Name)
		if res != nil && Completed(res.Phase) {
			continue
		}
		last := lastMeasurement(res)
		if last != nil && last.FinishedAt == nil {
			if terminating || last.ResumeAt == nil || !last.ResumeAt.After(now) {
				tasks = append(tasks, Task{Metric: m, Measurement: last, Terminate: terminating})
			}
			continue
		}
		if terminating {
			continue
		}
		if due, _ := nextMeasurement(run, &m, res, last, now); !due.IsZero() && !due.After(now) {
			tasks = append(tasks, Task{Metric: m})
		}
	}
	return tasks
}

// nextMeasurement is when the metric's next measurement is due (zero: never again, or not
// knowable yet).
func nextMeasurement(run *v1alpha1.AnalysisRun, m *v1alpha1.Metric, res *v1alpha1.MetricResult, last *v1alpha1.Measurement, now time.Time) (time.Time, error) {
	if last == nil {
		start := now // the run starts in this pass
		if run.Status.StartedAt != nil {
			start = run.Status.StartedAt.Time
		}
		if m.InitialDelay == "" {
			return start, nil
		}
		d, err := ParseDuration(m.InitialDelay)
		if err != nil {
			return time.Time{}, err
		}
		return start.Add(d), nil
	}
	if last.FinishedAt == nil {
		return time.Time{}, nil
	}
	if n, ok := EffectiveCount(m); ok && res.Count >= n {
		return time.Time{}, nil
	}
	interval := ErrorRetryInterval
	if last.Phase != v1alpha1.AnalysisPhaseError {
		if m.Interval == "" {
			return time.Time{}, nil
		}
		d, err := ParseDuration(m.Interval)
		if err != nil {
			return time.Time{}, err
		}
		interval = d
	}
	return last.FinishedAt.Add(interval), nil
}

// Record adds (or, for a resumed task, replaces) a measurement of a metric and updates its
// counters. A finished measurement gets finishedAt = now when the provider left it unset.
func Record(run *v1alpha1.AnalysisRun, t Task, m v1alpha1.Measurement, now time.Time) {
	res := Result(run, t.Metric.Name)
	if res == nil {
		run.Status.MetricResults = append(run.Status.MetricResults, v1alpha1.MetricResult{
			Name: t.Metric.Name, Phase: v1alpha1.AnalysisPhaseRunning, DryRun: DryRunMetrics(run)[t.Metric.Name],
		})
		res = &run.Status.MetricResults[len(run.Status.MetricResults)-1]
	}
	if Completed(m.Phase) {
		if m.FinishedAt == nil {
			m.FinishedAt = &metav1.Time{Time: now}
		}
		switch m.Phase {
		case v1alpha1.AnalysisPhaseSuccessful:
			res.Successful++
			res.Count++
			res.ConsecutiveError = 0
			res.ConsecutiveSuccess++
		case v1alpha1.AnalysisPhaseFailed:
			res.Failed++
			res.Count++
			res.ConsecutiveError, res.ConsecutiveSuccess = 0, 0
		case v1alpha1.AnalysisPhaseInconclusive:
			res.Inconclusive++
			res.Count++
			res.ConsecutiveError, res.ConsecutiveSuccess = 0, 0
		case v1alpha1.AnalysisPhaseError:
			res.Error++
			res.ConsecutiveError++
			res.ConsecutiveSuccess = 0
		default:
		}
	}
	if t.Measurement != nil && len(res.Measurements) > 0 {
		res.Measurements[len(res.Measurements)-1] = m
	} else {
		res.Measurements = append(res.Measurements, m)
	}
}

// Result is the status of a metric, or nil before its first measurement.
func Result(run *v1alpha1.AnalysisRun, name string) *v1alpha1.MetricResult {
	for i := range run.Status.MetricResults {
		if run.Status.MetricResults[i].Name == name {
			return &run.Status.MetricResults[i]
		}
	}
	return nil
}

func lastMeasurement(res *v1alpha1.MetricResult) *v1alpha1.Measurement {
	if res == nil || len(res.Measurements) == 0 {
		return nil
	}
	return &res.Measurements[len(res.Measurements)-1]
}

// Completed is true for the final phases.
func Completed(p v1alpha1.AnalysisPhase) bool {
	switch p {
	case v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
		return true
	default:
		return false
	}
}

// EffectiveCount is how many measurements a metric takes: count, or 1 without an interval;
// ok is false when it measures until the run is terminated (interval without count).
func EffectiveCount(m *v1alpha1.Metric) (int32, bool) {
	if m.Count == nil || (m.Count.Type == intstr.Int && m.Count.IntVal == 0) || (m.Count.Type == intstr.String && m.Count.StrVal == "") {
		if m.Interval == "" {
			return 1, true
		}
		return 0, false
	}
	n, err := intOrString(m.Count)
	if err != nil {
		return 1, true // Validate refuses it first
	}
	return n, true
}

// limit reads an int-or-string limit, with a default when unset.
func limit(v *intstr.IntOrString, def int32) int32 {
	if v == nil {
		return def
	}
	n, err := intOrString(v)
	if err != nil {
		return def
	}
	return n
}

func intOrString(v *intstr.IntOrString) (int32, error) {
	if v.Type == intstr.Int {
		return v.IntVal, nil
	}
	var n int32
	if _, err := fmt.Sscanf(v.StrVal, "%d", &n); err != nil || fmt.Sprint(n) != v.StrVal {
		return 0, fmt.Errorf("%q is not an integer", v.StrVal)
	}
	return n, nil
}

// DryRunMetrics are the metrics in dry-run mode (metricName "*" matches every metric; other
// names are regular expressions, as Argo's).
func DryRunMetrics(run *v1alpha1.AnalysisRun) map[string]bool {
	out := map[string]bool{}
	for _, d := range run.Spec.DryRun {
		for _, m := range run.Spec.Metrics {
			if nameMatches(d.MetricName, m.Name) {
				out[m.Name] = true
			}
		}
	}
	return out
}

func nameMatches(pattern, name string) bool {
	if pattern == "*" || pattern == name {
		return true
	}
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	return err == nil && re.MatchString(name)
}

// ParseDuration parses an interval or initialDelay ("30s", "5m", "1h").
func ParseDuration(d v1alpha1.DurationString) (time.Duration, error) {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a Go duration such as 30s, 5m or 1h", string(d))
	}
	if v < 0 {
		return 0, fmt.Errorf("negative duration %q", string(d))
	}
	return v, nil
}
