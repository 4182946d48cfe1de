package plan

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// AnalysisRun types of blue-green (the rollout-type label).
const (
	AnalysisTypePrePromotion  = "PrePromotion"
	AnalysisTypePostPromotion = "PostPromotion"
)

// DefaultBlueGreenScaleDownDelay is blueGreen.scaleDownDelaySeconds when unset (30 s): how long
// the replaced version keeps its pods after the active Service moved off it.
const DefaultBlueGreenScaleDownDelay = 30 * time.Second

// blueGreen plans a pass of spec.strategy.blueGreen. The new version comes up behind the
// preview Service (previewReplicaCount pods, or all of them); once they are available it may
// be analysed (prePromotionAnalysis) and paused (autoPromotionEnabled: false until promoted,
// autoPromotionSeconds that long); then it grows to full size and the active Service moves to
// it once every pod is available. postPromotionAnalysis then confirms it: only then is it the
// stable version, and a failure moves the active Service back. The replaced version keeps its
// pods for scaleDownDelaySeconds after the active Service left it.
func (c *computation) blueGreen() {
	bg := c.ro.Spec.Strategy.BlueGreen
	c.unavail = resolveUnavailable(bg.MaxUnavailable, c.replicas)
	if c.ro.Status.CurrentPodHash != c.in.NewHash {
		c.st.BlueGreen.ScaleUpPreviewCheckPoint = false
		c.st.BlueGreen.PrePromotionAnalysisRunStatus, c.st.BlueGreen.PostPromotionAnalysisRunStatus = nil, nil
	}
	c.resetOnChange()
	c.initialDeploy()
	c.abortOrRetry()
	if c.retried {
		c.st.BlueGreen.ScaleUpPreviewCheckPoint = false
	}
	if c.st.PromoteFull {
		if c.promoted() {
			c.st.PromoteFull = false
		} else {
			c.clearPauses()
			c.st.BlueGreen.ScaleUpPreviewCheckPoint = true // past the pause and the pre-promotion analysis
			c.retireAllRuns()
		}
	}
	if !c.promoted() && !c.st.Abort && !c.ro.Spec.Paused {
		if !c.st.BlueGreen.ScaleUpPreviewCheckPoint && c.previewReady() {
			if c.st.BlueGreen.ScaleUpPreviewCheckPoint = c.prePromotionDone(); c.st.BlueGreen.ScaleUpPreviewCheckPoint {
				c.st.ControllerPause = false
			}
		}
		if c.st.BlueGreen.ScaleUpPreviewCheckPoint {
			c.cutOver()
		}
	}
	c.settleAnalysisRuns()
	c.bgScale()
	c.bgServices()
	c.counts()
	c.bgCounts()
	if !c.ro.Spec.Paused {
		c.restart()
	}
	c.conditions()
}

// resolveUnavailable is maxUnavailable (a count or a percentage of replicas, rounded down),
// 0 when unset; restarts take at least one pod at a time.
func resolveUnavailable(v *intstr.IntOrString, replicas int32) int32 {
	if v == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(replicas), false)
	if err != nil {
		return 0
	}
	return int32(max(n, 0))
}

// previewTarget is the new version's size before promotion.
func (c *computation) previewTarget() int32 {
	if n := c.ro.Spec.Strategy.BlueGreen.PreviewReplicaCount; n != nil && !c.st.BlueGreen.ScaleUpPreviewCheckPoint {
		return min(max(*n, 0), c.replicas)
	}
	return c.replicas
}

// previewReady: the new version has all its preview pods available.
func (c *computation) previewReady() bool {
	t := c.previewTarget()
	return c.newRS.Spec >= t && c.newRS.Available >= t
}

