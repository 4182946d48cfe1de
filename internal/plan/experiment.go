package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Experiment is what the plan needs to know about an Experiment the Rollout owns.
type Experiment struct {
	Name string
	// Hash is the rollouts-pod-template-hash label (the Rollout's template it was created
	// for), Revision the rollout.argoproj.io/revision annotation (0: unknown), StepIndex the
	// step that created it.
	Hash      string
	Revision  int64
	StepIndex *int32
	Phase     v1alpha1.AnalysisPhase
	Message   string
	// Invalid is the message of its InvalidSpec condition when the Experiment controller
	// refused it (it then gets no phase, as with Argo): the Rollout aborts with it.
	Invalid string
	// Terminated is spec.terminate: the Rollout is done with it.
	Terminated bool
	Created    time.Time
	// Templates are the states of its templates (status.templateStatuses).
	Templates []ExperimentTemplate
}

// ExperimentTemplate is what the plan needs to know about a template of an Experiment: its
// Service (status.templateStatuses[].serviceName and podTemplateHash) and available pods.
type ExperimentTemplate struct {
	Name, ServiceName, PodTemplateHash string
	Available                          int32
}

// ReasonExperimentNameTaken is the reason of the Warning event recorded when the name of a
// step's Experiment is taken by an Experiment the Rollout does not own.
const ReasonExperimentNameTaken = "ExperimentNameTaken"

// NewExperiment is an Experiment the controller should create from the experiment step at
// StepIndex.
type NewExperiment struct {
	Name      string
	StepIndex int32
	Step      *v1alpha1.RolloutExperimentStep
}

// ExperimentName is the name of the Experiment of an experiment step:
// <rollout>-<hash>-<revision>-<step>, then -<n> for attempt n > 0.
func ExperimentName(rollout, hash string, revision int64, step int32, attempt int) string {
	name := fmt.Sprintf("%s-%s-%d-%d", rollout, hash, revision, step)
	if attempt > 0 {
		name += "-" + strconv.Itoa(attempt)
	}
	return name
}

func (c *computation) experimentRetiring(e *Experiment) bool {
	return c.retireAll || c.retiredEx[e.Name] || (c.retireBefore != nil && e.Created.Before(*c.retireBefore))
}

// currentExperiment is the newest Experiment of step i for the current template that the
// Rollout has not retired (terminated, unless it is status.canary.currentExperiment).
func (c *computation) currentExperiment(i int32) *Experiment {
	var cur *Experiment
	for k := range c.in.Experiments {
		e := &c.in.Experiments[k]
		// A terminated one still counts when it is the one the status names: a user
		// terminates an Experiment without a duration to end the step (as with Argo).
		if e.Hash != c.in.NewHash || (e.Revision != 0 && e.Revision != c.in.Revision) || e.StepIndex == nil || *e.StepIndex != i ||
			(e.Terminated && e.Name != c.st.Canary.CurrentExperiment) || c.experimentRetiring(e) {
			continue
		}
		if cur == nil || e.Created.After(cur.Created) || (e.Created.Equal(cur.Created) && e.Name > cur.Name) {
			cur = e
		}
	}
	return cur
}

// stepExperimentDone runs the experiment of the current step: it asks for the Experiment when
// there is none, and the step is done when it is Successful. Failed or Error aborts the
// update; Inconclusive pauses it until a user resumes (which runs the experiment again) or
// aborts.
func (c *computation) stepExperimentDone(step *v1alpha1.RolloutExperimentStep) bool {
	i := c.index()
	e := c.currentExperiment(i)
	if e == nil {
		if c.plan.CreateExperiment != nil {
			c.st.Canary.CurrentExperiment = c.plan.CreateExperiment.Name
			return false
		}
		name := ""
		for attempt := 0; ; attempt++ {
			name = ExperimentName(c.ro.Name, c.in.NewHash, c.in.Revision, i, attempt)
			if slices.Contains(c.in.ForeignExperiments, name) {
				c.event(true, ReasonExperimentNameTaken, "Experiment %s exists and is not owned by this Rollout: the step's Experiment takes the next name", name)
				continue
			}
			if !slices.ContainsFunc(c.in.Experiments, func(e Experiment) bool { return e.Name == name }) {
				break
			}
		}
		c.plan.CreateExperiment = &NewExperiment{Name: name, StepIndex: i, Step: step}
		c.st.Canary.CurrentExperiment = name
		c.event(false, "ExperimentCreated", "Created Experiment '%s'", name)
		return false
	}
	if e.Invalid != "" && !isFinished(e.Phase) {
		// Argo's Rollout would wait at the step for ever; it never gets a phase.
		c.abortFor(fmt.Sprintf("Experiment %s was refused (%s): %s", e.Name, v1alpha1.ReasonInvalidSpec, e.Invalid), "")
		return false
	}
	switch e.Phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		c.st.Canary.CurrentExperiment = ""
		return true
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		c.abortFor(e.Message, fmt.Sprintf("Experiment %s is %s", e.Name, e.Phase))
		return false
	case v1alpha1.AnalysisPhaseInconclusive:
		c.st.Canary.CurrentExperiment = e.Name
		if c.pauseCondition(v1alpha1.PauseReasonInconclusiveExperiment) != nil {
			return false
		}
		if c.st.ControllerPause {
			// We paused for it and a user removed the pause: run the experiment again.
			c.st.ControllerPause = false
			c.retiredEx[e.Name] = true
			c.plan.TerminateExperiments = append(c.plan.TerminateExperiments, e.Name) // (marks it done with)
			c.st.Canary.CurrentExperiment = ""
			c.event(false, "RolloutResumed", "Rollout is resumed")
			return false
		}
		c.st.PauseConditions = append(c.st.PauseConditions, v1alpha1.PauseCondition{Reason: v1alpha1.PauseReasonInconclusiveExperiment, StartTime: c.now})
		c.st.ControllerPause = true
		c.event(false, "RolloutPaused", "Rollout is paused (%s): Experiment %s is Inconclusive: %s", v1alpha1.PauseReasonInconclusiveExperiment, e.Name, e.Message)
		return false
	default: // Pending, Running: wait (the Experiment's changes wake the Rollout)
		c.st.Canary.CurrentExperiment = e.Name
		return false
	}
}

