package plan

import (
	"fmt"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Validate returns the first reason the controller cannot run this Rollout, or "". It checks
// what the CRD schema cannot (or what a Rollout written for an older schema may carry), and it
// refuses fields sluice does not implement yet instead of ignoring them: a Rollout that asks
// for analysis, a traffic router or blue-green gets an InvalidSpec condition that says so, and
// its pods are left as they are.
func Validate(ro *v1alpha1.Rollout) string {
	if all := ValidateAll(ro); len(all) > 0 {
		return all[0]
	}
	return ""
}

// ValidateAll returns every reason Validate knows, in the order Validate checks them (one per
// step at most, and none that follow from an earlier one: an invalid selector is not also
// reported as not matching the template).
func ValidateAll(ro *v1alpha1.Rollout) []string {
	var out []string
	add := func(msg string) {
		if msg != "" {
			out = append(out, msg)
		}
	}
	spec := &ro.Spec
	// unresolved: the template (and maybe the selector) still has to come from the referenced
	// workload (the controller resolves it before planning); until then only the reference
	// itself can be checked.
	unresolved := spec.WorkloadRef != nil && !spec.TemplateResolvedFromRef
	if spec.WorkloadRef != nil {
		out = append(out, validateWorkloadRef(spec)...)
	}
	switch {
	case spec.Selector == nil && unresolved:
		// taken from the Deployment
	case spec.Selector == nil || (len(spec.Selector.MatchLabels) == 0 && len(spec.Selector.MatchExpressions) == 0):
		add("spec.selector is required and must not be empty")
	default:
		if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
			add("spec.selector is invalid: " + err.Error())
		} else if !unresolved && !sel.Matches(labels.Set(spec.Template.Labels)) {
			if spec.WorkloadRef != nil {
				add(fmt.Sprintf("spec.selector does not match the labels of the pod template of %s %q (spec.workloadRef)", spec.WorkloadRef.Kind, spec.WorkloadRef.Name))
			} else {
				add("spec.selector does not match the labels of spec.template.metadata.labels")
			}
		}
	}
	if len(spec.Template.Spec.Containers) == 0 && !unresolved {
		add("spec.template.spec.containers must list at least one container")
	}
	if spec.Replicas != nil && *spec.Replicas < 0 {
		add("spec.replicas must not be negative")
	}
	if spec.ProgressDeadlineSeconds != nil && *spec.ProgressDeadlineSeconds <= spec.MinReadySeconds {
		add(fmt.Sprintf("spec.progressDeadlineSeconds (%d) must be greater than spec.minReadySeconds (%d)",
			*spec.ProgressDeadlineSeconds, spec.MinReadySeconds))
	}
	switch {
	case spec.Strategy.Canary == nil && spec.Strategy.BlueGreen == nil:
		add("spec.strategy must set canary or blueGreen")
	case spec.Strategy.Canary != nil && spec.Strategy.BlueGreen != nil:
		add("spec.strategy must set only one of canary and blueGreen")
	case spec.Strategy.BlueGreen != nil:
		out = append(out, validateBlueGreen(spec.Strategy.BlueGreen)...)
		out = append(out, validatePodExtras(ro)...) // antiAffinity, role metadata (metadata.go)
	default:
		out = append(out, validatePodExtras(ro)...)
		out = append(out, validateCanary(spec.Strategy.Canary)...)
	}
	return out
}

func validateBlueGreen(b *v1alpha1.BlueGreenStrategy) []string {
	const p = "spec.strategy.blueGreen."
	var out []string
	add := func(msg string) { out = append(out, msg) }
	if b.ActiveService == "" {
		add(p + "activeService is required: the Service that sends users to the active version")
	}
	if b.PreviewService != "" && b.PreviewService == b.ActiveService {
		add(fmt.Sprintf(p+"activeService and previewService must differ (both are %q)", b.ActiveService))
	}
	if n := b.PreviewReplicaCount; n != nil && *n < 0 {
		add(p + "previewReplicaCount must not be negative")
	}
	if b.AutoPromotionSeconds < 0 {
		add(p + "autoPromotionSeconds must not be negative")
	}
	for _, a := range []struct {
		name string
		a    *v1alpha1.RolloutAnalysis
	}{{"prePromotionAnalysis", b.PrePromotionAnalysis}, {"postPromotionAnalysis", b.PostPromotionAnalysis}} {
		if a.a != nil && len(a.a.Templates) == 0 {
			add(p + a.name + ".templates must name at least one AnalysisTemplate or ClusterAnalysisTemplate")
		}
	}
	return out
}

