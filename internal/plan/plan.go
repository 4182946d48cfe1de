package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// DefaultProgressDeadline is progressDeadlineSeconds when unset (600).
const DefaultProgressDeadline = 600 * time.Second

// InvalidSpecRequeue is how often an invalid Rollout is looked at again, for problems with
// referenced objects that can be fixed without touching the Rollout.
const InvalidSpecRequeue = 20 * time.Second

// ReplicaSet is what the plan needs to know about one ReplicaSet the Rollout owns.
type ReplicaSet struct {
	Name string
	// Hash is the rollouts-pod-template-hash label.
	Hash string
	// Revision is the rollout.argoproj.io/revision annotation.
	Revision int64
	// Spec is spec.replicas; Replicas, Ready and Available come from status.
	Spec, Replicas, Ready, Available int32
	// ScaleDownDeadline is the scale-down-deadline annotation, when set.
	ScaleDownDeadline *time.Time
}

// Input is everything Compute looks at. The controller makes sure the ReplicaSet for the
// current template (NewHash) exists before planning.
type Input struct {
	Rollout *v1alpha1.Rollout
	// NewHash is the pod-template hash of spec.template; Revision its revision number.
	NewHash  string
	Revision int64
	// ReplicaSets are all ReplicaSets the Rollout owns, including the new one.
	ReplicaSets []ReplicaSet
	// ReferenceError, when set, is a problem with an object the Rollout refers to (a missing
	// Service, …); the Rollout is reported InvalidSpec with it.
	ReferenceError string
	// Pods are the Rollout's pods; the controller lists them only while a restart
	// (spec.restartAt) is pending.
	Pods []Pod
	Now  time.Time
}

// Event is a Kubernetes event to record for the Rollout, on a transition.
type Event struct {
	Warning         bool
	Reason, Message string
}

// Plan is what the controller should make true, in this order: scale ReplicaSets (within
// limits: scale-ups and scale-downs are already bounded by maxSurge/maxUnavailable), point the
// Services, then write Status once.
type Plan struct {
	Status v1alpha1.RolloutStatus
	// Replicas maps a ReplicaSet name to the spec.replicas it should have, for those that change.
	Replicas map[string]int32
	// DeleteReplicaSets are old, empty ReplicaSets beyond revisionHistoryLimit.
	DeleteReplicaSets []string
	// Evict are pods to evict for a restart (spec.restartAt), within maxUnavailable.
	Evict []string
	// SetScaleDownDeadline and ClearScaleDownDeadline add or remove the scale-down-deadline
	// annotation of ReplicaSets (traffic routing: delayed scale-down of replaced versions).
	SetScaleDownDeadline   map[string]time.Time
	ClearScaleDownDeadline []string
	// Routed is true when the Rollout has trafficRouting: the routers should apply Weight (out
	// of MaxWeight) to the canary, and the HeaderRoutes and MirrorRoutes in force (none: remove
	// the managed routes). Status.Canary.Weights holds what they are told; the controller
	// keeps the previous value when a router fails.
	Routed       bool
	MaxWeight    int32
	HeaderRoutes []v1alpha1.SetHeaderRoute
	MirrorRoutes []v1alpha1.SetMirrorRoute
	// StableServiceHash and CanaryServiceHash are the pod-template hashes the stable and canary
	// Services should select ("" = leave the Service alone).
	StableServiceHash, CanaryServiceHash string
	// RequestedWeight is the setWeight in force (0..100); Weight is what a traffic router
	// should apply now (scale first, then shift).
	RequestedWeight, Weight int32
	// CanaryAvailable and TotalAvailable give the effective canary share without a router:
	// available canary pods over all available pods (see EffectiveWeight).
	CanaryAvailable, TotalAvailable int32
	// Events to record; RequeueAfter is when to look again even if nothing changes (0 = only on
	// change).
	Events       []Event
	RequeueAfter time.Duration
	// Invalid is true when the Rollout was refused (InvalidSpec); nothing is scaled.
	Invalid bool
	// Promoted is true when the current template is the stable one.
	Promoted bool
	// Settled is true when the observed ReplicaSets are at the sizes the current step wants
	// (the effective weight is then the step's, not a value on the way).
	Settled bool
}

// EffectiveWeight is the share of available pods that run the canary, in percent: what a
// Service really sends to the canary without a router.
func (p *Plan) EffectiveWeight() float64 { return SharePercent(p.CanaryAvailable, p.TotalAvailable) }

type computation struct {
	in       Input
	ro       *v1alpha1.Rollout
	st       v1alpha1.RolloutStatus
	now      metav1.Time
	plan     Plan
	replicas int32
	steps    []v1alpha1.CanaryStep
	newRS    *ReplicaSet
	stableRS *ReplicaSet
	others   []*ReplicaSet
	surge    int32
	unavail  int32
	retried  bool
}

