package experiment

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// StepTemplate is the Experiment template a Rollout's experiment step template ts becomes:
// it runs pod (the pod template of the stable or the new ReplicaSet, as ts.specRef says) under
// selector (that ReplicaSet's) with its minReadySeconds, unless ts has its own selector; the
// step's metadata labels are added to both the pods and the selector, its annotations to the
// pods, and a weight implies a Service (the routers send the weight to it), as with Argo.
func StepTemplate(ts *v1alpha1.RolloutExperimentTemplate, pod *v1alpha1.PodTemplateSpec, selector *metav1.LabelSelector, minReadySeconds int32) v1alpha1.TemplateSpec {
	t := v1alpha1.TemplateSpec{
		Name: ts.Name, Replicas: ts.Replicas, MinReadySeconds: minReadySeconds,
		Template: *pod.DeepCopy(), Selector: selector.DeepCopy(),
	}
	if ts.Selector != nil {
		t.Selector = ts.Selector.DeepCopy()
	}
	if t.Selector == nil {
		t.Selector = &metav1.LabelSelector{}
	}
	if ts.Service != nil || ts.Weight != nil {
		t.Service = &v1alpha1.TemplateService{}
		if ts.Service != nil {
			t.Service.Name = ts.Service.Name
		}
	}
	for k, v := range ts.Metadata.Labels {
		if t.Template.Labels == nil {
			t.Template.Labels = map[string]string{}
		}
		if t.Selector.MatchLabels == nil {
			t.Selector.MatchLabels = map[string]string{}
		}
		t.Template.Labels[k], t.Selector.MatchLabels[k] = v, v
	}
	for k, v := range ts.Metadata.Annotations {
		if t.Template.Annotations == nil {
			t.Template.Annotations = map[string]string{}
		}
		t.Template.Annotations[k] = v
	}
	return t
}

// RolloutStepProblems are the reasons the Experiment controller would refuse (InvalidSpec) an
// experiment step's templates that run the Rollout's own pod template (specRef canary), found
// before anything is created: the same checks as Validate, on the templates StepTemplate
// builds from spec.template, spec.selector and spec.minReadySeconds, named after the Rollout's
// fields. Templates with specRef stable run the stable ReplicaSet's pod template, which only
// the controller sees; if the Experiment refuses them, the Rollout aborts with its message.
// A Rollout whose pod template is not resolved yet (workloadRef) gets no problems here.
func RolloutStepProblems(ro *v1alpha1.Rollout) []string {
	c := ro.Spec.Strategy.Canary
	if c == nil || len(ro.Spec.Template.Spec.Containers) == 0 {
		return nil
	}
	var out []string
	for i := range c.Steps {
		step := c.Steps[i].Experiment
		if step == nil {
			continue
		}
		for j := range step.Templates {
			ts := &step.Templates[j]
			if ts.SpecRef != v1alpha1.CanarySpecRef {
				continue
			}
			at := fmt.Sprintf("spec.strategy.canary.steps[%d].experiment.templates[%d]", i, j)
			svc := at + ".service"
			if ts.Service == nil {
				svc = at + ".weight (which gives the template a Service)"
			}
			// The Rollout's own checks cover its selector and minReadySeconds.
			paths := templatePaths{at: at, pod: "spec.template", service: svc}
			if ts.Selector != nil {
				paths.selector = at + ".selector"
			}
			t := StepTemplate(ts, &ro.Spec.Template, ro.Spec.Selector, ro.Spec.MinReadySeconds)
			out = append(out, validateTemplate(&t, paths, 0)...)
		}
	}
	return out
}
