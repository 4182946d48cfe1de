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

// AnalysisRun types (the rollout-type label), as Argo Rollouts names them.
const (
	AnalysisTypeStep       = "Step"
	AnalysisTypeBackground = "Background"
)

// AnalysisRun is what the plan needs to know about an AnalysisRun the Rollout owns.
type AnalysisRun struct {
	Name string
	// Type is the rollout-type label (Step or Background); Hash the pod-template hash it
	// measures; StepIndex the step-index label (step runs).
	Type      string
	Hash      string
	StepIndex *int32
	// Revision is the rollout.argoproj.io/revision annotation (0: unknown).
	Revision int64
	Phase    v1alpha1.AnalysisPhase
	Message  string
	// Terminated is spec.terminate: the Rollout is done with it.
	Terminated bool
	Created    time.Time
}

// NewAnalysisRun is an AnalysisRun the controller should create from Analysis (a step's, or
// the background analysis).
type NewAnalysisRun struct {
	Name      string
	Type      string
	StepIndex *int32
	Analysis  *v1alpha1.RolloutAnalysis
}

// Default run history limits (spec.analysis.successfulRunHistoryLimit and
// unsuccessfulRunHistoryLimit).
const (
	DefaultSuccessfulRunHistory   = 5
	DefaultUnsuccessfulRunHistory = 5
)

// AnalysisRunName is the name of a run the Rollout creates: <rollout>-<hash>-<revision>,
// then -<step> for a step run; attempt n > 0 adds .n.
func AnalysisRunName(rollout, hash string, revision int64, step *int32, attempt int) string {
	name := fmt.Sprintf("%s-%s-%d", rollout, hash, revision)
	if step != nil {
		name += "-" + strconv.Itoa(int(*step))
	}
	if attempt > 0 {
		name += "." + strconv.Itoa(attempt)
	}
	return name
}

// retireAllRuns marks every run the Rollout still holds for termination (new steps, an abort,
// a promotion): none of their results may decide what follows.
func (c *computation) retireAllRuns() { c.retireAll = true }

// retireRunsBefore retires the runs created before t (a retry retires those from before the
// abort; runs the retry itself started survive a pass that has to be repeated).
func (c *computation) retireRunsBefore(t time.Time) { c.retireBefore = &t }

func (c *computation) retiring(r *AnalysisRun) bool {
	return c.retireAll || c.retired[r.Name] || (c.retireBefore != nil && r.Created.Before(*c.retireBefore))
}

// currentRun is the newest run of a type (and step) for the current template that the Rollout
// has not retired.
func (c *computation) currentRun(typ string, step *int32) *AnalysisRun {
	var cur *AnalysisRun
	for i := range c.in.AnalysisRuns {
		r := &c.in.AnalysisRuns[i]
		if r.Type != typ || r.Hash != c.in.NewHash || (r.Revision != 0 && r.Revision != c.in.Revision) || r.Terminated || c.retiring(r) {
			continue
		}
		if (step == nil) != (r.StepIndex == nil) || (step != nil && *step != *r.StepIndex) {
			continue
		}
		if cur == nil || r.Created.After(cur.Created) || (r.Created.Equal(cur.Created) && r.Name > cur.Name) {
			cur = r
		}
	}
	return cur
}

// startRun asks for a new run and returns its name.
func (c *computation) startRun(typ string, step *int32, a *v1alpha1.RolloutAnalysis) string {
	for _, n := range c.plan.CreateAnalysisRuns {
		if n.Type == typ && ((step == nil && n.StepIndex == nil) || (step != nil && n.StepIndex != nil && *step == *n.StepIndex)) {
			return n.Name
		}
	}
	name := ""
	for attempt := 0; ; attempt++ {
		name = AnalysisRunName(c.ro.Name, c.in.NewHash, c.in.Revision, step, attempt)
		if !slices.ContainsFunc(c.in.AnalysisRuns, func(r AnalysisRun) bool { return r.Name == name }) {
			break
		}
	}
	c.plan.CreateAnalysisRuns = append(c.plan.CreateAnalysisRuns, NewAnalysisRun{Name: name, Type: typ, StepIndex: step, Analysis: a})
	return name
}