// Compute plans one reconcile pass. It is deterministic: the same input gives the same plan.
func Compute(in Input) Plan {
	c := &computation{in: in, ro: in.Rollout, now: metav1.NewTime(in.Now)}
	c.st = *in.Rollout.Status.DeepCopy()
	c.plan.Replicas = map[string]int32{}
	c.replicas = 1
	if r := c.ro.Spec.Replicas; r != nil {
		c.replicas = max(*r, 0)
	}
	c.st.ObservedGeneration = strconv.FormatInt(c.ro.Generation, 10)
	if sel, err := metav1.LabelSelectorAsSelector(c.ro.Spec.Selector); err == nil && c.ro.Spec.Selector != nil {
		c.st.Selector = sel.String()
	}
	c.newRS = c.find(in.NewHash)

	msg := Validate(c.ro)
	if msg == "" {
		msg = in.ReferenceError
	}
	if msg == "" && c.newRS == nil {
		msg = "internal: the ReplicaSet for the current template was not observed"
	}
	if msg != "" {
		return c.invalid(msg)
	}
	removeCondition(&c.st, v1alpha1.RolloutInvalidSpec)

	canary := c.ro.Spec.Strategy.Canary
	c.steps = canary.Steps
	c.surge, c.unavail = Fenceposts(c.replicas, canary.MaxSurge, canary.MaxUnavailable)
	c.resetOnChange()
	c.initialDeploy()
	c.abortOrRetry()
	if c.st.PromoteFull {
		if c.promoted() {
			c.st.PromoteFull = false
		} else {
			c.setIndex(c.n())
			c.clearPauses()
		}
	}
	if !c.promoted() && !c.st.Abort && !c.ro.Spec.Paused {
		c.advanceSteps()
		c.maybePromote()
	}
	c.scale()
	c.services()
	c.counts()
	if !c.ro.Spec.Paused {
		c.restart()
	}
	c.conditions()
	c.plan.Status = c.st
	c.plan.Promoted = c.promoted()
	return c.plan
}

func (c *computation) n() int32 { return int32(len(c.steps)) }

func (c *computation) index() int32 {
	if c.st.CurrentStepIndex == nil {
		return 0
	}
	return *c.st.CurrentStepIndex
}

// setIndex sets currentStepIndex, which stays nil for a Rollout without steps (as in Argo).
func (c *computation) setIndex(i int32) {
	if c.n() == 0 {
		c.st.CurrentStepIndex = nil
		return
	}
	i = min(max(i, 0), c.n())
	c.st.CurrentStepIndex = &i
}

func (c *computation) promoted() bool { return c.st.StableRS != "" && c.st.StableRS == c.in.NewHash }

func (c *computation) find(hash string) *ReplicaSet {
	if hash == "" {
		return nil
	}
	for i := range c.in.ReplicaSets {
		if c.in.ReplicaSets[i].Hash == hash {
			return &c.in.ReplicaSets[i]
		}
	}
	return nil
}

