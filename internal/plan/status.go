package plan

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Condition messages, worded as Argo Rollouts words them (clients and notifications match on
// reasons, people read the messages).
const (
	msgAvailable       = "Rollout has minimum availability"
	msgNotAvailable    = "Rollout does not have minimum availability"
	msgPaused          = "Rollout is paused"
	msgResumed         = "Rollout is resumed"
	msgHealthy         = "Rollout is healthy"
	msgNotHealthy      = "Rollout is not healthy"
	msgRetry           = "Retrying Rollout after abort"
	msgProgressed      = "Rollout %q has successfully progressed."
	msgProgressing     = "ReplicaSet %q is progressing."
	msgTimedOut        = "ReplicaSet %q has timed out progressing."
	msgAborted         = "Rollout aborted update to revision %d"
	msgCompleted       = "Rollout completed update to revision %d (%s)"
	msgNotCompleted    = "Rollout not completed, started update to revision %d (%s)"
	msgProgressAborted = "Rollout aborted update to revision %d: progress deadline exceeded"
)

func getCondition(st *v1alpha1.RolloutStatus, t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition sets a condition, keeping lastTransitionTime unless the status changes and
// lastUpdateTime unless the status, reason or message changes.
func setCondition(st *v1alpha1.RolloutStatus, t v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) *v1alpha1.RolloutCondition {
	if c := getCondition(st, t); c != nil {
		if c.Status != status {
			c.LastTransitionTime = now
			c.LastUpdateTime = now
		} else if c.Reason != reason || c.Message != msg {
			c.LastUpdateTime = now
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return c
	}
	st.Conditions = append(st.Conditions, v1alpha1.RolloutCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: now, LastUpdateTime: now,
	})
	return &st.Conditions[len(st.Conditions)-1]
}

func removeCondition(st *v1alpha1.RolloutStatus, t v1alpha1.RolloutConditionType) {
	out := st.Conditions[:0]
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
}

// madeProgress is Argo's notion of progress: more updated, ready or available pods, fewer old
// pods, a new stable ReplicaSet, or another step.
func madeProgress(old, cur *v1alpha1.RolloutStatus) bool {
	oldIdx, curIdx := int32(-1), int32(-1)
	if old.CurrentStepIndex != nil {
		oldIdx = *old.CurrentStepIndex
	}
	if cur.CurrentStepIndex != nil {
		curIdx = *cur.CurrentStepIndex
	}
	return cur.UpdatedReplicas != old.UpdatedReplicas ||
		cur.ReadyReplicas > old.ReadyReplicas ||
		cur.AvailableReplicas > old.AvailableReplicas ||
		cur.Replicas-cur.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		cur.StableRS != old.StableRS || curIdx != oldIdx ||
		cur.CurrentStepHash != old.CurrentStepHash || cur.CurrentPodHash != old.CurrentPodHash
}

func (c *computation) conditions() {
	st, now := &c.st, c.now
	newName := c.newRS.Name
	paused := c.ro.Spec.Paused || len(st.PauseConditions) > 0
	othersUp := false
	for _, o := range c.others {
		if o.Replicas > 0 {
			othersUp = true
		}
	}
	deadline := DefaultProgressDeadline
	if d := c.ro.Spec.ProgressDeadlineSeconds; d != nil {
		deadline = time.Duration(*d) * time.Second
	}

	prev := getCondition(&c.ro.Status, v1alpha1.RolloutProgressing)
	switch {
	case st.Abort:
		msg := fmt.Sprintf(msgAborted, c.in.Revision)
		if p := getCondition(st, v1alpha1.RolloutProgressing); p != nil && p.Reason == v1alpha1.ReasonRolloutAborted {
			msg = p.Message // keep the cause (e.g. progress deadline) recorded when the abort began
		}
		setCondition(st, v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonRolloutAborted, msg, now)
	case paused:
		setCondition(st, v1alpha1.RolloutProgressing, corev1.ConditionUnknown, v1alpha1.ReasonRolloutPaused, msgPaused, now)
	case c.retried:
		setCondition(st, v1alpha1.RolloutProgressing, corev1.ConditionUnknown, v1alpha1.ReasonRolloutRetry, msgRetry, now)
	case c.promoted() && c.newRS.Available >= c.replicas && !othersUp:
		setCondition(st, v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.ReasonNewReplicaSetAvailable,
			fmt.Sprintf(msgProgressed, c.ro.Name), now)
	default:
		progressed := madeProgress(&c.ro.Status, st)
		timedOut := !progressed && !c.indefiniteStep() && prev != nil && prev.Status != corev1.ConditionUnknown &&
			(prev.Reason == v1alpha1.ReasonProgressDeadlineExceeded ||
				!prev.LastUpdateTime.Add(deadline).After(c.in.Now))
		if timedOut {
			if c.ro.Spec.ProgressDeadlineAbort && !c.promoted() {
				st.Abort = true
				st.AbortedAt = &now
				c.clearPauses()
				c.setIndex(0)
				c.event(true, "RolloutAborted", msgProgressAborted, c.in.Revision)
				setCondition(st, v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonRolloutAborted,
					fmt.Sprintf(msgProgressAborted, c.in.Revision), now)
				break
			}
			if prev.Reason != v1alpha1.ReasonProgressDeadlineExceeded {
				c.event(true, v1alpha1.ReasonProgressDeadlineExceeded, msgTimedOut, newName)
			}
			setCondition(st, v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonProgressDeadlineExceeded,
				fmt.Sprintf(msgTimedOut, newName), now)
			break
		}
		cond := setCondition(st, v1alpha1.RolloutProgressing, corev1.ConditionTrue, v1alpha1.ReasonReplicaSetUpdated,
			fmt.Sprintf(msgProgressing, newName), now)
		if progressed {
			cond.LastUpdateTime = now
		}
		if !c.indefiniteStep() {
			c.requeue(cond.LastUpdateTime.Add(deadline).Sub(c.in.Now) + time.Second)
		}
	}

	c.userPauseEvents(paused)
	if paused {
		setCondition(st, v1alpha1.RolloutPaused, corev1.ConditionTrue, v1alpha1.ReasonRolloutPaused, msgPaused, now)
	} else if getCondition(st, v1alpha1.RolloutPaused) != nil {
		setCondition(st, v1alpha1.RolloutPaused, corev1.ConditionFalse, v1alpha1.ReasonRolloutResumed, msgResumed, now)
	}
	c.outcome()
}

// outcome sets the Available, Completed and Healthy conditions and the phase.
func (c *computation) outcome() {
	st, now, newName := &c.st, c.now, c.newRS.Name
	if st.AvailableReplicas >= c.replicas {
		setCondition(st, v1alpha1.RolloutAvailable, corev1.ConditionTrue, v1alpha1.ReasonAvailable, msgAvailable, now)
	} else {
		setCondition(st, v1alpha1.RolloutAvailable, corev1.ConditionFalse, v1alpha1.ReasonAvailable, msgNotAvailable, now)
	}
	if c.promoted() {
		setCondition(st, v1alpha1.RolloutCompleted, corev1.ConditionTrue, v1alpha1.ReasonRolloutCompleted,
			fmt.Sprintf(msgCompleted, c.in.Revision, c.in.NewHash), now)
	} else {
		if prev := getCondition(&c.ro.Status, v1alpha1.RolloutCompleted); prev != nil && prev.Status == corev1.ConditionTrue {
			c.event(false, "RolloutNotCompleted", msgNotCompleted, c.in.Revision, c.in.NewHash)
		}
		setCondition(st, v1alpha1.RolloutCompleted, corev1.ConditionFalse, v1alpha1.ReasonRolloutCompleted,
			fmt.Sprintf(msgNotCompleted, c.in.Revision, c.in.NewHash), now)
	}
	st.Phase, st.Message = Phase(c.ro, st)
	if st.Phase == v1alpha1.RolloutPhaseHealthy {
		// Healthy only when true: the status counts can say so while the current ReplicaSet
		// is still being resized (a replica change, a scale-down after a pause).
		if to, ok := c.plan.Replicas[c.newRS.Name]; ok || c.newRS.Spec != c.replicas || c.newRS.Replicas != c.replicas {
			if !ok {
				to = c.newRS.Spec
			}
			st.Phase, st.Message = v1alpha1.RolloutPhaseProgressing,
				fmt.Sprintf("ReplicaSet %q is being scaled to %d replicas (%d now)", newName, to, c.newRS.Replicas)
		} else if c.newRS.Available < c.replicas {
			// (The status counts the pods of a replaced stable that a router keeps up.)
			st.Phase, st.Message = v1alpha1.RolloutPhaseProgressing, "updated replicas are still becoming available"
		}
	}
	if st.Phase == v1alpha1.RolloutPhaseHealthy {
		setCondition(st, v1alpha1.RolloutHealthy, corev1.ConditionTrue, v1alpha1.ReasonRolloutHealthy, msgHealthy, now)
	} else {
		setCondition(st, v1alpha1.RolloutHealthy, corev1.ConditionFalse, v1alpha1.ReasonRolloutHealthy, msgNotHealthy, now)
	}
}

// userPauseEvents records RolloutPaused and RolloutResumed when a user sets or clears
// spec.paused (a pause step records its own, and a timed pause that ends is not a resume).
func (c *computation) userPauseEvents(paused bool) {
	prev := getCondition(&c.ro.Status, v1alpha1.RolloutPaused)
	wasPaused := prev != nil && prev.Status == corev1.ConditionTrue
	for _, e := range c.plan.Events {
		if e.Reason == "RolloutPaused" || e.Reason == "RolloutResumed" {
			return
		}
	}
	switch {
	case paused && !wasPaused && c.ro.Spec.Paused:
		c.event(false, "RolloutPaused", "Rollout is paused (manually paused)")
	case !paused && wasPaused && len(c.ro.Status.PauseConditions) == 0:
		c.event(false, "RolloutResumed", "Rollout is resumed")
	}
}

// Phase computes status.phase and status.message the way Argo Rollouts does
// (argo-compat.md §2.4), from the spec and the status being written.
func Phase(ro *v1alpha1.Rollout, st *v1alpha1.RolloutStatus) (v1alpha1.RolloutPhase, string) {
	if c := getCondition(st, v1alpha1.RolloutInvalidSpec); c != nil && c.Status == corev1.ConditionTrue {
		return v1alpha1.RolloutPhaseDegraded, v1alpha1.ReasonInvalidSpec + ": " + c.Message
	}
	if c := getCondition(st, v1alpha1.RolloutProgressing); c != nil &&
		(c.Reason == v1alpha1.ReasonRolloutAborted || c.Reason == v1alpha1.ReasonProgressDeadlineExceeded) {
		return v1alpha1.RolloutPhaseDegraded, c.Reason + ": " + c.Message
	}
	if ro.Spec.Paused {
		return v1alpha1.RolloutPhasePaused, "manually paused"
	}
	if len(st.PauseConditions) > 0 {
		return v1alpha1.RolloutPhasePaused, string(st.PauseConditions[0].Reason)
	}
	if at := ro.Spec.RestartAt; at != nil && (st.RestartedAt == nil || st.RestartedAt.Before(at)) {
		return v1alpha1.RolloutPhaseProgressing, "rollout is restarting"
	}
	replicas := int32(1)
	if ro.Spec.Replicas != nil {
		replicas = *ro.Spec.Replicas
	}
	if st.UpdatedReplicas < replicas {
		return v1alpha1.RolloutPhaseProgressing, "more replicas need to be updated"
	}
	if st.AvailableReplicas < st.UpdatedReplicas {
		return v1alpha1.RolloutPhaseProgressing, "updated replicas are still becoming available"
	}
	if c := ro.Spec.Strategy.Canary; c != nil && c.TrafficRouting == nil && st.Replicas > st.UpdatedReplicas {
		return v1alpha1.RolloutPhaseProgressing, "old replicas are pending termination"
	}
	if ro.Spec.Strategy.BlueGreen != nil {
		if replicas > 0 && st.BlueGreen.ActiveSelector != st.CurrentPodHash {
			return v1alpha1.RolloutPhaseProgressing, "active service cutover pending"
		}
		if st.StableRS != st.CurrentPodHash {
			return v1alpha1.RolloutPhaseProgressing, "waiting for analysis to complete"
		}
	}
	if st.StableRS != st.CurrentPodHash {
		return v1alpha1.RolloutPhaseProgressing, "waiting for all steps to complete"
	}
	return v1alpha1.RolloutPhaseHealthy, ""
}

// MarkInvalid records an InvalidSpec condition with msg on st (for problems the controller finds
// after planning, such as a router refusing its configuration) and recomputes the phase.
func MarkInvalid(ro *v1alpha1.Rollout, st *v1alpha1.RolloutStatus, msg string, now time.Time) {
	removeCondition(st, v1alpha1.RolloutInvalidSpec)
	if old := getCondition(&ro.Status, v1alpha1.RolloutInvalidSpec); old != nil && old.Status == corev1.ConditionTrue && old.Message == msg {
		st.Conditions = append(st.Conditions, *old) // unchanged: keep its times, write nothing new
	} else {
		setCondition(st, v1alpha1.RolloutInvalidSpec, corev1.ConditionTrue, v1alpha1.ReasonInvalidSpec, msg, metav1.NewTime(now))
	}
	st.Phase, st.Message = Phase(ro, st)
}
