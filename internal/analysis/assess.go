package analysis

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Event is a Kubernetes event to record for the run.
type Event struct {
	Warning         bool
	Reason, Message string
}

// Assessment is what Assess found besides the status it wrote.
type Assessment struct {
	// RequeueAfter is when the next measurement or resume is due (0: nothing scheduled).
	RequeueAfter time.Duration
	// Trimmed maps a metric to the number of measurements it keeps, for the metrics whose
	// oldest measurements were dropped (their providers garbage-collect what those left).
	Trimmed map[string]int
	// Unfinished is true when a completed run still has in-flight measurements to terminate.
	Unfinished bool
	Events     []Event
}

// order ranks phases from best to worst, as Argo Rollouts does.
var order = map[v1alpha1.AnalysisPhase]int{
	v1alpha1.AnalysisPhaseSuccessful: 1, v1alpha1.AnalysisPhaseRunning: 2, v1alpha1.AnalysisPhasePending: 3,
	v1alpha1.AnalysisPhaseInconclusive: 4, v1alpha1.AnalysisPhaseError: 5, v1alpha1.AnalysisPhaseFailed: 6,
}

// Assess sets the phase and message of every metric and of the run, the run and dry-run
// summaries, startedAt and completedAt, and trims measurement histories.
func Assess(run *v1alpha1.AnalysisRun, now time.Time) Assessment {
	st := &run.Status
	if st.StartedAt == nil {
		st.StartedAt = &metav1.Time{Time: now}
	}
	as := &assessor{run: run, now: now, terminating: Terminating(run), dry: DryRunMetrics(run), done: true}
	if run.Spec.Terminate {
		as.worstMsg = "Run Terminated"
	}
	for i := range run.Spec.Metrics {
		as.metric(&run.Spec.Metrics[i])
	}
	st.RunSummary = as.sum
	st.DryRunSummary = &as.drySum
	phase, msg := v1alpha1.AnalysisPhaseRunning, ""
	switch {
	case Terminating(run) && as.worst == "":
		phase, msg = v1alpha1.AnalysisPhaseSuccessful, as.worstMsg
	case Terminating(run), as.done && as.worst != "":
		phase, msg = as.worst, as.worstMsg
	}
	a := Assessment{Events: as.events}
	if phase != st.Phase {
		st.Phase, st.Message = phase, strings.TrimSpace(msg)
		if Completed(phase) {
			st.CompletedAt = &metav1.Time{Time: now}
			a.Events = append(a.Events, Event{
				Warning: phase == v1alpha1.AnalysisPhaseFailed || phase == v1alpha1.AnalysisPhaseError,
				Reason:  "AnalysisRun" + string(phase), Message: "Analysis Completed. Result: " + string(phase),
			})
		}
	}
	if Completed(st.Phase) {
		for _, r := range st.MetricResults {
			if last := lastMeasurement(&r); last != nil && last.FinishedAt == nil {
				a.Unfinished = true
			}
		}
	} else if !as.next.IsZero() {
		a.RequeueAfter = max(as.next.Sub(now), time.Second)
	}
	a.Trimmed = trim(run)
	return a
}

// assessor is one Assess pass over the metrics.
type assessor struct {
	run         *v1alpha1.AnalysisRun
	now         time.Time
	terminating bool
	dry         map[string]bool
	sum, drySum v1alpha1.RunSummary
	worst       v1alpha1.AnalysisPhase
	worstMsg    string
	done        bool      // every metric is done
	next        time.Time // the earliest measurement or resume due
	events      []Event
}