func (c *computation) event(warning bool, reason, format string, args ...any) {
	c.plan.Events = append(c.plan.Events, Event{Warning: warning, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

func (c *computation) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	if c.plan.RequeueAfter == 0 || d < c.plan.RequeueAfter {
		c.plan.RequeueAfter = d
	}
}

func (c *computation) clearPauses() {
	c.st.PauseConditions = nil
	c.st.ControllerPause = false
}

func (c *computation) invalid(msg string) Plan {
	old := getCondition(&c.ro.Status, v1alpha1.RolloutInvalidSpec)
	if old == nil || old.Message != msg {
		c.event(true, v1alpha1.ReasonInvalidSpec, "%s", msg)
	}
	setCondition(&c.st, v1alpha1.RolloutInvalidSpec, corev1.ConditionTrue, v1alpha1.ReasonInvalidSpec, msg, c.now)
	c.counts()
	c.st.Phase, c.st.Message = Phase(c.ro, &c.st)
	c.plan.Status = c.st
	c.plan.Invalid = true
	c.requeue(InvalidSpecRequeue)
	return c.plan
}

// resetOnChange restarts the steps when the template or the steps changed.
func (c *computation) resetOnChange() {
	stepsHash := StepsHash(c.steps)
	if c.st.CurrentPodHash == c.in.NewHash && c.st.CurrentStepHash == stepsHash {
		return
	}
	templateChanged := c.st.CurrentPodHash != c.in.NewHash
	firstSight := c.st.CurrentPodHash == ""
	c.st.CurrentPodHash, c.st.CurrentStepHash = c.in.NewHash, stepsHash
	c.clearPauses()
	c.st.Abort, c.st.AbortedAt, c.st.PromoteFull = false, nil, false
	c.setIndex(0)
	if templateChanged && !firstSight {
		c.event(false, "RolloutUpdated", "Rollout updated to revision %d", c.in.Revision)
	}
	if c.promoted() {
		c.setIndex(c.n())
		if templateChanged && !firstSight {
			c.event(false, "SkipSteps", "Rollback to stable ReplicaSets")
		}
	}
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
		}
		c.clearPauses()
		c.st.PromoteFull = false
		c.setIndex(0)
	case c.st.AbortedAt != nil:
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

// requestedWeight is the weight in force: 0 when aborted, 100 once promoted or past the last
// step, otherwise the last setWeight at or before the current step.
func (c *computation) requestedWeight() int32 {
	switch {
	case c.promoted():
		return c.maxWeight()
	case c.st.Abort:
		return 0
	}
	return WeightAt(c.steps, c.index(), c.maxWeight())
}

// targets are the canary and stable sizes for the current state.
func (c *computation) targets() (canary, stable int32) {
	if c.routed() {
		return c.routedTargets()
	}
	switch {
	case c.promoted():
		return c.replicas, 0
	case c.st.Abort:
		return 0, c.replicas
	}
	return BasicCanaryCounts(c.replicas, c.requestedWeight(), 100, c.surge)
}

// progressTarget is how many available canary pods count as "reached": all of them, or the
// replicaProgressThreshold.
func (c *computation) progressTarget(target int32) int32 {
	t := c.ro.Spec.Strategy.Canary.ReplicaProgressThreshold
	if t == nil || target == 0 {
		return target
	}
	var need int32
	if t.Type == v1alpha1.ProgressTypePod {
		need = t.Value
	} else {
		need = int32((int64(target)*int64(t.Value) + 99) / 100)
	}
	return min(max(need, 1), target)
}

func (c *computation) atTargets(canaryT, stableT int32) bool {
	n, s := c.newRS, c.stableRS
	if n.Spec != canaryT || n.Available < c.progressTarget(canaryT) {
		return false
	}
	if s != nil && s != n && (s.Spec != stableT || s.Replicas != stableT) {
		return false
	}
	for _, o := range c.others {
		if o.Available > 0 {
			return false
		}
	}
	return true
}

func (c *computation) maybePromote() {
	if c.index() < c.n() || c.newRS.Available < c.progressTarget(c.replicas) {
		return
	}
	reason := fmt.Sprintf("Completed all %d canary steps", c.n())
	if c.st.PromoteFull {
		reason = "Full promotion requested"
	}
	c.st.StableRS = c.in.NewHash
	c.st.PromoteFull = false
	c.clearPauses()
	c.event(false, "RolloutCompleted", "Rollout completed update to revision %d (%s): %s", c.in.Revision, c.in.NewHash, reason)
	if c.stableRS != nil && c.stableRS != c.newRS {
		c.others = append(c.others, c.stableRS)
		slices.SortFunc(c.others, func(a, b *ReplicaSet) int { return cmp.Compare(a.Revision, b.Revision) })
	}
	c.stableRS = c.newRS
}

// scale moves every ReplicaSet toward its target within maxSurge/maxUnavailable: scale-ups
// (stable first, then canary) only while the sum of sizes stays within replicas+maxSurge;
// scale-downs (old ReplicaSets first, oldest first) only while availability stays at or above
// replicas-maxUnavailable, except that pods which are not available may always go.
func (c *computation) scale() {
	c.plan.RequestedWeight = c.requestedWeight()
	c.plan.Routed = c.routed()
	c.plan.MaxWeight = c.maxWeight()
	if !c.routed() {
		c.st.Canary.Weights = nil // as Argo: no weights without a router
	}
	if c.ro.Spec.Paused && !c.promoted() {
		c.plan.Weight = c.appliedWeight(c.in.NewHash)
		return // a user pause holds every size and weight, as in Argo
	}
	desired := map[*ReplicaSet]int32{}
	var avail int32
	for i := range c.in.ReplicaSets {
		rs := &c.in.ReplicaSets[i]
		desired[rs] = rs.Spec
		avail += rs.Available
	}
	budgetDown := avail - (c.replicas - c.unavail)
	if canaryT, stableT := c.targets(); c.routed() {
		c.plan.Settled = c.routedAtTargets(canaryT, stableT)
	} else {
		c.plan.Settled = c.atTargets(canaryT, stableT)
	}
	if c.routed() {
		c.scaleRouted(desired, &budgetDown)
		c.plan.Weight = c.trafficWeight()
		c.st.Canary.Weights = c.weights(c.plan.Weight)
		c.plan.HeaderRoutes, c.plan.MirrorRoutes = c.managedRoutes()
	} else {
		c.scaleBasic(desired, &budgetDown)
		c.plan.Weight = c.plan.RequestedWeight
	}
	for rs, n := range desired {
		if n != rs.Spec {
			c.plan.Replicas[rs.Name] = n
		}
	}
	c.pruneHistory(desired)
}

// shrinkWithin lowers rs toward `to`: pods that are not available go for free, available ones
// only while the budget (available pods above replicas-maxUnavailable) lasts.
func (c *computation) shrinkWithin(desired map[*ReplicaSet]int32, rs *ReplicaSet, to int32, budget *int32) {
	excess := desired[rs] - to
	if excess <= 0 {
		return
	}
	free := min(excess, max(rs.Spec-rs.Available, 0))
	costly := min(excess-free, max(*budget, 0))
	*budget -= costly
	desired[rs] -= free + costly
}

// scaleBasic moves every ReplicaSet toward its target within maxSurge/maxUnavailable, without a
// router: scale-ups (stable first, then canary) only while the sum of sizes stays within
// replicas+maxSurge; scale-downs (old ReplicaSets first, oldest first) only while availability
// stays at or above replicas-maxUnavailable, except that pods which are not available may
// always go.
func (c *computation) scaleBasic(desired map[*ReplicaSet]int32, budgetDown *int32) {
	canaryT, stableT := c.targets()
	var total int32
	for _, n := range desired {
		total += n
	}
	type target struct {
		rs *ReplicaSet
		n  int32
	}
	ups := []target{{c.stableRS, stableT}, {c.newRS, canaryT}}
	if c.stableRS == c.newRS {
		ups = []target{{c.newRS, canaryT}}
	}
	budgetUp := c.replicas + c.surge - total
	for _, t := range ups {
		if grow := t.n - desired[t.rs]; grow > 0 && budgetUp > 0 {
			grow = min(grow, budgetUp)
			desired[t.rs] += grow
			budgetUp -= grow
		}
	}
	for _, o := range c.others {
		c.shrinkWithin(desired, o, 0, budgetDown)
	}
	if c.stableRS != c.newRS {
		if canaryT < desired[c.newRS] {
			c.shrinkWithin(desired, c.newRS, canaryT, budgetDown)
			c.shrinkWithin(desired, c.stableRS, stableT, budgetDown)
		} else {
			c.shrinkWithin(desired, c.stableRS, stableT, budgetDown)
			c.shrinkWithin(desired, c.newRS, canaryT, budgetDown)
		}
	}
}

// pruneHistory deletes old ReplicaSets that are empty, beyond revisionHistoryLimit (default 10).
func (c *computation) pruneHistory(desired map[*ReplicaSet]int32) {
	limit := 10
	if l := c.ro.Spec.RevisionHistoryLimit; l != nil {
		limit = int(max(*l, 0))
	}
	var empty []*ReplicaSet
	for _, o := range c.others {
		if o.Spec == 0 && o.Replicas == 0 && desired[o] == 0 {
			empty = append(empty, o)
		}
	}
	for i := 0; i < len(empty)-limit; i++ { // c.others is oldest first
		c.plan.DeleteReplicaSets = append(c.plan.DeleteReplicaSets, empty[i].Name)
	}
}

// services points the stable Service at the stable ReplicaSet and the canary Service at the
// new one (back at the stable one after an abort). The controller only switches a Service to a
// ReplicaSet with available pods.
func (c *computation) services() {
	canary := c.ro.Spec.Strategy.Canary
	if canary.StableService != "" {
		c.plan.StableServiceHash = c.st.StableRS
	}
	if canary.CanaryService != "" {
		c.plan.CanaryServiceHash = c.in.NewHash
		if c.st.Abort {
			c.plan.CanaryServiceHash = c.st.StableRS
		}
	}
}

// counts fills the replica counts of the status from the observed ReplicaSets.
func (c *computation) counts() {
	var replicas, ready, avail int32
	for _, rs := range c.in.ReplicaSets {
		replicas += rs.Replicas
		ready += rs.Ready
		avail += rs.Available
	}
	c.st.Replicas, c.st.ReadyReplicas, c.st.AvailableReplicas = replicas, ready, avail
	c.st.HPAReplicas = replicas
	c.st.UpdatedReplicas = 0
	if c.newRS != nil {
		c.st.UpdatedReplicas = c.newRS.Replicas
		if !c.promoted() {
			c.plan.CanaryAvailable = c.newRS.Available
		}
	}
	c.plan.TotalAvailable = avail
}