// runVerdict applies a run's result: Failed or Error aborts the update, Inconclusive pauses
// it until a user promotes (which runs the analysis again) or aborts. It reports whether the
// run is Successful.
func (c *computation) runVerdict(r *AnalysisRun) bool {
	switch r.Phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		return true
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		c.abortForAnalysis(r)
	case v1alpha1.AnalysisPhaseInconclusive:
		if c.pauseCondition(v1alpha1.PauseReasonInconclusiveAnalysis) != nil {
			return false
		}
		if c.st.ControllerPause && c.inconclusivePaused() {
			// We paused for this run and a user removed the pause: analyse again. (Blue-green
			// keeps controllerPause until the cut-over: it also says its pause happened.)
			if c.ro.Spec.Strategy.Canary != nil {
				c.st.ControllerPause = false
			}
			c.retired[r.Name] = true
			c.plan.TerminateAnalysisRuns = append(c.plan.TerminateAnalysisRuns, r.Name)
			c.event(false, "RolloutResumed", "Rollout is resumed")
			return false
		}
		c.st.PauseConditions = append(c.st.PauseConditions, v1alpha1.PauseCondition{
			Reason: v1alpha1.PauseReasonInconclusiveAnalysis, StartTime: c.now,
		})
		c.st.ControllerPause = true
		c.event(false, "RolloutPaused", "Rollout is paused (%s): AnalysisRun %s is Inconclusive: %s", v1alpha1.PauseReasonInconclusiveAnalysis, r.Name, r.Message)
	default: // Pending, Running: wait (the run's changes wake the Rollout)
	}
	return false
}

// inconclusivePaused is true when the previous status paused for an inconclusive run.
func (c *computation) inconclusivePaused() bool {
	for _, s := range []*v1alpha1.RolloutAnalysisRunStatus{c.ro.Status.Canary.CurrentStepAnalysisRunStatus, c.ro.Status.Canary.CurrentBackgroundAnalysisRunStatus,
		c.ro.Status.BlueGreen.PrePromotionAnalysisRunStatus, c.ro.Status.BlueGreen.PostPromotionAnalysisRunStatus} {
		if s != nil && s.Status == v1alpha1.AnalysisPhaseInconclusive {
			return true
		}
	}
	return false
}

func (c *computation) abortForAnalysis(r *AnalysisRun) {
	if c.st.Abort {
		return
	}
	c.st.Abort = true
	c.st.AbortedAt = &c.now
	c.clearPauses()
	c.st.PromoteFull = false
	c.setIndex(0)
	msg := fmt.Sprintf(msgAborted, c.in.Revision) + ": " + r.Message
	if r.Message == "" {
		msg = fmt.Sprintf(msgAborted+": AnalysisRun %s is %s", c.in.Revision, r.Name, r.Phase)
	}
	c.event(true, "RolloutAborted", "%s", msg)
	setCondition(&c.st, v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonRolloutAborted, msg, c.now)
	c.retireAllRuns()
}

func runStatus(r *AnalysisRun, name string) *v1alpha1.RolloutAnalysisRunStatus {
	if r == nil {
		return &v1alpha1.RolloutAnalysisRunStatus{Name: name, Status: v1alpha1.AnalysisPhasePending}
	}
	return &v1alpha1.RolloutAnalysisRunStatus{Name: r.Name, Status: r.Phase, Message: r.Message}
}

// stepAnalysisDone runs the analysis of the current step: it starts a run when there is
// none, and the step is done when the run is Successful.
func (c *computation) stepAnalysisDone(a *v1alpha1.RolloutAnalysis) bool {
	i := c.index()
	r := c.currentRun(AnalysisTypeStep, &i)
	if r == nil {
		c.st.Canary.CurrentStepAnalysisRunStatus = runStatus(nil, c.startRun(AnalysisTypeStep, &i, a))
		return false
	}
	c.st.Canary.CurrentStepAnalysisRunStatus = runStatus(r, "")
	if c.runVerdict(r) {
		c.st.Canary.CurrentStepAnalysisRunStatus = nil
		return true
	}
	return false
}

