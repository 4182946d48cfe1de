package plan

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// resetOnChange restarts the steps when the template or the steps changed.
func (c *computation) resetOnChange() {
	stepsHash := "" // (blue-green has no steps; Argo writes no currentStepHash for it)
	if c.ro.Spec.Strategy.Canary != nil {
		stepsHash = StepsHash(c.steps)
	}
	if c.st.CurrentPodHash == c.in.NewHash && c.st.CurrentStepHash == stepsHash {
		return
	}
	templateChanged := c.st.CurrentPodHash != c.in.NewHash
	firstSight := c.st.CurrentPodHash == ""
	c.st.CurrentPodHash, c.st.CurrentStepHash = c.in.NewHash, stepsHash
	c.clearPauses()
	c.st.Abort, c.st.AbortedAt, c.st.PromoteFull = false, nil, false
	c.setIndex(0)
	if !firstSight && !templateChanged {
		// New steps for the same template: the runs of the old steps decide nothing. (A new
		// template has its own runs: they are matched by pod-template hash and revision.)
		c.retireAllRuns()
	}
	if templateChanged && !firstSight {
		c.event(false, "RolloutUpdated", "Rollout updated to revision %d", c.in.Revision)
	}
	if c.promoted() {
		c.setIndex(c.n())
		if templateChanged && !firstSight {
			c.event(false, "SkipSteps", "Rollback to stable ReplicaSets")
		}
	} else if templateChanged && !firstSight && c.rollbackWithinWindow() {
		c.setIndex(c.n())
		c.st.BlueGreen.ScaleUpPreviewCheckPoint = c.ro.Spec.Strategy.BlueGreen != nil
		c.event(false, "SkipSteps", "Rollback within the rollbackWindow (%d revisions): steps skipped", c.ro.Spec.RollbackWindow.Revisions)
	}
}

// rollbackWithinWindow is Argo's fast-tracked rollback: the current template's ReplicaSet is
// older than the stable one, and fewer than rollbackWindow.revisions versions were created
// between them.
func (c *computation) rollbackWithinWindow() bool {
	w := c.ro.Spec.RollbackWindow
	n, s := c.find(c.in.NewHash), c.find(c.st.StableRS)
	if w == nil || w.Revisions <= 0 || n == nil || s == nil || n == s || !n.Created.Before(s.Created) {
		return false
	}
	var between int32
	for i := range c.in.ReplicaSets {
		rs := &c.in.ReplicaSets[i]
		if rs.Created.Before(s.Created) && n.Created.Before(rs.Created) {
			between++
		}
	}
	return between < w.Revisions
}

// initialDeploy promotes at once when there is no stable ReplicaSet yet (first deploy, or the
// stable one was deleted): there is nothing to compare the new version with.
func (c *computation) initialDeploy() {
	c.stableRS = c.find(c.st.StableRS)
	if c.stableRS == nil {
		c.st.StableRS = c.in.NewHash
		c.stableRS = c.newRS
		c.setIndex(c.n())
		c.clearPauses()
		c.st.Abort, c.st.AbortedAt, c.st.PromoteFull = false, nil, false
		c.event(false, "RolloutCompleted", "Rollout completed update to revision %d (%s): Initial deploy", c.in.Revision, c.in.NewHash)
	}
	for i := range c.in.ReplicaSets {
		rs := &c.in.ReplicaSets[i]
		if rs.Hash != c.in.NewHash && rs.Hash != c.st.StableRS {
			c.others = append(c.others, rs)
		}
	}
	slices.SortFunc(c.others, func(a, b *ReplicaSet) int { return cmp.Compare(a.Revision, b.Revision) })
}

func (c *computation) abortOrRetry() {
	switch {
	case c.st.Abort && c.promoted():
		c.st.Abort, c.st.AbortedAt = false, nil
	case c.st.Abort:
		if c.st.AbortedAt == nil {
			c.st.AbortedAt = &c.now
			c.event(true, "RolloutAborted", "Rollout aborted update to revision %d", c.in.Revision)
			c.retireAllRuns()
		}
		c.clearPauses()
		c.st.PromoteFull = false
		c.setIndex(0)
	case c.st.AbortedAt != nil:
		c.retireRunsBefore(c.st.AbortedAt.Time)
		c.st.AbortedAt = nil
		c.setIndex(0)
		c.retried = true
		c.event(false, "RolloutRetry", "Rollout retried update to revision %d", c.in.Revision)
	}
}

