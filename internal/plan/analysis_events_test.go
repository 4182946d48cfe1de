package plan

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func TestAnalysisRunEvents(t *testing.T) {
	slot := func(name string, phase v1alpha1.AnalysisPhase) *v1alpha1.RolloutAnalysisRunStatus {
		return &v1alpha1.RolloutAnalysisRunStatus{Name: name, Status: phase}
	}
	step := func(s *v1alpha1.RolloutAnalysisRunStatus) *v1alpha1.RolloutStatus {
		return &v1alpha1.RolloutStatus{Canary: v1alpha1.CanaryStatus{CurrentStepAnalysisRunStatus: s}}
	}
	run := func(name string, phase v1alpha1.AnalysisPhase) []AnalysisRun {
		return []AnalysisRun{{Name: name, Phase: phase}}
	}
	for _, tc := range []struct {
		name     string
		old, cur *v1alpha1.RolloutStatus
		runs     []AnalysisRun
		want     []Event
	}{
		{"run just created, no phase yet", step(nil), step(slot("a", v1alpha1.AnalysisPhasePending)), nil, nil},
		{"phase not set yet", step(slot("a", v1alpha1.AnalysisPhasePending)), step(slot("a", "")), run("a", ""), nil},
		{"running", step(slot("a", "")), step(slot("a", v1alpha1.AnalysisPhaseRunning)), run("a", v1alpha1.AnalysisPhaseRunning),
			[]Event{{Reason: "AnalysisRunRunning", Message: "Step Analysis Run 'a' Status New: 'Running' Previous: ''"}}},
		{"still running", step(slot("a", v1alpha1.AnalysisPhaseRunning)), step(slot("a", v1alpha1.AnalysisPhaseRunning)), run("a", v1alpha1.AnalysisPhaseRunning), nil},
		{"first seen running", step(nil), step(slot("a", v1alpha1.AnalysisPhaseRunning)), run("a", v1alpha1.AnalysisPhaseRunning),
			[]Event{{Reason: "AnalysisRunRunning", Message: "Step Analysis Run 'a' Status New: 'Running' Previous: 'NoPreviousStatus'"}}},
		{"failed", step(slot("a", v1alpha1.AnalysisPhaseRunning)), step(slot("a", v1alpha1.AnalysisPhaseFailed)), run("a", v1alpha1.AnalysisPhaseFailed),
			[]Event{{Warning: true, Reason: "AnalysisRunFailed", Message: "Step Analysis Run 'a' Status New: 'Failed' Previous: 'Running'"}}},
		{"successful as the step completes (slot cleared)", step(slot("a", v1alpha1.AnalysisPhaseRunning)), step(nil), run("a", v1alpha1.AnalysisPhaseSuccessful),
			[]Event{{Reason: "AnalysisRunSuccessful", Message: "Step Analysis Run 'a' Status New: 'Successful' Previous: 'Running'"}}},
		{"another run replaces the slot's", step(slot("a", v1alpha1.AnalysisPhaseSuccessful)), step(slot("b", v1alpha1.AnalysisPhaseRunning)),
			append(run("a", v1alpha1.AnalysisPhaseSuccessful), run("b", v1alpha1.AnalysisPhaseRunning)...), nil},
		{"background error",
			&v1alpha1.RolloutStatus{Canary: v1alpha1.CanaryStatus{CurrentBackgroundAnalysisRunStatus: slot("bg", v1alpha1.AnalysisPhaseRunning)}},
			&v1alpha1.RolloutStatus{Canary: v1alpha1.CanaryStatus{CurrentBackgroundAnalysisRunStatus: slot("bg", v1alpha1.AnalysisPhaseError)}},
			run("bg", v1alpha1.AnalysisPhaseError),
			[]Event{{Warning: true, Reason: "AnalysisRunError", Message: "Background Analysis Run 'bg' Status New: 'Error' Previous: 'Running'"}}},
		{"post-promotion", &v1alpha1.RolloutStatus{}, &v1alpha1.RolloutStatus{BlueGreen: v1alpha1.BlueGreenStatus{PostPromotionAnalysisRunStatus: slot("p", v1alpha1.AnalysisPhaseRunning)}},
			run("p", v1alpha1.AnalysisPhaseRunning),
			[]Event{{Reason: "AnalysisRunRunning", Message: "PostPromotion Analysis Run 'p' Status New: 'Running' Previous: 'NoPreviousStatus'"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AnalysisRunEvents(tc.old, tc.cur, tc.runs); !slices.Equal(got, tc.want) {
				t.Errorf("events:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
