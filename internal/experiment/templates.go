package experiment

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Messages of template statuses.
const (
	msgDeadline = "Template '%s' exceeded its progressDeadlineSeconds (%d)"
)

func templateCompleted(s v1alpha1.TemplateStatusCode) bool {
	switch s {
	case v1alpha1.TemplateStatusSuccessful, v1alpha1.TemplateStatusFailed, v1alpha1.TemplateStatusError:
		return true
	default:
		return false
	}
}

// template plans one template: its ReplicaSet (created, scaled, scaled down after the delay
// once the Experiment is over), its Service, and its status.
func (c *computation) template(t *v1alpha1.TemplateSpec) {
	ts := templateStatus(&c.st, t.Name)
	if ts == nil {
		c.st.TemplateStatuses = append(c.st.TemplateStatuses, v1alpha1.TemplateStatus{Name: t.Name})
		ts = &c.st.TemplateStatuses[len(c.st.TemplateStatuses)-1]
	}
	prev := *ts.DeepCopy()
	desired := Replicas(t)
	if c.finished {
		desired = 0
	}
	rs, exists := c.in.ReplicaSets[t.Name]
	svc := c.in.Services[t.Name]
	switch {
	case !exists:
		if !c.terminating {
			c.plan.CreateReplicaSets = append(c.plan.CreateReplicaSets, t.Name)
			c.plan.Replicas[t.Name] = desired
			ts.LastTransitionTime = &c.now
		}
	default:
		c.scaleTemplate(t, ts, &rs, desired)
		switch {
		case t.Service == nil && svc != "":
			c.plan.DeleteServices = append(c.plan.DeleteServices, t.Name)
			svc = ""
		case t.Service != nil && desired == 0 && rs.Spec == 0 && rs.Available == 0 && svc != "":
			c.plan.DeleteServices = append(c.plan.DeleteServices, t.Name)
			svc = ""
		case t.Service != nil && desired != 0 && svc == "":
			c.plan.CreateServices = append(c.plan.CreateServices, t.Name)
			svc = ServiceName(c.ex, t)
		}
	}
	ts.ServiceName, ts.PodTemplateHash = "", ""
	if svc != "" && exists {
		ts.ServiceName, ts.PodTemplateHash = svc, rs.Hash
	}
	if exists {
		ts.Replicas, ts.UpdatedReplicas, ts.ReadyReplicas, ts.AvailableReplicas = rs.Replicas, rs.Replicas, rs.Ready, rs.Available
	} else {
		ts.Replicas, ts.UpdatedReplicas, ts.ReadyReplicas, ts.AvailableReplicas = 0, 0, 0, 0
	}
	if prev.Replicas != ts.Replicas || prev.UpdatedReplicas != ts.UpdatedReplicas || prev.ReadyReplicas != ts.ReadyReplicas || prev.AvailableReplicas != ts.AvailableReplicas {
		ts.LastTransitionTime = &c.now
	}
	if !templateCompleted(ts.Status) {
		c.templateState(t, ts, desired)
	}
	if prev.Status != ts.Status {
		msg := fmt.Sprintf("Template '%s' transitioned from %s -> %s", t.Name, orNone(string(prev.Status)), ts.Status)
		if ts.Message != "" {
			msg += ": " + ts.Message
		}
		warn := ts.Status == v1alpha1.TemplateStatusFailed || ts.Status == v1alpha1.TemplateStatusError
		c.event(warn, "Template"+string(ts.Status), "%s", msg)
	}
}

// templateState decides the status of a template that has not completed: Running once all
// its pods are available (Successful once the duration passed or the Experiment stops),
// Failed when they are not available within progressDeadlineSeconds of the last change.
func (c *computation) templateState(t *v1alpha1.TemplateSpec, ts *v1alpha1.TemplateStatus, desired int32) {
	if desired == ts.AvailableReplicas {
		passed, _, _ := DurationPassed(c.ex, &c.ex.Status, c.in.Now)
		if passed || c.terminating {
			ts.Status = v1alpha1.TemplateStatusSuccessful
		} else {
			ts.Status = v1alpha1.TemplateStatusRunning
		}
		return
	}
	from := c.now
	if ts.LastTransitionTime != nil {
		from = *ts.LastTransitionTime
	}
	deadline := ProgressDeadline(c.ex)
	switch {
	case c.terminating: // (the pods go: no deadline applies)
		ts.Status = v1alpha1.TemplateStatusSuccessful
	case c.in.Now.After(from.Add(deadline)):
		ts.Status = v1alpha1.TemplateStatusFailed
		ts.Message = fmt.Sprintf(msgDeadline, t.Name, int64(deadline/time.Second))
	default:
		ts.Status = v1alpha1.TemplateStatusProgressing
	}
}

// scaleTemplate sizes an existing ReplicaSet: to the template's replicas while the Experiment
// runs; to 0 once it is over, after scaleDownDelaySeconds counted from the scale-down-deadline
// annotation it gets then.
func (c *computation) scaleTemplate(t *v1alpha1.TemplateSpec, ts *v1alpha1.TemplateStatus, rs *ReplicaSet, desired int32) {
	if desired == 0 && rs.Spec != 0 {
		delay := ScaleDownDelay(c.ex)
		switch {
		case delay == 0:
			if rs.ScaleDownDeadline != nil {
				c.plan.ClearScaleDownDeadline = append(c.plan.ClearScaleDownDeadline, t.Name)
			}
		case rs.ScaleDownDeadline == nil:
			c.plan.SetScaleDownDeadline[t.Name] = c.in.Now.Add(delay)
			c.requeue(delay)
			return
		case c.in.Now.Before(*rs.ScaleDownDeadline):
			c.requeue(rs.ScaleDownDeadline.Sub(c.in.Now))
			return
		}
	}
	if rs.Spec != desired {
		c.plan.Replicas[t.Name] = desired
		c.event(false, "ScalingReplicaSet", "Scaled %s ReplicaSet %s from %d to %d", upDown(rs.Spec, desired), rs.Name, rs.Spec, desired)
		rs.Spec = desired
		ts.LastTransitionTime = &c.now
	}
}

func upDown(from, to int32) string {
	if to > from {
		return "up"
	}
	return "down"
}

func orNone(s string) string {
	if s == "" {
		return "''"
	}
	return s
}

// MarkTemplateError puts a template in Error (its ReplicaSet or Service could not be created),
// unless it already completed; the Experiment then fails at the next pass.
func MarkTemplateError(st *v1alpha1.ExperimentStatus, name, msg string, now time.Time) {
	ts := templateStatus(st, name)
	if ts == nil {
		st.TemplateStatuses = append(st.TemplateStatuses, v1alpha1.TemplateStatus{Name: name})
		ts = &st.TemplateStatuses[len(st.TemplateStatuses)-1]
	}
	if templateCompleted(ts.Status) {
		return
	}
	t := metav1.NewTime(now)
	ts.Status, ts.Message, ts.LastTransitionTime = v1alpha1.TemplateStatusError, msg, &t
}

// MarkAnalysisError puts an analysis in Error (its AnalysisRun could not be created).
func MarkAnalysisError(st *v1alpha1.ExperimentStatus, name, msg string) {
	s := runStatus(st, name)
	if s == nil {
		st.AnalysisRuns = append(st.AnalysisRuns, v1alpha1.ExperimentAnalysisRunStatus{Name: name})
		s = &st.AnalysisRuns[len(st.AnalysisRuns)-1]
	}
	s.Phase, s.Message = v1alpha1.AnalysisPhaseError, msg
}
