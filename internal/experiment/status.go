package experiment

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Condition reasons and messages of the Progressing condition, as Argo Rollouts writes them.
const (
	ReasonReplicaSetUpdated      = "ReplicaSetUpdated"
	ReasonNewReplicaSetAvailable = "NewReplicaSetAvailable"
	ReasonExperimentCompleted    = "ExperimentCompleted"

	msgProgressing = "Experiment %q is progressing."
	msgRunning     = "Experiment %q is running."
	msgCompleted   = "Experiment %q has successfully ran and completed."
)

// phase derives the Experiment's phase from its templates and analyses. A final phase never
// changes again.
func (c *computation) phase() {
	switch c.st.Phase {
	case "":
		c.st.Phase = v1alpha1.AnalysisPhasePending
		return
	case v1alpha1.AnalysisPhasePending, v1alpha1.AnalysisPhaseRunning:
	default:
		return
	}
	tPhase, tMsg := c.assessTemplates()
	aPhase, aMsg := c.assessAnalyses()
	if tPhase == v1alpha1.AnalysisPhaseRunning && c.st.AvailableAt == nil {
		c.st.AvailableAt = &c.now
	}
	phase, msg := tPhase, tMsg
	switch {
	case Completed(tPhase):
		// The templates are done: with a Successful end, the analyses decide once they are
		// done or when some are required (which the Experiment then waits for).
		if tPhase == v1alpha1.AnalysisPhaseSuccessful && (Completed(aPhase) || hasRequired(c.ex)) {
			phase, msg = aPhase, aMsg
		}
	case Completed(aPhase) && aPhase != v1alpha1.AnalysisPhaseSuccessful:
		phase, msg = aPhase, aMsg
	case requiredPassed(c.ex, &c.st):
		phase, msg = aPhase, aMsg
	}
	if phase != c.st.Phase && Completed(phase) {
		warn := phase != v1alpha1.AnalysisPhaseSuccessful
		text := fmt.Sprintf("Experiment completed: %s", phase)
		if msg != "" {
			text += ": " + msg
		}
		c.event(warn, "Experiment"+string(phase), "%s", text)
	}
	c.st.Phase, c.st.Message = phase, msg
}

// conditions sets the Progressing condition as Argo Rollouts does: False/ExperimentCompleted
// once the phase is final, True/ReplicaSetUpdated while pod counts change, True/
// NewReplicaSetAvailable while the Experiment runs its duration.
func (c *computation) conditions() {
	name := c.ex.Name
	switch {
	case Completed(c.st.Phase):
		setCondition(&c.st, v1alpha1.ExperimentProgressing, corev1.ConditionFalse, ReasonExperimentCompleted, fmt.Sprintf(msgCompleted, name), c.now)
	case c.progressed():
		cond := setCondition(&c.st, v1alpha1.ExperimentProgressing, corev1.ConditionTrue, ReasonReplicaSetUpdated, fmt.Sprintf(msgProgressing, name), c.now)
		cond.LastUpdateTime = c.now
	case c.ex.Status.AvailableAt != nil:
		if passed, _, _ := DurationPassed(c.ex, &c.ex.Status, c.in.Now); !passed {
			setCondition(&c.st, v1alpha1.ExperimentProgressing, corev1.ConditionTrue, ReasonNewReplicaSetAvailable, fmt.Sprintf(msgRunning, name), c.now)
		}
	}
}

// progressed: a template appeared or its pod counts changed.
func (c *computation) progressed() bool {
	if len(c.st.TemplateStatuses) > len(c.ex.Status.TemplateStatuses) {
		return true
	}
	for _, old := range c.ex.Status.TemplateStatuses {
		cur := templateStatus(&c.st, old.Name)
		if cur != nil && (cur.Replicas != old.Replicas || cur.UpdatedReplicas != old.UpdatedReplicas ||
			cur.ReadyReplicas != old.ReadyReplicas || cur.AvailableReplicas != old.AvailableReplicas) {
			return true
		}
	}
	return false
}

// requeues asks to look again when the duration ends or a template's progress deadline passes.
func (c *computation) requeues() {
	if Completed(c.st.Phase) {
		return
	}
	if passed, left, ok := DurationPassed(c.ex, &c.st, c.in.Now); ok && !passed {
		c.requeue(left + 10*time.Millisecond) // (just past the end: "after" is strict)
	}
	deadline := ProgressDeadline(c.ex)
	for _, t := range c.ex.Spec.Templates {
		ts := templateStatus(&c.st, t.Name)
		if ts == nil || ts.LastTransitionTime == nil || ts.AvailableReplicas == Replicas(&t) {
			continue
		}
		if ts.Status == v1alpha1.TemplateStatusProgressing || ts.Status == v1alpha1.TemplateStatusRunning {
			c.requeue(ts.LastTransitionTime.Add(deadline).Sub(c.in.Now) + 10*time.Millisecond)
		}
	}
}

func getCondition(st *v1alpha1.ExperimentStatus, t v1alpha1.ExperimentConditionType) *v1alpha1.ExperimentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition sets a condition like Argo Rollouts: unchanged when status and reason are the
// same; lastTransitionTime kept when only the reason changes.
func setCondition(st *v1alpha1.ExperimentStatus, t v1alpha1.ExperimentConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) *v1alpha1.ExperimentCondition {
	if c := getCondition(st, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == msg {
			return c
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastUpdateTime = status, reason, msg, now
		return c
	}
	st.Conditions = append(st.Conditions, v1alpha1.ExperimentCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: now, LastUpdateTime: now,
	})
	return &st.Conditions[len(st.Conditions)-1]
}

func removeCondition(st *v1alpha1.ExperimentStatus, t v1alpha1.ExperimentConditionType) {
	var out []v1alpha1.ExperimentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}