func validateCanary(c *v1alpha1.CanaryStrategy) []string {
	const p = "spec.strategy.canary."
	var out []string
	add := func(msg string) { out = append(out, msg) }
	if isZero(c.MaxSurge) && isZero(c.MaxUnavailable) {
		add(p + "maxSurge and maxUnavailable must not both be 0")
	}
	if c.CanaryService != "" && c.CanaryService == c.StableService {
		add(fmt.Sprintf(p+"canaryService and stableService must differ (both are %q)", c.CanaryService))
	}
	routed := c.TrafficRouting != nil
	if c.Analysis != nil && len(c.Analysis.Templates) == 0 {
		add(p + "analysis.templates must name at least one AnalysisTemplate or ClusterAnalysisTemplate")
	}
	if c.PingPong != nil {
		add(p + "pingPong (ALB ping-pong mode) is not supported by sluice yet; use canaryService and stableService with trafficRouting.alb")
	}
	if !routed {
		switch {
		case c.ScaleDownDelaySeconds != nil:
			add(p + "scaleDownDelaySeconds needs trafficRouting: without a router old pods are scaled down as the canary grows")
		case c.ScaleDownDelayRevisionLimit != nil:
			add(p + "scaleDownDelayRevisionLimit needs trafficRouting")
		case c.DynamicStableScale:
			add(p + "dynamicStableScale needs trafficRouting")
		case c.MinPodsPerReplicaSet != nil:
			add(p + "minPodsPerReplicaSet needs trafficRouting")
		}
	}
	if t := c.ReplicaProgressThreshold; t != nil {
		switch t.Type {
		case v1alpha1.ProgressTypePercentage:
			if t.Value < 1 || t.Value > 100 {
				add(fmt.Sprintf(p+"replicaProgressThreshold.value must be 1..100 for type Percent, got %d", t.Value))
			}
		case v1alpha1.ProgressTypePod:
			if t.Value < 1 {
				add(fmt.Sprintf(p+"replicaProgressThreshold.value must be at least 1 for type Pod, got %d", t.Value))
			}
		default:
			add(fmt.Sprintf(p+"replicaProgressThreshold.type must be Percent or Pod, got %q", t.Type))
		}
	}
	maxW := int32(100) // setWeight is out of maxTrafficWeight where a router uses one (Argo ≥ 1.7)
	if tr := c.TrafficRouting; tr != nil && tr.MaxTrafficWeight != nil && *tr.MaxTrafficWeight > 0 {
		maxW = *tr.MaxTrafficWeight
	}
	return append(out, validateSteps(c.Steps, routed, maxW)...)
}

func validateSteps(steps []v1alpha1.CanaryStep, routed bool, maxW int32) []string {
	var out []string
	for i := range steps {
		msg := validateStep(i, &steps[i], routed, maxW)
		if e := steps[i].Experiment; msg == "" && e != nil && routed {
			msg = experimentWeightsProblem(fmt.Sprintf("spec.strategy.canary.steps[%d]", i), e, WeightAt(steps, int32(i), maxW), maxW)
		}
		if msg != "" {
			out = append(out, msg)
		}
	}
	return out
}

// validateStep returns the first problem of one step.
func validateStep(i int, s *v1alpha1.CanaryStep, routed bool, maxW int32) string {
	at := fmt.Sprintf("spec.strategy.canary.steps[%d]", i)
	kinds := stepKinds(s)
	if len(kinds) == 0 {
		return at + " sets no step kind (setWeight, pause, setCanaryScale, …)"
	}
	actions := 0
	for _, k := range kinds {
		switch k {
		case "setWeight", "pause", "analysis", "experiment", "plugin":
			actions++
		}
	}
	if actions > 1 {
		return fmt.Sprintf("%s sets more than one of setWeight, pause, analysis, experiment and plugin (%s); use one step for each", at, strings.Join(kinds, ", "))
	}
	for _, k := range kinds {
		if msg := validateStepKind(at, k, s, routed, maxW); msg != "" {
			return msg
		}
	}
	return ""
}

func validateStepKind(at, kind string, s *v1alpha1.CanaryStep, routed bool, maxW int32) string {
	switch kind {
	case "setWeight":
		if w := *s.SetWeight; w < 0 || w > maxW {
			return fmt.Sprintf("%s.setWeight must be between 0 and %d, got %d", at, maxW, w)
		}
	case "pause":
		if _, _, err := PauseDuration(s.Pause); err != nil {
			return at + ".pause.duration: " + err.Error()
		}
	case "setCanaryScale":
		if !routed {
			return at + ".setCanaryScale needs trafficRouting: without a router the canary size follows setWeight"
		}
	case "analysis":
		if len(s.Analysis.Templates) == 0 {
			return at + ".analysis.templates must name at least one AnalysisTemplate or ClusterAnalysisTemplate"
		}
	case "experiment":
		return validateExperimentStep(at, s.Experiment, routed)
	case "setHeaderRoute", "setMirrorRoute":
		if !routed {
			return fmt.Sprintf("%s.%s needs trafficRouting with a router that supports it", at, kind)
		}
	default:
		return fmt.Sprintf("%s: %s steps are not supported by sluice yet", at, kind)
	}
	return ""
}

func isZero(v *intstr.IntOrString) bool {
	if v == nil {
		return false
	}
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	return v.StrVal == "0" || v.StrVal == "0%"
}

// validateWorkloadRef checks spec.workloadRef on its own (whether the Deployment exists is the
// controller's check, when it resolves the reference).
func validateWorkloadRef(spec *v1alpha1.RolloutSpec) []string {
	const p = "spec.workloadRef"
	ref := spec.WorkloadRef
	var out []string
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" {
		out = append(out, fmt.Sprintf(p+" must reference an apps/v1 Deployment, not %s %s: sluice does not take pod templates from other kinds (Argo Rollouts also accepts a ReplicaSet or PodTemplate)",
			orNone(ref.APIVersion), orNone(ref.Kind)))
	}
	if ref.Name == "" {
		out = append(out, p+".name is required")
	}
	switch ref.ScaleDown {
	case "", v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively:
	default:
		out = append(out, fmt.Sprintf(p+".scaleDown must be never, onsuccess or progressively, not %q", ref.ScaleDown))
	}
	if !spec.TemplateResolvedFromRef && !apiequality.Semantic.DeepEqual(spec.Template, v1alpha1.PodTemplateSpec{}) {
		out = append(out, "spec.template must be empty when spec.workloadRef is set: the pod template comes from the referenced Deployment")
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
