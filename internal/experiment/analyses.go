package experiment

import (
	"fmt"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// msgRequiredDone is the Experiment's message when its required analyses decided it.
const msgRequiredDone = "Required AnalysisRuns completed"

// analysis plans one analysis: its AnalysisRun starts once every template is available
// (status.availableAt), is followed while it runs, and is terminated when the Experiment
// stops.
func (c *computation) analysis(a *v1alpha1.ExperimentAnalysisTemplateRef) {
	s := runStatus(&c.st, a.Name)
	if s == nil {
		c.st.AnalysisRuns = append(c.st.AnalysisRuns, v1alpha1.ExperimentAnalysisRunStatus{Name: a.Name})
		s = &c.st.AnalysisRuns[len(c.st.AnalysisRuns)-1]
	}
	prev := *s
	defer func() {
		if prev.Phase == s.Phase || s.Phase == "" {
			return
		}
		msg := fmt.Sprintf("AnalysisRun '%s' transitioned from %s -> %s", a.Name, orNone(string(prev.Phase)), s.Phase)
		if s.Message != "" {
			msg += ": " + s.Message
		}
		warn := s.Phase == v1alpha1.AnalysisPhaseFailed || s.Phase == v1alpha1.AnalysisPhaseError || s.Phase == v1alpha1.AnalysisPhaseInconclusive
		c.event(warn, "AnalysisRun"+string(s.Phase), "%s", msg)
	}()
	if Completed(prev.Phase) {
		return
	}
	problem := c.in.AnalysisProblems[a.Name]
	if c.ex.Status.AvailableAt == nil {
		if problem != "" {
			s.Phase, s.Message = v1alpha1.AnalysisPhaseError, problem
		}
		return
	}
	if s.AnalysisRun == "" {
		name := RunName(c.ex.Name, a.Name)
		if r, ok := c.in.Runs[name]; ok {
			// Created by an earlier pass whose status write was lost.
			s.AnalysisRun = name
			s.Phase, s.Message = phaseOf(r), r.Message
			return
		}
		if c.terminating {
			return
		}
		if problem != "" {
			s.Phase, s.Message = v1alpha1.AnalysisPhaseError, problem
			return
		}
		c.plan.CreateRuns = append(c.plan.CreateRuns, a.Name)
		s.AnalysisRun, s.Phase, s.Message = name, v1alpha1.AnalysisPhasePending, ""
		return
	}
	r, ok := c.in.Runs[s.AnalysisRun]
	if !ok {
		if s.Phase != v1alpha1.AnalysisPhasePending {
			s.Phase, s.Message = v1alpha1.AnalysisPhaseError, fmt.Sprintf("AnalysisRun %s was deleted", s.AnalysisRun)
		}
		return // (just created: the cache shows it soon)
	}
	if c.terminating && !Completed(r.Phase) && !r.Terminated {
		c.plan.TerminateRuns = append(c.plan.TerminateRuns, r.Name)
		c.event(false, "AnalysisRunTerminating", "Terminating %s (%s)", a.Name, r.Name)
	}
	s.Phase, s.Message = phaseOf(r), r.Message
}

func phaseOf(r Run) v1alpha1.AnalysisPhase {
	if r.Phase == "" {
		return v1alpha1.AnalysisPhasePending
	}
	return r.Phase
}

// rank orders analysis phases from best to worst, as Argo Rollouts does.
func rank(p v1alpha1.AnalysisPhase) int {
	switch p {
	case v1alpha1.AnalysisPhaseRunning:
		return 1
	case v1alpha1.AnalysisPhasePending:
		return 2
	case v1alpha1.AnalysisPhaseInconclusive:
		return 3
	case v1alpha1.AnalysisPhaseError:
		return 4
	case v1alpha1.AnalysisPhaseFailed:
		return 5
	default: // Successful, or not started
		return 0
	}
}

// assessAnalyses is the worst phase of the analyses (Running for Pending). When every
// required analysis passed and none failed, it is Successful.
func (c *computation) assessAnalyses() (v1alpha1.AnalysisPhase, string) {
	worst, msg := v1alpha1.AnalysisPhaseSuccessful, ""
	for _, a := range c.ex.Spec.Analyses {
		if s := runStatus(&c.st, a.Name); s != nil && rank(s.Phase) > rank(worst) {
			worst, msg = s.Phase, s.Message
		}
	}
	if requiredPassed(c.ex, &c.st) && rank(worst) <= rank(v1alpha1.AnalysisPhasePending) {
		return v1alpha1.AnalysisPhaseSuccessful, msgRequiredDone
	}
	if worst == v1alpha1.AnalysisPhasePending {
		worst = v1alpha1.AnalysisPhaseRunning
	}
	return worst, msg
}

// assessTemplates is the worst template status, as an Experiment phase: Pending while one
// progresses, Running when all run, Successful when all succeeded.
func (c *computation) assessTemplates() (v1alpha1.AnalysisPhase, string) {
	order := map[v1alpha1.TemplateStatusCode]int{
		v1alpha1.TemplateStatusSuccessful: 0, v1alpha1.TemplateStatusRunning: 1, v1alpha1.TemplateStatusProgressing: 2,
		v1alpha1.TemplateStatusError: 3, v1alpha1.TemplateStatusFailed: 4,
	}
	worst, msg := v1alpha1.TemplateStatusSuccessful, ""
	for _, t := range c.ex.Spec.Templates {
		ts := templateStatus(&c.st, t.Name)
		code := v1alpha1.TemplateStatusProgressing
		if ts != nil && ts.Status != "" {
			code = ts.Status
		}
		if order[code] > order[worst] {
			worst = code
			if ts != nil {
				msg = ts.Message
			}
		}
	}
	switch worst {
	case v1alpha1.TemplateStatusProgressing:
		return v1alpha1.AnalysisPhasePending, msg
	case v1alpha1.TemplateStatusFailed:
		return v1alpha1.AnalysisPhaseFailed, msg
	case v1alpha1.TemplateStatusError:
		return v1alpha1.AnalysisPhaseError, msg
	case v1alpha1.TemplateStatusSuccessful:
		return v1alpha1.AnalysisPhaseSuccessful, msg
	default:
		return v1alpha1.AnalysisPhaseRunning, msg
	}
}
