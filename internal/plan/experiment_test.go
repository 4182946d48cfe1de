package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// experimentWorld plays the Experiment controller: an Experiment created by a pass is
// Running, and at the next settle takes the phase exVerdict gives it (nil: Successful).
type experimentWorld struct {
	exps       []Experiment
	exVerdict  func(e *Experiment) v1alpha1.AnalysisPhase
	exCreated  []string
	terminated []string
	// exInvalid, when set, is the InvalidSpec message of every Experiment created (it gets no
	// phase); exForeign are the names of Experiments the Rollout does not own.
	exInvalid string
	exForeign []string
}

func (a *experimentWorld) experiments() []Experiment { return slices.Clone(a.exps) }

func (w *world) actExperiments(p *Plan) {
	if n := p.CreateExperiment; n != nil {
		if slices.ContainsFunc(w.exps, func(e Experiment) bool { return e.Name == n.Name }) {
			w.t.Fatalf("experiment %s created twice", n.Name)
		}
		e := Experiment{Name: n.Name, Hash: w.hash(), StepIndex: new(n.StepIndex), Revision: w.find(w.hash()).Revision,
			Phase: v1alpha1.AnalysisPhasePending, Created: w.now}
		if w.exInvalid != "" {
			e.Phase, e.Invalid = "", w.exInvalid
		}
		for _, t := range n.Step.Templates {
			e.Templates = append(e.Templates, ExperimentTemplate{Name: t.Name, ServiceName: n.Name + "-" + t.Name})
		}
		w.exps = append(w.exps, e)
		w.exCreated = append(w.exCreated, n.Name)
		w.logf("create Experiment %s", n.Name)
	}
	for _, name := range p.TerminateExperiments {
		for i := range w.exps {
			if e := &w.exps[i]; e.Name == name && !e.Terminated {
				e.Terminated = true
				if !isFinished(e.Phase) {
					e.Phase = v1alpha1.AnalysisPhaseSuccessful
				}
				w.terminated = append(w.terminated, name)
				w.logf("terminate Experiment %s", name)
			}
		}
	}
	w.exps = slices.DeleteFunc(w.exps, func(e Experiment) bool { return slices.Contains(p.DeleteExperiments, e.Name) })
	live := 0
	for _, e := range w.exps {
		if !e.Terminated && !isFinished(e.Phase) && e.Hash == w.hash() {
			live++
		}
	}
	if live > 1 {
		w.t.Fatalf("%d live experiments: %+v", live, w.exps)
	}
}

func (w *world) settleExperiments() {
	for i := range w.exps {
		e := &w.exps[i]
		if e.Terminated || isFinished(e.Phase) || e.Invalid != "" {
			continue
		}
		if e.Phase == v1alpha1.AnalysisPhasePending {
			e.Phase = v1alpha1.AnalysisPhaseRunning
			for j := range e.Templates {
				e.Templates[j].Available = 1
			}
			continue
		}
		p := v1alpha1.AnalysisPhaseSuccessful
		if w.exVerdict != nil {
			p = w.exVerdict(e)
		}
		if p != e.Phase {
			e.Phase = p
			if p != v1alpha1.AnalysisPhaseSuccessful && p != v1alpha1.AnalysisPhaseRunning {
				e.Message = `Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)`
			}
			w.logf("Experiment %s: %s", e.Name, p)
		}
	}
}

func experimentStep() v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Experiment: &v1alpha1.RolloutExperimentStep{
		Duration: "1m",
		Templates: []v1alpha1.RolloutExperimentTemplate{
			{Name: "baseline", SpecRef: v1alpha1.StableSpecRef},
			{Name: "canary", SpecRef: v1alpha1.CanarySpecRef},
		},
	}}
}

func exPhase(p v1alpha1.AnalysisPhase) func(*Experiment) v1alpha1.AnalysisPhase {
	return func(*Experiment) v1alpha1.AnalysisPhase { return p }
}

func TestExperimentStep(t *testing.T) {
	for _, routed := range []bool{false, true} {
		t.Run("successful", func(t *testing.T) {
			ro := rollout(4, setWeight(25), experimentStep(), setWeight(50))
			if routed {
				ro = routedRollout(4, setWeight(25), experimentStep(), setWeight(50))
			}
			w := newWorld(t, ro)
			w.run(time.Minute)
			if len(w.exCreated) != 0 {
				t.Fatalf("the initial deploy ran an experiment: %v", w.exCreated)
			}
			w.exVerdict = exPhase(v1alpha1.AnalysisPhaseRunning)
			w.update("v2")
			w.run(2 * time.Minute)
			want := "ro-" + w.hash() + "-2-1"
			if len(w.exCreated) != 1 || w.exCreated[0] != want || w.index() != 1 || w.ro.Status.Canary.CurrentExperiment != want {
				t.Fatalf("experiments %v, step %d, currentExperiment %q\n%s", w.exCreated, w.index(), w.ro.Status.Canary.CurrentExperiment, w.log.String())
			}
			w.exVerdict = nil
			w.run(2 * time.Minute)
			if !w.healthyOnCurrent() || w.ro.Status.Canary.CurrentExperiment != "" || len(w.terminated) != 0 {
				t.Fatalf("after a Successful experiment: phase %s, current %q, terminated %v\n%s", w.ro.Status.Phase, w.ro.Status.Canary.CurrentExperiment, w.terminated, w.log.String())
			}
		})
	}
}