// prePromotionDone runs the pre-promotion analysis and the pause; true when both are done.
func (c *computation) prePromotionDone() bool {
	bg := c.ro.Spec.Strategy.BlueGreen
	analysed := true
	if a := bg.PrePromotionAnalysis; a != nil {
		r := c.currentRun(AnalysisTypePrePromotion, nil)
		if r == nil {
			c.st.BlueGreen.PrePromotionAnalysisRunStatus = runStatus(nil, c.startRun(AnalysisTypePrePromotion, nil, a))
			analysed = false
		} else {
			c.st.BlueGreen.PrePromotionAnalysisRunStatus = runStatus(r, "")
			analysed = c.runVerdict(r)
			if c.st.Abort {
				return false
			}
		}
	}
	return c.bgPauseDone() && analysed
}

// bgPauseDone pauses before the switch: until a user promotes (autoPromotionEnabled: false),
// or for autoPromotionSeconds.
func (c *computation) bgPauseDone() bool {
	bg := c.ro.Spec.Strategy.BlueGreen
	manual := bg.AutoPromotionEnabled != nil && !*bg.AutoPromotionEnabled
	timed := !manual && bg.AutoPromotionSeconds > 0
	if !manual && !timed {
		return true
	}
	// controllerPause records that this update paused already (until the cut-over): a pause
	// condition a user removed, or one that timed out, is not added again.
	cond := c.pauseCondition(v1alpha1.PauseReasonBlueGreenPause)
	if cond == nil {
		if c.st.ControllerPause {
			if hadPause(&c.ro.Status, v1alpha1.PauseReasonBlueGreenPause) {
				c.event(false, "RolloutResumed", "Rollout is resumed") // a user promoted
			}
			return true
		}
		c.st.PauseConditions = append(c.st.PauseConditions, v1alpha1.PauseCondition{Reason: v1alpha1.PauseReasonBlueGreenPause, StartTime: c.now})
		c.st.ControllerPause = true
		c.event(false, "RolloutPaused", "Rollout is paused (%s)", v1alpha1.PauseReasonBlueGreenPause)
		if timed {
			c.requeue(time.Duration(bg.AutoPromotionSeconds) * time.Second)
		}
		return false
	}
	if !timed {
		return false
	}
	left := cond.StartTime.Truncate(time.Second).Add(time.Second + time.Duration(bg.AutoPromotionSeconds)*time.Second).Sub(c.in.Now)
	if left > 0 {
		c.requeue(left)
		return false
	}
	c.removePause(v1alpha1.PauseReasonBlueGreenPause)
	return true
}

func hadPause(st *v1alpha1.RolloutStatus, r v1alpha1.PauseReason) bool {
	for _, p := range st.PauseConditions {
		if p.Reason == r {
			return true
		}
	}
	return false
}

// cutOver moves the active Service to the new version once all its pods are available, then
// runs the post-promotion analysis; the new version becomes the stable one after it.
func (c *computation) cutOver() {
	if c.newRS.Available < c.replicas || c.newRS.Spec < c.replicas {
		return
	}
	if c.in.Services.Stable != c.in.NewHash && c.replicas > 0 { // (with no pods there is nothing to switch)
		c.requeue(2 * time.Second) // the switch happens in this pass; look again once it shows
		return
	}
	if a := c.ro.Spec.Strategy.BlueGreen.PostPromotionAnalysis; a != nil && !c.st.PromoteFull { // (promote --full skips it)
		r := c.currentRun(AnalysisTypePostPromotion, nil)
		if r == nil {
			c.st.BlueGreen.PostPromotionAnalysisRunStatus = runStatus(nil, c.startRun(AnalysisTypePostPromotion, nil, a))
			return
		}
		c.st.BlueGreen.PostPromotionAnalysisRunStatus = runStatus(r, "")
		if !c.runVerdict(r) {
			return
		}
	}
	c.promoteBlueGreen()
}

func (c *computation) promoteBlueGreen() {
	reason := "Active service switched"
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
	}
	c.stableRS = c.newRS
}

