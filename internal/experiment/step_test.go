package experiment

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func stepRollout(ports bool, templates ...v1alpha1.RolloutExperimentTemplate) *v1alpha1.Rollout {
	c := corev1.Container{Name: "app", Image: "nginx"}
	if ports {
		c.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	}
	ro := &v1alpha1.Rollout{}
	ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}
	ro.Spec.Template = v1alpha1.PodTemplateSpec{
		PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: map[string]string{"app": "a"}},
		Spec:                corev1.PodSpec{Containers: []corev1.Container{c}},
	}
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
		{SetWeight: new(int32(10))},
		{Experiment: &v1alpha1.RolloutExperimentStep{Templates: templates}},
	}}
	return ro
}

// The Rollout's up-front check is Validate on the templates StepTemplate builds from the
// Rollout's pod template, named after the Rollout's fields; stable templates are left to the
// Experiment controller.
func TestRolloutStepProblems(t *testing.T) {
	const at = "spec.strategy.canary.steps[1].experiment.templates[0]"
	other := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	for _, tc := range []struct {
		name  string
		ro    *v1alpha1.Rollout
		wantN int
		want  string
	}{
		{"service without port", stepRollout(false, v1alpha1.RolloutExperimentTemplate{Name: "c", SpecRef: v1alpha1.CanarySpecRef, Service: &v1alpha1.TemplateService{}}),
			1, at + ".service needs a port: declare the containerPort(s) the Service should expose in spec.template"},
		{"weight without port", stepRollout(false, v1alpha1.RolloutExperimentTemplate{Name: "c", SpecRef: v1alpha1.CanarySpecRef, Weight: new(int32(5))}),
			1, at + ".weight (which gives the template a Service) needs a port: declare the containerPort(s) the Service should expose in spec.template"},
		{"selector not matching", stepRollout(true, v1alpha1.RolloutExperimentTemplate{Name: "c", SpecRef: v1alpha1.CanarySpecRef, Selector: other}),
			1, at + ".selector does not match the labels of spec.template.metadata.labels"},
		{"step labels go to both", stepRollout(true, v1alpha1.RolloutExperimentTemplate{Name: "c", SpecRef: v1alpha1.CanarySpecRef, Selector: other,
			Metadata: v1alpha1.PodTemplateMetadata{Labels: map[string]string{"app": "other"}}}), 0, ""},
		{"stable is the controller's", stepRollout(false, v1alpha1.RolloutExperimentTemplate{Name: "b", SpecRef: v1alpha1.StableSpecRef, Service: &v1alpha1.TemplateService{}}), 0, ""},
		{"ports", stepRollout(true, v1alpha1.RolloutExperimentTemplate{Name: "c", SpecRef: v1alpha1.CanarySpecRef, Weight: new(int32(5))}), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RolloutStepProblems(tc.ro)
			if len(got) != tc.wantN || (tc.want != "" && !slices.Contains(got, tc.want)) {
				t.Fatalf("problems %q, want %d with %q", got, tc.wantN, tc.want)
			}
			// The same template in an Experiment gets the same verdict from Validate.
			ts := tc.ro.Spec.Strategy.Canary.Steps[1].Experiment.Templates[0]
			if ts.SpecRef != v1alpha1.CanarySpecRef {
				return
			}
			ex := &v1alpha1.Experiment{Spec: v1alpha1.ExperimentSpec{Templates: []v1alpha1.TemplateSpec{
				StepTemplate(&ts, &tc.ro.Spec.Template, tc.ro.Spec.Selector, 0),
			}}}
			if msg := Validate(ex); (msg == "") != (tc.wantN == 0) {
				t.Errorf("Validate of the Experiment says %q, the Rollout's check %q", msg, got)
			}
		})
	}
}