// backgroundAnalysis runs spec.strategy.canary.analysis from startingStep until promotion.
func (c *computation) backgroundAnalysis() {
	bg := c.ro.Spec.Strategy.Canary.Analysis
	if bg == nil || c.promoted() || c.st.Abort || c.stableRS == nil || c.stableRS == c.newRS {
		return
	}
	if start := bg.StartingStep; start != nil && c.index() < *start {
		return
	}
	r := c.currentRun(AnalysisTypeBackground, nil)
	if r == nil {
		c.st.Canary.CurrentBackgroundAnalysisRunStatus = runStatus(nil, c.startRun(AnalysisTypeBackground, nil, &bg.RolloutAnalysis))
		return
	}
	c.st.Canary.CurrentBackgroundAnalysisRunStatus = runStatus(r, "")
	c.runVerdict(r)
}

// settleAnalysisRuns terminates the runs that no longer decide anything and deletes finished
// ones beyond the history limits.
func (c *computation) settleAnalysisRuns() {
	current := map[string]bool{}
	if !c.st.Abort && !c.promoted() {
		for _, s := range []*v1alpha1.RolloutAnalysisRunStatus{c.st.Canary.CurrentStepAnalysisRunStatus, c.st.Canary.CurrentBackgroundAnalysisRunStatus,
			c.st.BlueGreen.PrePromotionAnalysisRunStatus, c.st.BlueGreen.PostPromotionAnalysisRunStatus} {
			if s != nil {
				current[s.Name] = true
			}
		}
	}
	if c.promoted() && !c.st.Abort {
		c.st.Canary.CurrentStepAnalysisRunStatus = nil
		c.st.Canary.CurrentBackgroundAnalysisRunStatus = nil
	}
	if c.st.Canary.CurrentStepAnalysisRunStatus != nil && !c.st.Abort && !c.onAnalysisStep() {
		c.st.Canary.CurrentStepAnalysisRunStatus = nil
	}
	var done []*AnalysisRun
	for i := range c.in.AnalysisRuns {
		r := &c.in.AnalysisRuns[i]
		finished := isFinished(r.Phase)
		switch {
		case r.Terminated || c.retired[r.Name]:
		case c.retiring(r) || (!finished && !current[r.Name]):
			c.retired[r.Name] = true
			c.plan.TerminateAnalysisRuns = append(c.plan.TerminateAnalysisRuns, r.Name)
		}
		if finished && !current[r.Name] {
			done = append(done, r)
		}
	}
	slices.SortFunc(done, func(a, b *AnalysisRun) int { return cmp.Compare(b.Created.UnixNano(), a.Created.UnixNano()) })
	okLimit, badLimit := DefaultSuccessfulRunHistory, DefaultUnsuccessfulRunHistory
	if h := c.ro.Spec.Analysis; h != nil {
		if h.SuccessfulRunHistoryLimit != nil {
			okLimit = int(*h.SuccessfulRunHistoryLimit)
		}
		if h.UnsuccessfulRunHistoryLimit != nil {
			badLimit = int(*h.UnsuccessfulRunHistoryLimit)
		}
	}
	ok, bad := 0, 0
	for _, r := range done {
		if r.Phase == v1alpha1.AnalysisPhaseSuccessful {
			ok++
			if ok > okLimit {
				c.plan.DeleteAnalysisRuns = append(c.plan.DeleteAnalysisRuns, r.Name)
			}
		} else {
			bad++
			if bad > badLimit {
				c.plan.DeleteAnalysisRuns = append(c.plan.DeleteAnalysisRuns, r.Name)
			}
		}
	}
	slices.Sort(c.plan.TerminateAnalysisRuns)
	c.plan.TerminateAnalysisRuns = slices.Compact(c.plan.TerminateAnalysisRuns)
}

func (c *computation) onAnalysisStep() bool {
	i := c.index()
	return int(i) < len(c.steps) && c.steps[i].Analysis != nil
}

func isFinished(p v1alpha1.AnalysisPhase) bool {
	switch p {
	case v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
		return true
	default:
		return false
	}
}
