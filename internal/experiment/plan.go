package experiment

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Defaults of an Experiment's spec.
const (
	DefaultProgressDeadlineSeconds = 600
	DefaultScaleDownDelaySeconds   = 30
)

// InvalidSpecRequeue is how often an invalid Experiment is looked at again.
const InvalidSpecRequeue = 20 * time.Second

// ReplicaSet is what the decisions need to know about a template's ReplicaSet.
type ReplicaSet struct {
	Name string
	// Hash is its rollouts-pod-template-hash label.
	Hash string
	// Spec is spec.replicas; Replicas, Ready and Available come from status.
	Spec, Replicas, Ready, Available int32
	// ScaleDownDeadline is the scale-down-deadline annotation, when set (an unreadable one is
	// the zero time: due).
	ScaleDownDeadline *time.Time
}

// Run is what the decisions need to know about an AnalysisRun the Experiment owns.
type Run struct {
	Name       string
	Phase      v1alpha1.AnalysisPhase
	Message    string
	Terminated bool
}

// Input is everything Compute looks at.
type Input struct {
	Experiment *v1alpha1.Experiment
	// ReplicaSets are the templates' ReplicaSets, by template name (absent: not created yet).
	ReplicaSets map[string]ReplicaSet
	// Services are the names of the templates' Services that exist, by template name.
	Services map[string]string
	// Runs are the AnalysisRuns the Experiment owns, by name.
	Runs map[string]Run
	// AnalysisProblems are, by analysis name, why its AnalysisRun cannot be built (a missing
	// template, an argument without a value): the analysis is then in Error.
	AnalysisProblems map[string]string
	// CreateProblems are, by template name, why its ReplicaSet or Service could not be
	// created in an earlier pass: the template is then in Error.
	CreateProblems map[string]string
	Now            time.Time
}

// Event is a Kubernetes event to record for the Experiment, on a transition.
type Event struct {
	Warning         bool
	Reason, Message string
}

// Plan is what the controller should make true, then write Status once.
type Plan struct {
	Status v1alpha1.ExperimentStatus
	// CreateReplicaSets are the templates whose ReplicaSet to create, with Replicas[template]
	// pods; Replicas also holds the new size of existing ReplicaSets that change.
	CreateReplicaSets []string
	Replicas          map[string]int32
	// SetScaleDownDeadline and ClearScaleDownDeadline add or remove the scale-down-deadline
	// annotation of templates' ReplicaSets.
	SetScaleDownDeadline   map[string]time.Time
	ClearScaleDownDeadline []string
	// CreateServices and DeleteServices are templates whose Service to create or delete.
	CreateServices []string
	DeleteServices []string
	// CreateRuns are the analyses whose AnalysisRun to create (named RunName), TerminateRuns
	// AnalysisRuns to stop (spec.terminate).
	CreateRuns    []string
	TerminateRuns []string
	Events        []Event
	// RequeueAfter is when to look again even if nothing changes (0: only on change).
	RequeueAfter time.Duration
	// Invalid is true when the spec was refused (InvalidSpec condition); nothing is done.
	Invalid bool
}

// RunName is the name of the AnalysisRun of an Experiment's analysis.
func RunName(experiment, analysis string) string { return experiment + "-" + analysis }

// ReplicaSetName is the name of a template's ReplicaSet.
func ReplicaSetName(experiment, template string) string { return experiment + "-" + template }

// Completed says whether a phase is final.
func Completed(p v1alpha1.AnalysisPhase) bool {
	switch p {
	case v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
		return true
	default:
		return false
	}
}

// Replicas is a template's size while the Experiment runs (default 1).
func Replicas(t *v1alpha1.TemplateSpec) int32 {
	if t.Replicas == nil {
		return 1
	}
	return max(*t.Replicas, 0)
}

// ProgressDeadline is spec.progressDeadlineSeconds (default 600 s).
func ProgressDeadline(ex *v1alpha1.Experiment) time.Duration {
	s := int32(DefaultProgressDeadlineSeconds)
	if p := ex.Spec.ProgressDeadlineSeconds; p != nil {
		s = *p
	}
	return time.Duration(s) * time.Second
}

// ScaleDownDelay is spec.scaleDownDelaySeconds (default 30 s).
func ScaleDownDelay(ex *v1alpha1.Experiment) time.Duration {
	s := int32(DefaultScaleDownDelaySeconds)
	if p := ex.Spec.ScaleDownDelaySeconds; p != nil {
		s = *p
	}
	return time.Duration(s) * time.Second
}