func TestFailedExperimentAbortsAndRetryRunsAnother(t *testing.T) {
	for _, verdict := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError} {
		t.Run(string(verdict), func(t *testing.T) {
			w := newWorld(t, rollout(4, setWeight(25), experimentStep(), setWeight(50)))
			w.run(time.Minute)
			w.exVerdict = exPhase(verdict)
			w.update("v2")
			w.run(5 * time.Minute)
			st := w.ro.Status
			if !st.Abort || st.Phase != v1alpha1.RolloutPhaseDegraded || !strings.Contains(st.Message, `Metric "error-rate" assessed Failed`) || !w.canaryGone() {
				t.Fatalf("a %s experiment: abort=%v phase %s %q\n%s", verdict, st.Abort, st.Phase, st.Message, w.log.String())
			}
			if st.Canary.CurrentExperiment != "" {
				t.Errorf("currentExperiment %q after the abort", st.Canary.CurrentExperiment)
			}
			w.exVerdict = nil
			w.ro.Status.Abort = false
			w.run(5 * time.Minute)
			if len(w.exCreated) != 2 || w.exCreated[1] != "ro-"+w.hash()+"-2-1-1" || !w.healthyOnCurrent() {
				t.Fatalf("retry: experiments %v, phase %s\n%s", w.exCreated, w.ro.Status.Phase, w.log.String())
			}
		})
	}
}

func TestExperimentTerminatedOnAbortPromotionAndNewRevision(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(w *world)
	}{
		{"abort", func(w *world) { w.ro.Status.Abort = true }},
		{"promote --full", func(w *world) { w.ro.Status.PromoteFull = true }},
		{"new revision", func(w *world) { w.update("v3") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, rollout(4, setWeight(25), experimentStep(), setWeight(50)))
			w.run(time.Minute)
			w.exVerdict = exPhase(v1alpha1.AnalysisPhaseRunning)
			w.update("v2")
			w.run(2 * time.Minute)
			if len(w.exCreated) != 1 {
				t.Fatalf("experiments %v", w.exCreated)
			}
			tc.do(w)
			w.run(30 * time.Second)
			if !slices.Contains(w.terminated, w.exCreated[0]) {
				t.Fatalf("%s: experiment %s not terminated (%v)\n%s", tc.name, w.exCreated[0], w.terminated, w.log.String())
			}
		})
	}
}

func TestInconclusiveExperimentPausesUntilResumed(t *testing.T) {
	w := newWorld(t, rollout(4, setWeight(25), experimentStep(), setWeight(50)))
	w.run(time.Minute)
	w.exVerdict = exPhase(v1alpha1.AnalysisPhaseInconclusive)
	w.update("v2")
	w.run(5 * time.Minute)
	st := w.ro.Status
	if st.Phase != v1alpha1.RolloutPhasePaused || len(st.PauseConditions) != 1 || st.PauseConditions[0].Reason != v1alpha1.PauseReasonInconclusiveExperiment || w.index() != 1 {
		t.Fatalf("inconclusive: phase %s pauses %+v step %d\n%s", st.Phase, st.PauseConditions, w.index(), w.log.String())
	}
	w.exVerdict = nil
	w.ro.Status.PauseConditions = nil
	w.run(5 * time.Minute)
	if len(w.exCreated) != 2 || !w.healthyOnCurrent() {
		t.Fatalf("after resume: experiments %v, phase %s\n%s", w.exCreated, w.ro.Status.Phase, w.log.String())
	}
}

func TestValidateExperimentStep(t *testing.T) {
	step := experimentStep()
	step.Experiment.Templates[1].Weight = new(int32(5))
	if msg := Validate(rollout(4, step)); !strings.Contains(msg, "steps[0].experiment.templates[1].weight needs trafficRouting") {
		t.Errorf("weight without a router: %q", msg)
	}
	if msg := Validate(routedRollout(4, setWeight(20), step)); msg != "" {
		t.Errorf("weight with a router: %q", msg)
	}
	step.Experiment.Templates[0].Weight = new(int32(50))
	if msg := Validate(routedRollout(4, setWeight(60), step)); !strings.Contains(msg, "steps[1].experiment: the template weights and the setWeight in force (60) add up to 115, more than 100") {
		t.Errorf("weights over 100: %q", msg)
	}
	step = experimentStep()
	step.Experiment.Templates[1].Name = "baseline"
	if msg := Validate(rollout(4, step)); !strings.Contains(msg, `"baseline" is used by another template`) {
		t.Errorf("duplicate name: %q", msg)
	}
	if msg := Validate(rollout(4, experimentStep())); msg != "" {
		t.Errorf("a valid experiment step refused: %q", msg)
	}
}