// metric assesses one metric and folds it into the run's summary and worst phase.
func (as *assessor) metric(m *v1alpha1.Metric) {
	s := &as.sum
	if as.dry[m.Name] {
		s = &as.drySum
	}
	s.Count++
	res := Result(as.run, m.Name)
	if res == nil {
		as.done = false
		if due, _ := nextMeasurement(as.run, m, nil, nil, as.now); !as.terminating && !due.IsZero() {
			as.next = earliest(as.next, due)
		}
		return
	}
	phase, why := assessMetric(m, res, as.terminating)
	if phase != res.Phase {
		if last := lastMeasurement(res); last != nil {
			res.Message = last.Message
		}
		res.Phase = phase
		if Completed(phase) {
			as.events = append(as.events, Event{
				Warning: phase == v1alpha1.AnalysisPhaseFailed || phase == v1alpha1.AnalysisPhaseError,
				Reason:  "Metric" + string(phase), Message: fmt.Sprintf("Metric '%s' Completed. Result: %s", m.Name, phase),
			})
		}
	}
	if !Completed(phase) {
		as.done = false
		last := lastMeasurement(res)
		switch {
		case last != nil && last.FinishedAt == nil && last.ResumeAt != nil:
			as.next = earliest(as.next, last.ResumeAt.Time)
		case !as.terminating:
			if due, _ := nextMeasurement(as.run, m, res, last, as.now); !due.IsZero() {
				as.next = earliest(as.next, due)
			}
		}
		return
	}
	count(s, phase)
	if as.dry[m.Name] {
		if why != "" {
			res.Message = fmt.Sprintf("Metric assessed %s due to %s", phase, why)
		}
		if as.worst == "" {
			as.worst = v1alpha1.AnalysisPhaseSuccessful
		}
		return
	}
	if as.worst == "" || order[phase] > order[as.worst] {
		as.worst = phase
		if why != "" {
			as.worstMsg = fmt.Sprintf("Metric %q assessed %s due to %s", m.Name, phase, why)
			if last := lastMeasurement(res); last != nil && last.Value != "" {
				as.worstMsg += fmt.Sprintf(": last value %s", last.Value)
			}
			if res.Message != "" {
				as.worstMsg += fmt.Sprintf(": %q", res.Message)
			}
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func count(s *v1alpha1.RunSummary, p v1alpha1.AnalysisPhase) {
	switch p {
	case v1alpha1.AnalysisPhaseFailed:
		s.Failed++
	case v1alpha1.AnalysisPhaseError:
		s.Error++
	case v1alpha1.AnalysisPhaseInconclusive:
		s.Inconclusive++
	default:
		s.Successful++
	}
}

// assessMetric is a metric's phase from its counters, and why when it is not Successful.
func assessMetric(m *v1alpha1.Metric, res *v1alpha1.MetricResult, terminating bool) (v1alpha1.AnalysisPhase, string) {
	if Completed(res.Phase) {
		p, why := limitsExceeded(m, res)
		if p == "" {
			why = ""
		}
		return res.Phase, why
	}
	last := lastMeasurement(res)
	if last == nil {
		if terminating {
			return v1alpha1.AnalysisPhaseSuccessful, ""
		}
		return v1alpha1.AnalysisPhasePending, ""
	}
	if last.FinishedAt == nil {
		return v1alpha1.AnalysisPhaseRunning, ""
	}
	if p, why := limitsExceeded(m, res); p != "" {
		return p, why
	}
	successLimit := limit(m.ConsecutiveSuccessLimit, 0)
	if successLimit > 0 && res.ConsecutiveSuccess >= successLimit {
		return v1alpha1.AnalysisPhaseSuccessful, ""
	}
	if n, ok := EffectiveCount(m); ok && res.Count >= n {
		if successLimit > 0 {
			why := fmt.Sprintf("consecutiveSuccess (%d) < consecutiveSuccessLimit (%d) after %d measurements", res.ConsecutiveSuccess, successLimit, res.Count)
			if limit(m.FailureLimit, 0) >= 0 {
				return v1alpha1.AnalysisPhaseInconclusive, why
			}
			return v1alpha1.AnalysisPhaseFailed, why
		}
		return v1alpha1.AnalysisPhaseSuccessful, ""
	}
	if terminating {
		return v1alpha1.AnalysisPhaseSuccessful, ""
	}
	return v1alpha1.AnalysisPhaseRunning, ""
}

// limitsExceeded checks failureLimit (-1: off), inconclusiveLimit and consecutiveErrorLimit.
func limitsExceeded(m *v1alpha1.Metric, res *v1alpha1.MetricResult) (v1alpha1.AnalysisPhase, string) {
	var p v1alpha1.AnalysisPhase
	var why string
	if fl := limit(m.FailureLimit, 0); fl >= 0 && res.Failed > fl {
		p, why = v1alpha1.AnalysisPhaseFailed, fmt.Sprintf("failed (%d) > failureLimit (%d)", res.Failed, fl)
	}
	if il := limit(m.InconclusiveLimit, 0); res.Inconclusive > il {
		p, why = v1alpha1.AnalysisPhaseInconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", res.Inconclusive, il)
	}
	if el := limit(m.ConsecutiveErrorLimit, DefaultConsecutiveErrorLimit); res.ConsecutiveError > el {
		p, why = v1alpha1.AnalysisPhaseError, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", res.ConsecutiveError, el)
	}
	return p, why
}

// trim drops the oldest measurements beyond each metric's retention.
func trim(run *v1alpha1.AnalysisRun) map[string]int {
	var out map[string]int
	for i := range run.Status.MetricResults {
		r := &run.Status.MetricResults[i]
		keep := DefaultMeasurementRetention
		for _, mr := range run.Spec.MeasurementRetention {
			if nameMatches(mr.MetricName, r.Name) && mr.Limit > 0 {
				keep = int(mr.Limit)
				break
			}
		}
		if len(r.Measurements) > keep {
			r.Measurements = append([]v1alpha1.Measurement(nil), r.Measurements[len(r.Measurements)-keep:]...)
			if out == nil {
				out = map[string]int{}
			}
			out[r.Name] = keep
		}
	}
	return out
}