// abortFor aborts the update because a child (AnalysisRun, Experiment) failed; msg is its
// message, or what to say when it has none.
func (c *computation) abortFor(msg, fallback string) {
	if c.st.Abort {
		return
	}
	c.st.Abort = true
	c.st.AbortedAt = &c.now
	c.clearPauses()
	c.st.PromoteFull = false
	c.setIndex(0)
	if msg == "" {
		msg = fallback
	}
	text := fmt.Sprintf(msgAborted, c.in.Revision) + ": " + msg
	c.event(true, "RolloutAborted", "%s", text)
	setCondition(&c.st, v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonRolloutAborted, text, c.now)
	c.retireAllRuns()
}

// settleExperiments terminates the Experiments that no longer decide anything (abort,
// promotion, a new template or steps, another step) and deletes finished ones beyond the
// history limits.
func (c *computation) settleExperiments() {
	current := ""
	if !c.st.Abort && !c.promoted() && c.onExperimentStep() {
		current = c.st.Canary.CurrentExperiment
	}
	if current == "" {
		c.st.Canary.CurrentExperiment = ""
	}
	var done []*Experiment
	for k := range c.in.Experiments {
		e := &c.in.Experiments[k]
		finished := isFinished(e.Phase)
		// A retired one is marked even when finished: a retry must not take its verdict again.
		if !e.Terminated && e.Name != current && (!finished || (c.experimentRetiring(e) && !c.promoted())) && !slices.Contains(c.plan.TerminateExperiments, e.Name) {
			c.plan.TerminateExperiments = append(c.plan.TerminateExperiments, e.Name)
		}
		if finished && e.Name != current {
			done = append(done, e)
		}
	}
	slices.SortFunc(done, func(a, b *Experiment) int { return cmp.Compare(b.Created.UnixNano(), a.Created.UnixNano()) })
	okLimit, badLimit := c.historyLimits()
	ok, bad := 0, 0
	for _, e := range done {
		if e.Phase == v1alpha1.AnalysisPhaseSuccessful {
			if ok++; ok > okLimit {
				c.plan.DeleteExperiments = append(c.plan.DeleteExperiments, e.Name)
			}
		} else if bad++; bad > badLimit {
			c.plan.DeleteExperiments = append(c.plan.DeleteExperiments, e.Name)
		}
	}
	slices.Sort(c.plan.TerminateExperiments)
}

func (c *computation) historyLimits() (ok, bad int) {
	ok, bad = DefaultSuccessfulRunHistory, DefaultUnsuccessfulRunHistory
	if h := c.ro.Spec.Analysis; h != nil {
		if h.SuccessfulRunHistoryLimit != nil {
			ok = int(*h.SuccessfulRunHistoryLimit)
		}
		if h.UnsuccessfulRunHistoryLimit != nil {
			bad = int(*h.UnsuccessfulRunHistoryLimit)
		}
	}
	return ok, bad
}

// indefiniteStep: the current canary step waits for an analysis or an experiment, whose own
// limits govern how long it takes; the Rollout's progressDeadlineSeconds does not (as Argo).
func (c *computation) indefiniteStep() bool {
	if c.ro.Spec.Strategy.Canary == nil || c.st.Abort || c.promoted() {
		return false
	}
	i := c.index()
	return int(i) < len(c.steps) && (c.steps[i].Experiment != nil || c.steps[i].Analysis != nil)
}

// experimentTraffic are the routers' additional destinations: while the current experiment
// step's Experiment runs, each template with a weight whose Service selects available pods
// gets that weight, taken from the stable's share (never more than the canary leaves). A
// template without available pods gets none: no weight goes to pods that cannot take it.
func (c *computation) experimentTraffic(canary int32) []v1alpha1.WeightDestination {
	if !c.routed() || c.promoted() {
		return nil
	}
	if out := c.runningExperimentTraffic(canary); out != nil {
		return out
	}
	return c.releasedExperimentTraffic(canary)
}

