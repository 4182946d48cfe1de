package plan

import (
	"fmt"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// AnalysisRunEvents are the events Argo Rollouts records on a Rollout when one of its current
// AnalysisRuns changes phase (AnalysisRunRunning, AnalysisRunSuccessful, AnalysisRunFailed,
// …; Warning for Failed and Error), which its notification triggers on-analysis-run-* key
// off. old is the status the pass started from, cur the status it writes, runs the Rollout's
// AnalysisRuns. For each run slot (step, background, pre- and post-promotion), the run is the
// one cur names (old's when cur cleared the slot, e.g. at the step's completion); there is an
// event when the run has a phase and old recorded no run in the slot, or recorded this run
// with another phase. As in Argo, a run that replaces another in a slot old still names gets
// none until old names it.
func AnalysisRunEvents(old, cur *v1alpha1.RolloutStatus, runs []AnalysisRun) []Event {
	slots := []struct {
		kind     string
		old, cur *v1alpha1.RolloutAnalysisRunStatus
	}{
		{AnalysisTypeStep, old.Canary.CurrentStepAnalysisRunStatus, cur.Canary.CurrentStepAnalysisRunStatus},
		{AnalysisTypeBackground, old.Canary.CurrentBackgroundAnalysisRunStatus, cur.Canary.CurrentBackgroundAnalysisRunStatus},
		{AnalysisTypePrePromotion, old.BlueGreen.PrePromotionAnalysisRunStatus, cur.BlueGreen.PrePromotionAnalysisRunStatus},
		{AnalysisTypePostPromotion, old.BlueGreen.PostPromotionAnalysisRunStatus, cur.BlueGreen.PostPromotionAnalysisRunStatus},
	}
	var events []Event
	for _, s := range slots {
		name := ""
		switch {
		case s.cur != nil:
			name = s.cur.Name
		case s.old != nil:
			name = s.old.Name
		}
		r := findRun(runs, name)
		if r == nil || r.Phase == "" {
			continue
		}
		previous := "NoPreviousStatus"
		if s.old != nil {
			if s.old.Name != r.Name || s.old.Status == r.Phase {
				continue
			}
			previous = string(s.old.Status)
		}
		events = append(events, Event{
			Warning: r.Phase == v1alpha1.AnalysisPhaseFailed || r.Phase == v1alpha1.AnalysisPhaseError,
			Reason:  "AnalysisRun" + string(r.Phase),
			Message: fmt.Sprintf("%s Analysis Run '%s' Status New: '%s' Previous: '%s'", s.kind, r.Name, r.Phase, previous),
		})
	}
	return events
}

func findRun(runs []AnalysisRun, name string) *AnalysisRun {
	if name == "" {
		return nil
	}
	for i := range runs {
		if runs[i].Name == name {
			return &runs[i]
		}
	}
	return nil
}