// activeHash is the version the active Service should select: the new one from the cut-over
// (while the post-promotion analysis runs, it stays there even if a scale-up leaves it short
// for a moment), else the stable one — after an abort, once the stable can take everyone.
func (c *computation) activeHash() string {
	cur := c.in.Services.Stable
	want := c.wantActive()
	if full := func(rs *ReplicaSet) bool { return rs != nil && rs.Available >= c.replicas && rs.Spec >= c.replicas }; want != cur && cur != "" &&
		!full(c.find(want)) && c.find(cur) != nil && c.find(cur).Available > 0 {
		// Users move only to a version that can take all of them (a rollback to a stable
		// whose pods are being restarted, or scaled up, waits for them), unless the one they
		// are on has no pod left.
		c.requeue(2 * time.Second)
		return cur
	}
	return want
}

func (c *computation) wantActive() string {
	cur := c.in.Services.Stable
	full := func(rs *ReplicaSet) bool { return rs != nil && rs.Available >= c.replicas && rs.Spec >= c.replicas }
	switch {
	case c.ro.Spec.Paused && !c.st.Abort && cur != "" && c.find(cur) != nil:
		return cur // a user pause holds the Services too (an abort still moves users back)
	case c.promoted():
		return c.st.StableRS
	case c.st.Abort:
		if cur == c.in.NewHash && !full(c.stableRS) {
			c.requeue(2 * time.Second)
			return cur
		}
		return c.st.StableRS
	case !c.st.BlueGreen.ScaleUpPreviewCheckPoint:
		return c.st.StableRS
	case cur == c.in.NewHash || full(c.newRS):
		return c.in.NewHash
	}
	return c.st.StableRS
}

// bgServices points the active and preview Services (the plan's stable and canary Service
// hashes: the controller switches a Service only to a fully available ReplicaSet when it
// takes it over, and only to one with available pods otherwise).
func (c *computation) bgServices() {
	bg := c.ro.Spec.Strategy.BlueGreen
	c.plan.StableServiceHash = c.activeHash()
	if bg.PreviewService != "" {
		c.plan.CanaryServiceHash = c.in.NewHash
		if c.st.Abort || c.promoted() {
			c.plan.CanaryServiceHash = c.st.StableRS
		}
	}
	c.st.BlueGreen.ActiveSelector = c.selectorAfterSwitch(c.in.Services.Stable, c.plan.StableServiceHash)
	c.st.BlueGreen.PreviewSelector = ""
	if bg.PreviewService != "" {
		c.st.BlueGreen.PreviewSelector = c.selectorAfterSwitch(c.in.Services.Canary, c.plan.CanaryServiceHash)
	}
}

// selectorAfterSwitch is the hash a Service will select once this pass acted: the wanted one
// when its ReplicaSet has available pods (all of them the first time), else the current one.
func (c *computation) selectorAfterSwitch(cur, want string) string {
	rs := c.find(want)
	if want == "" || rs == nil || rs.Available == 0 || (cur == "" && rs.Available < rs.Spec) {
		return cur
	}
	return want
}