// releasedExperimentTraffic: once the experiment's share is no longer wanted (the step is over,
// the Experiment ended, an abort), it goes back to the stable only as far as the stable's
// available pods can carry it (scale first, then shift): the destinations the routers still
// send to are kept, while their pods are available, until the rest fits (a restart or a
// failure may have left the stable short, and dynamicStableScale sized it for less).
func (c *computation) releasedExperimentTraffic(canary int32) []v1alpha1.WeightDestination {
	ws := c.ro.Status.Canary.Weights
	if ws == nil || len(ws.Additional) == 0 || c.stableRS == nil || c.stableRS == c.newRS || c.replicas == 0 {
		return nil
	}
	maxW := c.maxWeight()
	carry := c.stableRS.Available * maxW / c.replicas // the weight the stable's available pods carry
	var out []v1alpha1.WeightDestination
	var kept int32
	for _, d := range ws.Additional {
		if maxW-canary-kept <= carry {
			break
		}
		if kept+d.Weight > maxW-canary || !c.experimentPodsAvailable(d) {
			continue
		}
		kept += d.Weight
		out = append(out, d)
	}
	return out
}

// experimentPodsAvailable reports whether the Experiment template behind d still has
// available pods.
func (c *computation) experimentPodsAvailable(d v1alpha1.WeightDestination) bool {
	for _, e := range c.in.Experiments {
		for _, t := range e.Templates {
			if t.ServiceName == d.ServiceName && t.PodTemplateHash == d.PodTemplateHash && t.Available > 0 {
				return true
			}
		}
	}
	return false
}

// runningExperimentTraffic is experimentTraffic while the current step's Experiment runs.
func (c *computation) runningExperimentTraffic(canary int32) []v1alpha1.WeightDestination {
	if c.st.Abort || !c.onExperimentStep() || c.st.Canary.CurrentExperiment == "" {
		return nil
	}
	var e *Experiment
	for k := range c.in.Experiments {
		if c.in.Experiments[k].Name == c.st.Canary.CurrentExperiment {
			e = &c.in.Experiments[k]
		}
	}
	if e == nil || e.Phase != v1alpha1.AnalysisPhaseRunning || e.Terminated {
		return nil
	}
	left := c.maxWeight() - canary
	var out []v1alpha1.WeightDestination
	for _, t := range c.steps[c.index()].Experiment.Templates {
		if t.Weight == nil || *t.Weight <= 0 {
			continue
		}
		i := slices.IndexFunc(e.Templates, func(x ExperimentTemplate) bool { return x.Name == t.Name })
		if i < 0 || e.Templates[i].ServiceName == "" || e.Templates[i].Available == 0 || *t.Weight > left {
			continue
		}
		left -= *t.Weight
		out = append(out, v1alpha1.WeightDestination{Weight: *t.Weight, ServiceName: e.Templates[i].ServiceName, PodTemplateHash: e.Templates[i].PodTemplateHash})
	}
	return out
}

func (c *computation) onExperimentStep() bool {
	i := c.index()
	return int(i) < len(c.steps) && c.steps[i].Experiment != nil
}

// validateExperimentStep checks an experiment step (template weights need a router:
// trafficrouter checks which).
func validateExperimentStep(at string, e *v1alpha1.RolloutExperimentStep, routed bool) string {
	p := at + ".experiment"
	if len(e.Templates) == 0 {
		return p + ".templates must list at least one template"
	}
	seen := map[string]bool{}
	for j, t := range e.Templates {
		tp := fmt.Sprintf("%s.templates[%d]", p, j)
		switch {
		case t.Name == "":
			return tp + ".name is required"
		case seen[t.Name]:
			return fmt.Sprintf("%s.name %q is used by another template", tp, t.Name)
		case t.SpecRef != v1alpha1.CanarySpecRef && t.SpecRef != v1alpha1.StableSpecRef:
			return fmt.Sprintf("%s.specRef must be canary or stable, not %q", tp, t.SpecRef)
		case t.Weight != nil && !routed:
			return tp + ".weight needs trafficRouting: without a router the experiment's pods get the traffic their Services send them"
		}
		seen[t.Name] = true
	}

	if e.Duration != "" {
		if d, err := e.Duration.Duration(); err != nil || d < 0 {
			return fmt.Sprintf("%s.duration %q is not a duration: use 30s, 5m, 1h", p, e.Duration)
		}
	}
	names := map[string]bool{}
	for j, a := range e.Analyses {
		if names[a.Name] {
			return fmt.Sprintf("%s.analyses[%d].name %q is used by another analysis", p, j, a.Name)
		}
		names[a.Name] = true
	}
	return ""
}

// experimentWeightsProblem: an experiment step's template weights and the setWeight in force
// at it (weight) must fit in the routers' total.
func experimentWeightsProblem(at string, e *v1alpha1.RolloutExperimentStep, weight, maxW int32) string {
	sum := weight
	for _, t := range e.Templates {
		if t.Weight != nil {
			sum += *t.Weight
		}
	}
	if sum > maxW {
		return fmt.Sprintf("%s.experiment: the template weights and the setWeight in force (%d) add up to %d, more than %d", at, weight, sum, maxW)
	}
	return ""
}
