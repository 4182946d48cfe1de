package plan

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func TestValidate(t *testing.T) {
	zero := intstr.FromInt32(0)
	bad := intstr.FromString("soon")
	for _, tc := range []struct {
		name   string
		mutate func(ro *v1alpha1.Rollout)
		want   string // substring; "" = valid
	}{
		{"valid", func(*v1alpha1.Rollout) {}, ""},
		{"no strategy", func(ro *v1alpha1.Rollout) { ro.Spec.Strategy.Canary = nil }, "spec.strategy must set canary or blueGreen"},
		{"blue-green without activeService", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{PreviewService: "p"}}
		}, "blueGreen.activeService is required"},
		{"blue-green with one Service for both", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "a", PreviewService: "a"}}
		}, "activeService and previewService must differ"},
		{"selector mismatch", func(ro *v1alpha1.Rollout) { ro.Spec.Selector.MatchLabels["app"] = "other" }, "spec.selector does not match"},
		{"empty selector", func(ro *v1alpha1.Rollout) { ro.Spec.Selector = &metav1.LabelSelector{} }, "spec.selector is required"},
		{"surge and unavailable 0", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.MaxSurge, ro.Spec.Strategy.Canary.MaxUnavailable = &zero, &zero
		}, "maxSurge and maxUnavailable must not both be 0"},
		{"same services", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.CanaryService, ro.Spec.Strategy.Canary.StableService = "web", "web"
		}, `canaryService and stableService must differ (both are "web")`},
		{"weight 120", func(ro *v1alpha1.Rollout) { ro.Spec.Strategy.Canary.Steps[0] = setWeight(120) }, "steps[0].setWeight must be between 0 and 100, got 120"},
		{"bad pause", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.Steps[1] = v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: &bad}}
		}, `steps[1].pause.duration: invalid duration "soon"`},
		{"empty step", func(ro *v1alpha1.Rollout) { ro.Spec.Strategy.Canary.Steps[1] = v1alpha1.CanaryStep{} }, "steps[1] sets no step kind"},
		{"two actions", func(ro *v1alpha1.Rollout) {
			s := setWeight(10)
			s.Pause = &v1alpha1.RolloutPause{}
			ro.Spec.Strategy.Canary.Steps[0] = s
		}, "sets more than one of setWeight, pause"},
		{"analysis step", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.Steps[1] = v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{}}
		}, "steps[1].analysis.templates must name at least one"},
		{"setCanaryScale without router", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.Steps[1] = v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: new(int32(1))}}
		}, "setCanaryScale needs trafficRouting"},
		{"scaleDownDelay without router", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.ScaleDownDelaySeconds = new(int32(30))
		}, "scaleDownDelaySeconds needs trafficRouting"},
		{"deadline below minReady", func(ro *v1alpha1.Rollout) {
			ro.Spec.MinReadySeconds = 30
			ro.Spec.ProgressDeadlineSeconds = new(int32(30))
		}, "progressDeadlineSeconds (30) must be greater than spec.minReadySeconds (30)"},
		{"workloadRef beside a template", func(ro *v1alpha1.Rollout) {
			ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x"}
		}, "spec.template must be empty when spec.workloadRef is set"},
		{"workloadRef to a ReplicaSet", func(ro *v1alpha1.Rollout) {
			ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x"}
			ro.Spec.Template = v1alpha1.PodTemplateSpec{}
		}, "spec.workloadRef must reference an apps/v1 Deployment, not apps/v1 ReplicaSet"},
		{"workloadRef without name", func(ro *v1alpha1.Rollout) {
			ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment"}
			ro.Spec.Template = v1alpha1.PodTemplateSpec{}
		}, "spec.workloadRef.name is required"},
		{"workloadRef unresolved, no selector", func(ro *v1alpha1.Rollout) {
			ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", ScaleDown: "progressively"}
			ro.Spec.Template, ro.Spec.Selector = v1alpha1.PodTemplateSpec{}, nil
		}, ""},
		{"workloadRef resolved", func(ro *v1alpha1.Rollout) {
			ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x"}
			ro.Spec.TemplateResolvedFromRef = true
		}, ""},
		{"workloadRef resolved, selector mismatch", func(ro *v1alpha1.Rollout) {
			ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x"}
			ro.Spec.TemplateResolvedFromRef = true
			ro.Spec.Selector.MatchLabels["app"] = "other"
		}, `spec.selector does not match the labels of the pod template of Deployment "x"`},
		{"background analysis", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.Analysis = &v1alpha1.RolloutAnalysisBackground{}
		}, "canary.analysis.templates must name at least one"},
		{"progress threshold percent", func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.ReplicaProgressThreshold = &v1alpha1.ReplicaProgressThreshold{Type: v1alpha1.ProgressTypePercentage, Value: 150}
		}, "replicaProgressThreshold.value must be 1..100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := rollout(3, basicSteps()...)
			tc.mutate(ro)
			got := Validate(ro)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("Validate = %q, want %q", got, tc.want)
			}
		})
	}
}

// An invalid Rollout is reported, not acted on.
func TestComputeInvalidSpec(t *testing.T) {
	ro := rollout(3, setWeight(150))
	p := Compute(Input{Rollout: ro, NewHash: "h1", Revision: 1, ReplicaSets: []ReplicaSet{{Name: "ro-h1", Hash: "h1"}}})
	if !p.Invalid || len(p.Replicas) != 0 || p.Status.Phase != v1alpha1.RolloutPhaseDegraded ||
		!strings.HasPrefix(p.Status.Message, "InvalidSpec: spec.strategy.canary.steps[0].setWeight") {
		t.Fatalf("plan %+v", p)
	}
	if len(p.Events) != 1 || p.Events[0].Reason != "InvalidSpec" || !p.Events[0].Warning {
		t.Fatalf("events %+v", p.Events)
	}
	// The same invalid spec again: no second event.
	ro.Status = p.Status
	if p2 := Compute(Input{Rollout: ro, NewHash: "h1", Revision: 1, ReplicaSets: []ReplicaSet{{Name: "ro-h1", Hash: "h1"}}}); len(p2.Events) != 0 {
		t.Fatalf("repeated event: %+v", p2.Events)
	}
}

// ValidateAll reports every problem (one per step), so `sluice lint` can list them all.
func TestValidateAllReportsEveryProblem(t *testing.T) {
	ro := rollout(3, setWeight(120), pause("soon"), setWeight(50))
	ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x"} // beside a template
	ro.Spec.Strategy.Canary.AntiAffinity = &v1alpha1.AntiAffinity{}
	got := ValidateAll(ro)
	want := []string{"spec.workloadRef", "antiAffinity", "steps[0].setWeight", "steps[1].pause.duration"}
	if len(got) != len(want) {
		t.Fatalf("ValidateAll = %q, want %d problems", got, len(want))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want it to mention %s", i, got[i], w)
		}
	}
	if Validate(ro) != got[0] {
		t.Errorf("Validate = %q, want the first of ValidateAll", Validate(ro))
	}
}