// advanceSteps completes as many steps as the observed world allows.
func (c *computation) advanceSteps() {
	for c.index() < c.n() {
		i := c.index()
		step := &c.steps[i]
		if !c.stepDone(step) {
			return
		}
		c.event(false, "RolloutStepCompleted", "Rollout step %d/%d completed (%s)", i+1, c.n(), DescribeStep(step))
		c.setIndex(i + 1)
	}
}

func (c *computation) stepDone(step *v1alpha1.CanaryStep) bool {
	switch {
	case step.Pause != nil:
		return c.pauseDone(step.Pause)
	case step.SetWeight != nil && c.routed():
		canaryT, stableT := c.targets()
		// With 0 replicas there is no pod to route to: only the counts matter.
		return c.routedAtTargets(canaryT, stableT) && (c.replicas == 0 || c.weightApplied(*step.SetWeight))
	case step.SetWeight != nil:
		canaryT, stableT := c.targets()
		return c.atTargets(canaryT, stableT)
	case step.SetCanaryScale != nil:
		canaryT, stableT := c.targets()
		return c.routedAtTargets(canaryT, stableT)
	case step.SetHeaderRoute != nil, step.SetMirrorRoute != nil:
		return true // applied by the routers in this pass (managedRoutes)
	case step.Analysis != nil:
		return c.stepAnalysisDone(step.Analysis)
	case step.Experiment != nil:
		return c.stepExperimentDone(step.Experiment)
	}
	return false // Validate refuses every other kind
}

func (c *computation) pauseDone(p *v1alpha1.RolloutPause) bool {
	d, timed, _ := PauseDuration(p)
	cond := c.pauseCondition(v1alpha1.PauseReasonCanaryPauseStep)
	if cond == nil {
		if c.st.ControllerPause {
			// We paused here and a client removed the condition: the user resumed.
			c.st.ControllerPause = false
			c.event(false, "RolloutResumed", "Rollout is resumed")
			return true
		}
		if timed && d == 0 {
			return true
		}
		c.st.PauseConditions = append(c.st.PauseConditions, v1alpha1.PauseCondition{
			Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: c.now,
		})
		c.st.ControllerPause = true
		c.event(false, "RolloutPaused", "Rollout is paused (%s)", v1alpha1.PauseReasonCanaryPauseStep)
		if timed {
			c.requeue(d)
		}
		return false
	}
	if !timed {
		return false
	}
	// The stored startTime is rounded down to the second: count from the end of that second,
	// so a pause lasts at least its duration (Argo's can end up to a second early).
	left := cond.StartTime.Truncate(time.Second).Add(time.Second + d).Sub(c.in.Now)
	if left > 0 {
		c.requeue(left)
		return false
	}
	c.removePause(v1alpha1.PauseReasonCanaryPauseStep)
	c.st.ControllerPause = false
	return true
}

func (c *computation) pauseCondition(r v1alpha1.PauseReason) *v1alpha1.PauseCondition {
	for i := range c.st.PauseConditions {
		if c.st.PauseConditions[i].Reason == r {
			return &c.st.PauseConditions[i]
		}
	}
	return nil
}

func (c *computation) removePause(r v1alpha1.PauseReason) {
	c.st.PauseConditions = slices.DeleteFunc(c.st.PauseConditions, func(p v1alpha1.PauseCondition) bool { return p.Reason == r })
	if len(c.st.PauseConditions) == 0 {
		c.st.PauseConditions = nil
	}
}

func (c *computation) maybePromote() {
	if c.index() < c.n() || c.newRS.Available < c.progressTarget(c.replicas) {
		return
	}
	if c.routed() && c.replicas > 0 && !c.weightApplied(c.maxWeight()) {
		// As Argo: the routers send everything to the canary first, so the Service switch
		// that follows moves no traffic and the replaced stable gets its scale-down delay.
		return
	}
	reason := fmt.Sprintf("Completed all %d canary steps", c.n())
	if c.st.PromoteFull {
		reason = "Full promotion requested"
	}
	c.st.StableRS = c.in.NewHash
	c.st.PromoteFull = false
	c.clearPauses()
	c.retireAllRuns()
	c.event(false, "RolloutCompleted", "Rollout completed update to revision %d (%s): %s", c.in.Revision, c.in.NewHash, reason)
	if c.stableRS != nil && c.stableRS != c.newRS {
		c.others = append(c.others, c.stableRS)
		slices.SortFunc(c.others, func(a, b *ReplicaSet) int { return cmp.Compare(a.Revision, b.Revision) })
	}
	c.stableRS = c.newRS
}