// bgScale sizes the ReplicaSets: the new one to its preview or full size, the stable one full
// until the new one is promoted; an aborted new one after abortScaleDownDelaySeconds once the
// preview Service is back on the stable; replaced ones scaleDownDelaySeconds after the active
// Service left them (at most scaleDownDelayRevisionLimit of them waiting).
func (c *computation) bgScale() {
	bg := c.ro.Spec.Strategy.BlueGreen
	desired := map[*ReplicaSet]int32{}
	for i := range c.in.ReplicaSets {
		rs := &c.in.ReplicaSets[i]
		desired[rs] = rs.Spec
	}
	for _, rs := range []*ReplicaSet{c.newRS, c.stableRS} { // (a deadline from an earlier role)
		if rs != nil && rs.ScaleDownDeadline != nil && (!c.st.Abort || rs != c.newRS) {
			c.plan.ClearScaleDownDeadline = appendUnique(c.plan.ClearScaleDownDeadline, rs.Name)
		}
	}
	if c.ro.Spec.Paused && !c.promoted() {
		return // a user pause holds every size
	}
	switch {
	case c.promoted():
		desired[c.newRS] = c.replicas
	case c.st.Abort:
		c.abortedPreview(desired)
	default:
		// The preview size only limits growth: a version that already has more pods (it
		// served users before a retry or a quick return to it) keeps them until the cut-over,
		// so nothing that may still get traffic shrinks.
		desired[c.newRS] = min(max(c.previewTarget(), c.newRS.Spec), c.replicas)
	}
	if c.stableRS != nil && c.stableRS != c.newRS {
		desired[c.stableRS] = c.replicas
	}
	delay := DefaultBlueGreenScaleDownDelay
	if d := bg.ScaleDownDelaySeconds; d != nil {
		delay = time.Duration(max(*d, 0)) * time.Second
	}
	var delayed []*ReplicaSet
	for _, o := range c.others { // oldest first
		switch {
		case desired[o] == 0:
			if o.ScaleDownDeadline != nil {
				c.plan.ClearScaleDownDeadline = appendUnique(c.plan.ClearScaleDownDeadline, o.Name)
			}
		case c.servedByService(o.Hash):
			if o.ScaleDownDeadline != nil {
				c.plan.ClearScaleDownDeadline = appendUnique(c.plan.ClearScaleDownDeadline, o.Name)
			}
			c.requeue(2 * time.Second)
		case delay > 0 && o.ScaleDownDeadline == nil:
			c.setDeadline(o, c.in.Now.Add(delay))
			delayed = append(delayed, o)
		case delay > 0 && o.ScaleDownDeadline.After(c.in.Now):
			c.requeue(o.ScaleDownDeadline.Sub(c.in.Now))
			delayed = append(delayed, o)
		default:
			desired[o] = 0
		}
	}
	if lim := bg.ScaleDownDelayRevisionLimit; lim != nil && len(delayed) > int(max(*lim, 0)) {
		for _, o := range delayed[:len(delayed)-int(max(*lim, 0))] {
			desired[o] = 0
		}
	}
	for rs, n := range desired {
		if n != rs.Spec {
			c.plan.Replicas[rs.Name] = n
		}
	}
	c.plan.Settled = c.newRS.Spec == desired[c.newRS] && c.newRS.Available >= desired[c.newRS]
	c.pruneHistory(desired)
}

// abortedPreview keeps an aborted new version until no Service selects it, then for
// abortScaleDownDelaySeconds (default 30; 0 = leave it up).
func (c *computation) abortedPreview(desired map[*ReplicaSet]int32) {
	bg := c.ro.Spec.Strategy.BlueGreen
	if c.newRS == c.stableRS {
		return
	}
	if c.servedByService(c.in.NewHash) {
		c.requeue(2 * time.Second)
		return
	}
	delay := DefaultAbortScaleDownDelay
	if d := bg.AbortScaleDownDelaySeconds; d != nil {
		if *d == 0 {
			return
		}
		delay = time.Duration(*d) * time.Second
	}
	switch dl := c.newRS.ScaleDownDeadline; {
	case c.newRS.Spec == 0:
	case dl == nil:
		c.setDeadline(c.newRS, c.in.Now.Add(delay))
	case dl.After(c.in.Now):
		c.requeue(dl.Sub(c.in.Now))
	default:
		desired[c.newRS] = 0
	}
}

// bgCounts: for blue-green the scale subresource (HPA) reads the active ReplicaSet only.
func (c *computation) bgCounts() {
	active := c.find(c.st.BlueGreen.ActiveSelector)
	if active == nil {
		return
	}
	c.st.HPAReplicas = active.Replicas
	if c.st.Selector != "" {
		c.st.Selector = fmt.Sprintf("%s,%s=%s", c.st.Selector, v1alpha1.LabelPodTemplateHash, active.Hash)
	}
}
