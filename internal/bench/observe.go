package bench

import (
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// phase of a run.
type phase int

const (
	phaseSetup  phase = iota // creating Rollouts, waiting for the first Healthy
	phaseUpdate              // image changed, waiting for Healthy at the new generation
	phaseDone                // stop recording
)

// recorder turns timestamped watch events into the run's measurements. Every handler takes
// the time it was called (the harness saw the event then) and keeps only a little state per
// object, under one mutex.
type recorder struct {
	mu    sync.Mutex
	phase phase
	ros   map[types.NamespacedName]*roState
	// healthy counts Rollouts Healthy in the current phase; changed is signalled on each change.
	healthy int
	changed chan struct{}

	rs   map[types.UID][]rsScale
	pods map[types.UID]*podState

	// Downstream samples, update phase only.
	rsToCreated, rsToAvailable     []time.Duration
	podToScheduled, podToReady     []time.Duration
	rolloutEvents, rsEvents, podEv int
}

// roState is what the recorder knows about one Rollout.
type roState struct {
	steps []v1alpha1.CanaryStep

	// setup
	setupHealthyAt time.Time
	initGen        int64
	oldHash        string

	// update
	patchedAt time.Time // the image patch was acknowledged
	healthyAt time.Time
	pauses    map[int32]pendingPause // pause steps seen paused, not yet left
	leftPause map[int32]bool
	reactions []stepReaction
	lastIndex int32
	lastPhase v1alpha1.RolloutPhase
}

// pendingPause is a pause step seen paused: expiry is pauseConditions[].startTime + the
// step's duration, as the controller wrote it.
type pendingPause struct{ expiry time.Time }

// stepReaction is one pause step left: from its expiry to the first event with a later index.
type stepReaction struct {
	Index   int32
	Latency time.Duration
}

// rsScale is a ReplicaSet scale-up waiting for its pods.
type rsScale struct {
	target  int32
	at      time.Time
	created bool
}

type podState struct {
	added, scheduled, ready time.Time
}

func newRecorder() *recorder {
	return &recorder{
		ros:     map[types.NamespacedName]*roState{},
		rs:      map[types.UID][]rsScale{},
		pods:    map[types.UID]*podState{},
		changed: make(chan struct{}, 1),
	}
}

// expect registers a Rollout before it is created, so no event is missed.
func (r *recorder) expect(key types.NamespacedName, steps []v1alpha1.CanaryStep) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ros[key] = &roState{steps: steps, lastIndex: -1}
}

func (r *recorder) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// startUpdate switches to the update phase; from now on Healthy means Healthy at a generation
// after the one each Rollout was Healthy at in setup, on a new pod-template hash.
func (r *recorder) startUpdate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = phaseUpdate
	r.healthy = 0
}

func (r *recorder) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = phaseDone
}

// patched records when a Rollout's image patch was acknowledged.
func (r *recorder) patched(key types.NamespacedName, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.ros[key]; st != nil {
		st.patchedAt = at
	}
}

// healthyCount is the number of Rollouts Healthy in the current phase.
func (r *recorder) healthyCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.healthy
}

// isHealthy is "Healthy at this generation": the controller observed the current generation,
// reports phase Healthy, and the stable ReplicaSet is the current template's.
func isHealthy(ro *v1alpha1.Rollout) bool {
	st := &ro.Status
	return st.ObservedGeneration == strconv.FormatInt(ro.Generation, 10) &&
		st.Phase == v1alpha1.RolloutPhaseHealthy &&
		st.CurrentPodHash != "" && st.StableRS == st.CurrentPodHash
}

// onRollout records one Rollout watch event seen at time at.
func (r *recorder) onRollout(ro *v1alpha1.Rollout, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rolloutEvents++
	st := r.ros[types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}]
	if st == nil {
		return
	}
	switch r.phase {
	case phaseSetup:
		if st.setupHealthyAt.IsZero() && isHealthy(ro) {
			st.setupHealthyAt = at
			st.initGen = ro.Generation
			st.oldHash = ro.Status.CurrentPodHash
			r.healthy++
			r.signal()
		}
	case phaseUpdate:
		r.onUpdateEvent(st, ro, at)
	case phaseDone:
	}
}

