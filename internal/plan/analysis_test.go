package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// analysisWorld plays the AnalysisRun controller for the world: a run created by a pass is
// Running, and at the next settle takes the phase verdict gives it (Running: stays so).
type analysisWorld struct {
	runs    []AnalysisRun
	verdict func(r *AnalysisRun) v1alpha1.AnalysisPhase
	created []string
}

func (a *analysisWorld) analysisRuns() []AnalysisRun { return slices.Clone(a.runs) }

func (w *world) actAnalysis(p *Plan) {
	for _, n := range p.CreateAnalysisRuns {
		if slices.ContainsFunc(w.runs, func(r AnalysisRun) bool { return r.Name == n.Name }) {
			w.t.Fatalf("run %s created twice", n.Name)
		}
		w.runs = append(w.runs, AnalysisRun{Name: n.Name, Type: n.Type, Hash: w.hash(), StepIndex: n.StepIndex, Revision: w.find(w.hash()).Revision, Phase: v1alpha1.AnalysisPhaseRunning, Created: w.now})
		w.created = append(w.created, n.Name)
		w.logf("create AnalysisRun %s", n.Name)
	}
	for _, name := range p.TerminateAnalysisRuns {
		for i := range w.runs {
			if r := &w.runs[i]; r.Name == name {
				r.Terminated = true
				if !isFinished(r.Phase) {
					r.Phase = v1alpha1.AnalysisPhaseSuccessful
				}
				w.logf("terminate AnalysisRun %s", name)
			}
		}
	}
	w.runs = slices.DeleteFunc(w.runs, func(r AnalysisRun) bool { return slices.Contains(p.DeleteAnalysisRuns, r.Name) })
	// At most one live run per type and step for the current template.
	live := map[string]string{}
	for _, r := range w.runs {
		if r.Terminated || isFinished(r.Phase) || r.Hash != w.hash() {
			continue
		}
		key := r.Type
		if r.StepIndex != nil {
			key += fmt.Sprint(*r.StepIndex)
		}
		if other, ok := live[key]; ok {
			w.t.Fatalf("two live %s runs: %s and %s", key, other, r.Name)
		}
		live[key] = r.Name
	}
	// Live runs of a template that is not current are terminated in the pass that sees it.
}

func (w *world) settleAnalysis() {
	for i := range w.runs {
		r := &w.runs[i]
		if r.Phase == v1alpha1.AnalysisPhaseRunning && !r.Terminated && w.verdict != nil {
			if p := w.verdict(r); p != r.Phase {
				r.Phase = p
				if p != v1alpha1.AnalysisPhaseSuccessful {
					r.Message = `Metric "error-rate" assessed ` + string(p) + " due to failed (1) > failureLimit (0): last value [0.2]"
				}
				w.logf("AnalysisRun %s: %s", r.Name, p)
			}
		}
	}
}

func analysisStep(tpl string) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: tpl}}}}
}

func phases(m map[string]v1alpha1.AnalysisPhase) func(r *AnalysisRun) v1alpha1.AnalysisPhase {
	return func(r *AnalysisRun) v1alpha1.AnalysisPhase {
		key := r.Type
		if r.StepIndex != nil {
			key += fmt.Sprintf("-%d", *r.StepIndex)
		}
		if p, ok := m[key]; ok {
			return p
		}
		return v1alpha1.AnalysisPhaseSuccessful
	}
}

func TestAnalysisStepPassesAndFails(t *testing.T) {
	for _, routed := range []bool{false, true} {
		for _, verdict := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError} {
			t.Run(string(verdict), func(t *testing.T) {
				ro := rollout(4, setWeight(25), analysisStep("error-rate"), setWeight(50))
				if routed {
					ro = routedRollout(4, setWeight(25), analysisStep("error-rate"), setWeight(50))
				}
				w := newWorld(t, ro)
				w.run(time.Minute)
				w.verdict = phases(map[string]v1alpha1.AnalysisPhase{"Step-1": verdict})
				w.update("v2")
				w.run(5 * time.Minute)
				if len(w.created) != 1 || w.created[0] != "ro-"+w.hash()+"-2-1" {
					t.Fatalf("runs created: %v", w.created)
				}
				st := w.ro.Status
				if verdict == v1alpha1.AnalysisPhaseSuccessful {
					if !w.healthyOnCurrent() {
						t.Fatalf("a passing analysis did not complete the rollout:\n%s", w.log.String())
					}
					return
				}
				if !st.Abort || st.Phase != v1alpha1.RolloutPhaseDegraded || !strings.Contains(st.Message, `Metric "error-rate" assessed`) || !strings.Contains(st.Message, "[0.2]") {
					t.Fatalf("a %s analysis: abort=%v phase %s %q\n%s", verdict, st.Abort, st.Phase, st.Message, w.log.String())
				}
				if !w.canaryGone() {
					t.Fatalf("canary pods left after the abort:\n%s", w.log.String())
				}
				if s := st.Canary.CurrentStepAnalysisRunStatus; s == nil || s.Status != verdict {
					t.Errorf("currentStepAnalysisRunStatus %+v", s)
				}
				// Retry: a new run (the failed one is retired), which passes this time.
				w.verdict = phases(nil)
				w.ro.Status.Abort = false
				w.run(5 * time.Minute)
				if len(w.created) != 2 || w.created[1] != "ro-"+w.hash()+"-2-1.1" || !w.healthyOnCurrent() {
					t.Fatalf("retry: runs %v, phase %s\n%s", w.created, w.ro.Status.Phase, w.log.String())
				}
			})
		}
	}
}

