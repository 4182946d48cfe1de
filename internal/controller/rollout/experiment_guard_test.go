package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// These tests keep a Rollout from stalling silently at an experiment step: a step whose
// Experiment the Experiment controller would refuse, or whose name another Experiment holds.

// A canary-template experiment with a Service but no container port is refused up front: the
// Rollout gets InvalidSpec with the Experiment controller's reason, and no Experiment exists.
func TestExperimentStepTemplateRefusedUpFront(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "my-rollout", 2, setWeight(50), experimentStep(""), setWeight(100))
	ro.Spec.Template.Spec.Containers[0].Ports = nil
	ro.Spec.Strategy.Canary.Steps[1].Experiment.Templates[1].Service = &v1alpha1.TemplateService{}
	e.create(ro)
	want := "spec.strategy.canary.steps[1].experiment.templates[1].service needs a port: declare the containerPort(s) the Service should expose in spec.template"
	e.waitFor(time.Minute, func() string {
		got := e.rollout("my-rollout")
		if c := condition(got, v1alpha1.RolloutInvalidSpec); c == nil || c.Status != corev1.ConditionTrue || !strings.Contains(c.Message, want) {
			return fmt.Sprintf("waiting for InvalidSpec: %s %q", got.Status.Phase, got.Status.Message)
		}
		return ""
	})
	if got := e.rollout("my-rollout"); got.Status.Phase != v1alpha1.RolloutPhaseDegraded {
		t.Errorf("phase %s %q, want Degraded", got.Status.Phase, got.Status.Message)
	}
	if n := len(e.experiments()); n != 0 {
		t.Errorf("%d Experiments for a refused Rollout", n)
	}
}

// An Experiment the Experiment controller refuses (here the baseline runs the stable template,
// which has no port, with a Service: only the controller sees that template) aborts the
// Rollout with the Experiment's message, instead of leaving it waiting at the step.
func TestRefusedExperimentAbortsTheRollout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "my-rollout", 2, setWeight(50), experimentStep("1h"), setWeight(100))
	ports := ro.Spec.Template.Spec.Containers[0].Ports
	ro.Spec.Template.Spec.Containers[0].Ports = nil
	ro.Spec.Strategy.Canary.Steps[1].Experiment.Templates[0].Service = &v1alpha1.TemplateService{}
	e.create(ro)
	e.waitHealthy("my-rollout", time.Minute)
	e.updateTemplate("my-rollout", "nginx:1.26", func(p *v1alpha1.PodTemplateSpec) { p.Spec.Containers[0].Ports = ports })
	e.waitFor(time.Minute, func() string {
		got := e.rollout("my-rollout")
		if !got.Status.Abort || got.Status.Phase != v1alpha1.RolloutPhaseDegraded {
			return fmt.Sprintf("waiting for the abort: %s %q, step %d", got.Status.Phase, got.Status.Message, ptr.Deref(got.Status.CurrentStepIndex, -1))
		}
		return ""
	})
	got := e.rollout("my-rollout")
	name := fmt.Sprintf("my-rollout-%s-2-1", got.Status.CurrentPodHash)
	for _, want := range []string{"Experiment " + name + " was refused (InvalidSpec)", "spec.templates[0].service needs a port"} {
		if !strings.Contains(got.Status.Message, want) {
			t.Errorf("message %q does not say %q", got.Status.Message, want)
		}
	}
	if ex := e.experiment(name); !ex.Spec.Terminate {
		t.Errorf("the refused Experiment is not terminated after the abort")
	}
	e.waitPods("my-rollout", 0, 2, v1alpha1.RolloutPhaseDegraded)
}

// An Experiment the Rollout does not own holds the name of the step's Experiment: the Rollout
// records a Warning event and runs its own under the next -<n> name; the other is left alone.
func TestForeignExperimentNameIsNotTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "my-rollout", 2, setWeight(50), pauseFor(""), experimentStep("2s"), setWeight(100)))
	e.waitHealthy("my-rollout", time.Minute)
	e.setImage("my-rollout", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		if got := e.rollout("my-rollout"); got.Status.CurrentPodHash == "" || ptr.Deref(got.Status.CurrentStepIndex, -1) != 1 || len(got.Status.PauseConditions) == 0 {
			return fmt.Sprintf("waiting for the pause: step %d", ptr.Deref(got.Status.CurrentStepIndex, -1))
		}
		return ""
	})
	taken := fmt.Sprintf("my-rollout-%s-2-2", e.rollout("my-rollout").Status.CurrentPodHash)
	other := &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Name: taken},
		Spec: v1alpha1.ExperimentSpec{Duration: "1h", Templates: []v1alpha1.TemplateSpec{{
			Name: "other", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
			Template: v1alpha1.PodTemplateSpec{
				PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: map[string]string{"app": "other"}},
				Spec:                corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		}}},
	}
	e.createObj(other)
	e.statusPatch("my-rollout", `{"status":{"pauseConditions":null}}`) // promote
	e.waitFor(time.Minute, func() string {
		if got := e.rollout("my-rollout"); got.Status.Canary.CurrentExperiment != taken+"-1" {
			return fmt.Sprintf("waiting for the step's Experiment: %q (step %d, %s %q)", got.Status.Canary.CurrentExperiment,
				ptr.Deref(got.Status.CurrentStepIndex, -1), got.Status.Phase, got.Status.Message)
		}
		return ""
	})
	if evs := e.events("my-rollout", plan.ReasonExperimentNameTaken); len(evs) == 0 || evs[0].Type != corev1.EventTypeWarning ||
		!strings.Contains(evs[0].Note, taken+" exists and is not owned by this Rollout") {
		t.Errorf("ExperimentNameTaken events %+v", evs)
	}
	e.waitHealthy("my-rollout", 2*time.Minute)
	if ex := e.experiment(taken); ex.Spec.Terminate || metav1.GetControllerOf(ex) != nil {
		t.Errorf("the other Experiment was touched: terminate=%v owner %v", ex.Spec.Terminate, metav1.GetControllerOf(ex))
	}
}