type computation struct {
	in   Input
	ex   *v1alpha1.Experiment
	st   v1alpha1.ExperimentStatus
	now  metav1.Time
	plan Plan
	// terminating: nothing new starts, runs are stopped (the phase is final, a template or
	// an analysis failed, the required analyses passed, or spec.terminate).
	terminating bool
	// finished: the phase was final before this pass; the ReplicaSets go to 0.
	finished bool
}

// Compute plans one reconcile pass of an Experiment. It is deterministic.
func Compute(in Input) Plan {
	c := &computation{in: in, ex: in.Experiment, now: metav1.NewTime(in.Now)}
	c.st = *in.Experiment.Status.DeepCopy()
	c.plan.Replicas = map[string]int32{}
	c.plan.SetScaleDownDeadline = map[string]time.Time{}
	if msg := Validate(c.ex); msg != "" {
		prev := getCondition(&c.ex.Status, v1alpha1.ExperimentInvalidSpec)
		if prev == nil || prev.Message != msg {
			c.event(true, v1alpha1.ReasonInvalidSpec, "%s", msg)
		}
		setCondition(&c.st, v1alpha1.ExperimentInvalidSpec, "True", v1alpha1.ReasonInvalidSpec, msg, c.now)
		c.plan.Status = c.st
		c.plan.Invalid = true
		c.requeue(InvalidSpecRequeue)
		return c.plan
	}
	removeCondition(&c.st, v1alpha1.ExperimentInvalidSpec)
	c.finished = Completed(c.ex.Status.Phase)
	c.terminating = Terminating(c.ex)
	for i := range c.ex.Spec.Templates {
		c.template(&c.ex.Spec.Templates[i])
	}
	for i := range c.ex.Spec.Analyses {
		c.analysis(&c.ex.Spec.Analyses[i])
	}
	c.phase()
	c.conditions()
	c.requeues()
	c.plan.Status = c.st
	slices.Sort(c.plan.TerminateRuns)
	return c.plan
}

// Terminating says whether an Experiment stops: its phase is final, a template failed, an
// analysis failed (or was inconclusive), every required analysis passed, or spec.terminate.
func Terminating(ex *v1alpha1.Experiment) bool {
	if ex.Spec.Terminate || Completed(ex.Status.Phase) {
		return true
	}
	for _, ts := range ex.Status.TemplateStatuses {
		if ts.Status == v1alpha1.TemplateStatusFailed || ts.Status == v1alpha1.TemplateStatusError {
			return true
		}
	}
	for _, r := range ex.Status.AnalysisRuns {
		switch r.Phase {
		case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
			return true
		default:
		}
	}
	return requiredPassed(ex, &ex.Status)
}

// requiredPassed: at least one analysis is requiredForCompletion and all of those are
// Successful.
func requiredPassed(ex *v1alpha1.Experiment, st *v1alpha1.ExperimentStatus) bool {
	found := false
	for _, a := range ex.Spec.Analyses {
		if !a.RequiredForCompletion {
			continue
		}
		found = true
		if s := runStatus(st, a.Name); s == nil || s.Phase != v1alpha1.AnalysisPhaseSuccessful {
			return false
		}
	}
	return found
}

func hasRequired(ex *v1alpha1.Experiment) bool {
	return slices.ContainsFunc(ex.Spec.Analyses, func(a v1alpha1.ExperimentAnalysisTemplateRef) bool { return a.RequiredForCompletion })
}

// DurationPassed says whether spec.duration has passed since status.availableAt, and how long
// is left otherwise (ok is false without a duration or before availableAt).
func DurationPassed(ex *v1alpha1.Experiment, st *v1alpha1.ExperimentStatus, now time.Time) (passed bool, left time.Duration, ok bool) {
	if ex.Spec.Duration == "" || st.AvailableAt == nil {
		return false, 0, false
	}
	d, err := ex.Spec.Duration.Duration()
	if err != nil {
		return false, 0, false
	}
	end := st.AvailableAt.Add(d)
	return now.After(end), end.Sub(now), true
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

func runStatus(st *v1alpha1.ExperimentStatus, name string) *v1alpha1.ExperimentAnalysisRunStatus {
	for i := range st.AnalysisRuns {
		if st.AnalysisRuns[i].Name == name {
			return &st.AnalysisRuns[i]
		}
	}
	return nil
}

func templateStatus(st *v1alpha1.ExperimentStatus, name string) *v1alpha1.TemplateStatus {
	for i := range st.TemplateStatuses {
		if st.TemplateStatuses[i].Name == name {
			return &st.TemplateStatuses[i]
		}
	}
	return nil
}