func TestInconclusiveAnalysisPausesUntilPromoted(t *testing.T) {
	w := newWorld(t, rollout(4, setWeight(25), analysisStep("t"), setWeight(50)))
	w.run(time.Minute)
	w.verdict = phases(map[string]v1alpha1.AnalysisPhase{"Step-1": v1alpha1.AnalysisPhaseInconclusive})
	w.update("v2")
	w.run(5 * time.Minute)
	st := w.ro.Status
	if st.Phase != v1alpha1.RolloutPhasePaused || len(st.PauseConditions) != 1 || st.PauseConditions[0].Reason != v1alpha1.PauseReasonInconclusiveAnalysis || w.index() != 1 {
		t.Fatalf("inconclusive: phase %s pauses %+v step %d\n%s", st.Phase, st.PauseConditions, w.index(), w.log.String())
	}
	// promote (as the plugin does: remove the pause conditions) → the analysis runs again.
	w.verdict = phases(nil)
	w.ro.Status.PauseConditions = nil
	w.run(5 * time.Minute)
	if len(w.created) != 2 || !w.healthyOnCurrent() {
		t.Fatalf("after promote: runs %v, phase %s\n%s", w.created, w.ro.Status.Phase, w.log.String())
	}
}

func TestBackgroundAnalysis(t *testing.T) {
	bg := func(ro *v1alpha1.Rollout) *v1alpha1.Rollout {
		ro.Spec.Strategy.Canary.Analysis = &v1alpha1.RolloutAnalysisBackground{
			RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "t"}}},
			StartingStep:    new(int32(2)),
		}
		return ro
	}
	// Stays Running: the rollout completes and the run is terminated on promotion.
	w := newWorld(t, bg(routedRollout(4, setWeight(25), pause("10s"), setWeight(50), pause("10s"))))
	w.run(time.Minute)
	w.verdict = func(*AnalysisRun) v1alpha1.AnalysisPhase { return v1alpha1.AnalysisPhaseRunning }
	w.update("v2")
	w.runUntil(time.Minute, "step 2", func() bool { return w.index() >= 2 })
	if len(w.created) != 1 || w.created[0] != "ro-"+w.hash()+"-2" {
		t.Fatalf("background run not created at startingStep: %v", w.created)
	}
	w.run(5 * time.Minute)
	if !w.healthyOnCurrent() || !w.runs[0].Terminated || w.ro.Status.Canary.CurrentBackgroundAnalysisRunStatus != nil {
		t.Fatalf("promotion: healthy %v, run %+v, status %+v\n%s", w.healthyOnCurrent(), w.runs[0], w.ro.Status.Canary.CurrentBackgroundAnalysisRunStatus, w.log.String())
	}
	// Turns bad mid-way: the rollout aborts, traffic back to the stable first (world checks).
	w.verdict = func(*AnalysisRun) v1alpha1.AnalysisPhase { return v1alpha1.AnalysisPhaseRunning }
	w.update("v3")
	w.runUntil(time.Minute, "step 3", func() bool { return w.index() >= 3 })
	w.verdict = phases(map[string]v1alpha1.AnalysisPhase{"Background": v1alpha1.AnalysisPhaseFailed})
	w.run(5 * time.Minute)
	if st := w.ro.Status; !st.Abort || !w.canaryGone() || !strings.Contains(st.Message, "error-rate") {
		t.Fatalf("background failure: abort %v phase %s %q\n%s", st.Abort, st.Phase, st.Message, w.log.String())
	}
}

func TestAnalysisRunHistoryLimit(t *testing.T) {
	ro := rollout(2, setWeight(50), analysisStep("t"))
	ro.Spec.Analysis = &v1alpha1.AnalysisRunStrategy{SuccessfulRunHistoryLimit: new(int32(2))}
	w := newWorld(t, ro)
	w.run(time.Minute)
	w.verdict = phases(nil)
	for _, img := range []string{"v2", "v3", "v4", "v5"} {
		w.update(img)
		w.run(5 * time.Minute)
	}
	if len(w.created) != 4 || len(w.runs) != 2 {
		t.Fatalf("created %v, kept %d", w.created, len(w.runs))
	}
}

// canaryGone: only the stable has pods, and a router (if any) sends nothing to the canary.
func (w *world) canaryGone() bool {
	for _, rs := range w.rss {
		if rs.Hash != w.ro.Status.StableRS && rs.Spec > 0 {
			return false
		}
	}
	return !w.routed() || (w.router != nil && w.router.Canary.Weight == 0)
}

// `promote` on an inconclusive step analysis, as Argo's plugin patches it: the step is skipped
// (no new run for it) and the update goes on.
func TestPromotePastInconclusiveStep(t *testing.T) {
	w := newWorld(t, rollout(4, setWeight(25), analysisStep("t"), setWeight(50)))
	w.run(time.Minute)
	w.verdict = phases(map[string]v1alpha1.AnalysisPhase{"Step-1": v1alpha1.AnalysisPhaseInconclusive})
	w.update("v2")
	w.run(5 * time.Minute)
	if w.ro.Status.Phase != v1alpha1.RolloutPhasePaused {
		t.Fatalf("not paused: %s", w.snapshot())
	}
	next := *w.ro.Status.CurrentStepIndex + 1
	w.ro.Status.PauseConditions, w.ro.Status.ControllerPause, w.ro.Status.CurrentStepIndex = nil, false, &next
	w.run(5 * time.Minute)
	if len(w.created) != 1 || !w.healthyOnCurrent() || w.ro.Status.Canary.CurrentStepAnalysisRunStatus != nil {
		t.Fatalf("after promote: runs %v, %s\n%s", w.created, w.snapshot(), w.log.String())
	}
}