// onUpdateEvent follows one Rollout through its update: step index changes (for the step
// reaction latency) and the first Healthy at the new generation.
func (r *recorder) onUpdateEvent(st *roState, ro *v1alpha1.Rollout, at time.Time) {
	s := &ro.Status
	if ro.Generation <= st.initGen || s.ObservedGeneration != strconv.FormatInt(ro.Generation, 10) ||
		s.CurrentPodHash == "" || s.CurrentPodHash == st.oldHash {
		return // the controller has not acted on the new generation yet
	}
	n := int32(len(st.steps))
	idx := n
	if s.CurrentStepIndex != nil {
		idx = *s.CurrentStepIndex
	}
	st.lastIndex, st.lastPhase = idx, s.Phase
	for i, p := range st.pauses {
		if idx > i {
			st.reactions = append(st.reactions, stepReaction{Index: i, Latency: at.Sub(p.expiry)})
			delete(st.pauses, i)
			st.leftPause[i] = true
		}
	}
	if idx >= 0 && idx < n && st.steps[idx].Pause != nil && !st.leftPause[idx] {
		if _, seen := st.pauses[idx]; !seen {
			d, timed, err := plan.PauseDuration(st.steps[idx].Pause)
			if err == nil && timed {
				for _, c := range s.PauseConditions {
					if c.Reason == v1alpha1.PauseReasonCanaryPauseStep {
						if st.pauses == nil {
							st.pauses, st.leftPause = map[int32]pendingPause{}, map[int32]bool{}
						}
						st.pauses[idx] = pendingPause{expiry: c.StartTime.Add(d)}
					}
				}
			}
		}
	}
	if st.healthyAt.IsZero() && isHealthy(ro) {
		st.healthyAt = at
		r.healthy++
		r.signal()
	}
}

// onReplicaSet follows ReplicaSet scale-ups in the update phase: from the event showing a
// larger spec.replicas to the first showing that many pods (status.replicas) and that many
// available.
func (r *recorder) onReplicaSet(old, cur *appsv1.ReplicaSet, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rsEvents++
	if r.phase != phaseUpdate {
		return
	}
	want := ptr.Deref(cur.Spec.Replicas, 1)
	var was int32
	if old != nil {
		was = ptr.Deref(old.Spec.Replicas, 1)
	}
	pending := r.rs[cur.UID]
	if want > was {
		pending = append(pending, rsScale{target: want, at: at})
	}
	keep := pending[:0]
	for _, p := range pending {
		if want < p.target {
			continue // scaled down again before it got there
		}
		if !p.created && cur.Status.Replicas >= p.target {
			p.created = true
			r.rsToCreated = append(r.rsToCreated, at.Sub(p.at))
		}
		if cur.Status.AvailableReplicas >= p.target && cur.Status.ObservedGeneration >= cur.Generation {
			r.rsToAvailable = append(r.rsToAvailable, at.Sub(p.at))
			continue
		}
		keep = append(keep, p)
	}
	if len(keep) == 0 {
		delete(r.rs, cur.UID)
	} else {
		r.rs[cur.UID] = keep
	}
}

// podEvent is the kind of a Pod watch event.
type podEvent int

const (
	podAdded podEvent = iota
	podUpdated
	podDeleted
)

// onPod follows the pods created in the update phase: created (first seen) → scheduled
// (spec.nodeName set) → Ready.
func (r *recorder) onPod(pod *corev1.Pod, ev podEvent, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.podEv++
	if ev == podDeleted {
		delete(r.pods, pod.UID)
		return
	}
	ps := r.pods[pod.UID]
	if ps == nil {
		if ev != podAdded || r.phase != phaseUpdate {
			return
		}
		ps = &podState{added: at}
		r.pods[pod.UID] = ps
	}
	if ps.scheduled.IsZero() && pod.Spec.NodeName != "" {
		ps.scheduled = at
		r.podToScheduled = append(r.podToScheduled, at.Sub(ps.added))
	}
	if ps.ready.IsZero() && !ps.scheduled.IsZero() && podReady(pod) {
		ps.ready = at
		r.podToReady = append(r.podToReady, at.Sub(ps.scheduled))
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// progress summarises the Rollouts for a progress line: how many are in each phase and at
// each step index (update phase only), from the last event seen.
func (r *recorder) progress() (healthy, total int, byPhase map[string]int, byStep map[int32]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byPhase, byStep = map[string]int{}, map[int32]int{}
	for _, st := range r.ros {
		if r.phase == phaseUpdate && st.healthyAt.IsZero() {
			if st.lastIndex >= 0 {
				byStep[st.lastIndex]++
				byPhase[string(st.lastPhase)]++
			} else {
				byPhase["(not yet observed)"]++
			}
		}
	}
	return r.healthy, len(r.ros), byPhase, byStep
}