// An experiment without a duration runs until a user terminates it; then the step completes.
func TestTerminatedByTheUserCompletesTheStep(t *testing.T) {
	w := newWorld(t, rollout(4, setWeight(25), experimentStep(), setWeight(50)))
	w.run(time.Minute)
	w.exVerdict = exPhase(v1alpha1.AnalysisPhaseRunning)
	w.update("v2")
	w.run(2 * time.Minute)
	if len(w.exps) != 1 || w.index() != 1 {
		t.Fatalf("experiments %+v at step %d", w.exps, w.index())
	}
	w.exps[0].Terminated, w.exps[0].Phase = true, v1alpha1.AnalysisPhaseSuccessful // kubectl patch … terminate: true
	w.run(2 * time.Minute)
	if len(w.exCreated) != 1 || !w.healthyOnCurrent() {
		t.Fatalf("after the user's terminate: experiments %v, phase %s\n%s", w.exCreated, w.ro.Status.Phase, w.log.String())
	}
}

// An experiment longer than progressDeadlineSeconds (default 600 s) does not time the Rollout
// out: the step waits for the experiment, whose own limits apply.
func TestLongExperimentIsNoProgressDeadline(t *testing.T) {
	w := newWorld(t, rollout(4, setWeight(25), experimentStep(), setWeight(50)))
	w.run(time.Minute)
	w.exVerdict = exPhase(v1alpha1.AnalysisPhaseRunning)
	w.update("v2")
	w.run(time.Minute)
	w.now = w.now.Add(30 * time.Minute) // (a pass 30 min later, woken by anything)
	w.run(time.Minute)
	st := w.ro.Status
	if st.Phase != v1alpha1.RolloutPhaseProgressing || st.Abort || w.index() != 1 {
		t.Fatalf("after 30 min of experiment: phase %s %q, step %d\n%s", st.Phase, st.Message, w.index(), w.log.String())
	}
}

// With a router, a running experiment's weighted templates get their weight from the stable's
// share, only while their pods are available, and lose it when the step is over.
func TestExperimentWeights(t *testing.T) {
	step := experimentStep()
	step.Experiment.Templates[0].Weight = new(int32(5))
	step.Experiment.Templates[1].Weight = new(int32(5))
	w := newWorld(t, routedRollout(4, setWeight(20), step, setWeight(50)))
	w.run(time.Minute)
	w.exVerdict = exPhase(v1alpha1.AnalysisPhaseRunning)
	w.update("v2")
	w.run(2 * time.Minute)
	w.exps[0].Templates = nil // (no pods available yet)
	w.run(time.Minute)
	ws := w.ro.Status.Canary.Weights
	if ws == nil || ws.Canary.Weight != 20 || ws.Stable.Weight != 80 || len(ws.Additional) != 0 {
		t.Fatalf("before the templates are available: %+v", ws)
	}
	w.exps[0].Templates = []ExperimentTemplate{
		{Name: "baseline", ServiceName: "ro-exp-baseline", PodTemplateHash: "hb", Available: 1},
		{Name: "canary", ServiceName: "ro-exp-canary", PodTemplateHash: "hc", Available: 0},
	}
	w.run(time.Minute)
	if ws = w.ro.Status.Canary.Weights; ws.Stable.Weight != 75 || len(ws.Additional) != 1 || ws.Additional[0].ServiceName != "ro-exp-baseline" || ws.Additional[0].Weight != 5 {
		t.Fatalf("one template available: %+v", ws)
	}
	w.exps[0].Templates[1].Available = 1
	w.run(time.Minute)
	if ws = w.ro.Status.Canary.Weights; ws.Canary.Weight != 20 || ws.Stable.Weight != 70 || len(ws.Additional) != 2 {
		t.Fatalf("both available: %+v", ws)
	}
	w.exVerdict = nil // Successful: the step ends, the weights go back to the stable
	w.run(5 * time.Minute)
	if ws = w.ro.Status.Canary.Weights; len(ws.Additional) != 0 || !w.healthyOnCurrent() {
		t.Fatalf("after the experiment: %+v, phase %s\n%s", ws, w.ro.Status.Phase, w.log.String())
	}
}
