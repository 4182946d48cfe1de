package plan

import (
	"fmt"
	"strconv"
	"strings"
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
	// Created is the ReplicaSet's creationTimestamp (rollbackWindow counts versions by it).
	Created time.Time
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
	// Invalid, when set, is why the caller found that the Rollout cannot run: every problem of
	// its spec (internal/rolloutspec, which includes the planner's own ValidateAll and the
	// routers' checks) or one with an object it refers to (a missing Service, …). Compute then
	// reports it InvalidSpec; when empty, Compute runs ValidateAll itself.
	Invalid string
	// Pods are the Rollout's pods; the controller lists them only while a restart
	// (spec.restartAt) is pending.
	Pods []Pod
	// Services are the pod-template hashes the canary and stable Services select now ("" when
	// the Service is not configured or selects no hash yet).
	Services ServiceSelectors
	// AnalysisRuns are the AnalysisRuns the Rollout owns.
	AnalysisRuns []AnalysisRun
	// Experiments are the Experiments the Rollout owns.
	Experiments []Experiment
	// ForeignExperiments are the names of the namespace's Experiments that the Rollout does
	// not own: an experiment step never takes one of them (it uses the next -<n> name).
	ForeignExperiments []string
	Now                time.Time
}

// ServiceSelectors are the rollouts-pod-template-hash values the Rollout's Services select.
type ServiceSelectors struct {
	Stable, Canary string
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
	// RouterCanaryHash is the pod-template hash the routers should hold for the canary
	// destination (DestinationRule subsets and the like): the current template's, except while
	// traffic still reaches a replaced canary, which keeps its hash until its weight is 0.
	RouterCanaryHash string
	// RequestedWeight is the setWeight in force (0..100); Weight is what a traffic router
	// should apply now (scale first, then shift).
	RequestedWeight, Weight int32
	// Additional are the routers' further destinations (the weighted templates of a running
	// experiment step), taken from the stable's share.
	Additional []v1alpha1.WeightDestination
	// CanaryAvailable and TotalAvailable give the effective canary share without a router:
	// available canary pods over all available pods (see EffectiveWeight).
	CanaryAvailable, TotalAvailable int32
	// CreateAnalysisRuns are runs to create (analysis steps, background analysis);
	// TerminateAnalysisRuns are runs to stop (spec.terminate), DeleteAnalysisRuns finished
	// ones beyond the history limits.
	CreateAnalysisRuns    []NewAnalysisRun
	TerminateAnalysisRuns []string
	DeleteAnalysisRuns    []string
	// CreateExperiment is the Experiment of the current experiment step to create;
	// TerminateExperiments are Experiments to stop (spec.terminate), DeleteExperiments
	// finished ones beyond the history limits.
	CreateExperiment     *NewExperiment
	TerminateExperiments []string
	DeleteExperiments    []string
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
	// spentDown is how many available pods this pass's scale-downs take away: one
	// maxUnavailable budget per pass, shared with the restart's evictions.
	spentDown int32
	// retireAll: a transition (new template or steps, abort, retry, promotion) retires every
	// AnalysisRun; retired are the runs terminated in this pass.
	retireAll    bool
	retireBefore *time.Time
	retired      map[string]bool
	// retiredEx are the Experiments retired in this pass.
	retiredEx map[string]bool
}

// Compute plans one reconcile pass. It is deterministic: the same input gives the same plan.
func Compute(in Input) Plan {
	c := &computation{in: in, ro: in.Rollout, now: metav1.NewTime(in.Now), retired: map[string]bool{}, retiredEx: map[string]bool{}}
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

	msg := in.Invalid
	if msg == "" {
		msg = strings.Join(ValidateAll(c.ro), "; ")
	}
	if msg == "" && c.newRS == nil {
		msg = "internal: the ReplicaSet for the current template was not observed"
	}
	if msg != "" {
		return c.invalid(msg)
	}
	removeCondition(&c.st, v1alpha1.RolloutInvalidSpec)

	if c.ro.Spec.Strategy.BlueGreen != nil {
		c.blueGreen()
	} else {
		c.canary()
	}
	c.plan.Status = c.st
	c.plan.Promoted = c.promoted()
	return c.plan
}

// canary plans a pass of spec.strategy.canary.
func (c *computation) canary() {
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
			c.retireAllRuns()
		}
	}
	c.backgroundAnalysis()
	if !c.promoted() && !c.st.Abort && !c.ro.Spec.Paused {
		c.advanceSteps()
		c.maybePromote()
	}
	c.backgroundAnalysis() // (again: a run to start at the step just reached)
	c.settleAnalysisRuns()
	c.settleExperiments()
	c.scale()
	c.services()
	c.counts()
	if !c.ro.Spec.Paused {
		c.restart()
	}
	c.conditions()
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
		if c.routed() && c.plan.RouterCanaryHash != "" {
			// With a router the canary Service is the canary destination: it follows the
			// version the routers hold (a replaced canary keeps it while its weight drains).
			c.plan.CanaryServiceHash = c.plan.RouterCanaryHash
		}
		// After an abort the canary Service goes back to the stable, but with a router only
		// once no weight reaches it any more: until then it carries the canary's share, which
		// the stable (smaller with dynamicStableScale) may not be able to take.
		if c.st.Abort && (!c.routed() || c.plan.Weight == 0 && c.appliedWeight(c.in.NewHash) == 0) {
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
