package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/plan"
)

// runOwnerIndex indexes AnalysisRuns by the UID of the Rollout that controls them.
const runOwnerIndex = ".metadata.controllerRolloutUID"

// Keys of observed.runSpecs besides step indexes: the background analysis and blue-green's
// pre- and post-promotion analyses.
const (
	backgroundKey    = -1
	prePromotionKey  = -2
	postPromotionKey = -3
)

// runKey is the runSpecs key of a run the plan asks for.
func runKey(n plan.NewAnalysisRun) int {
	switch {
	case n.StepIndex != nil:
		return int(*n.StepIndex)
	case n.Type == plan.AnalysisTypePrePromotion:
		return prePromotionKey
	case n.Type == plan.AnalysisTypePostPromotion:
		return postPromotionKey
	}
	return backgroundKey
}

// observeAnalysis lists the AnalysisRuns the Rollout owns and builds the run spec of every
// analysis it refers to (steps and background) from the templates: a missing template, an
// argument without a value or a metric that cannot run is a reference problem (InvalidSpec).
func (r *Reconciler) observeAnalysis(ctx context.Context, ro *v1alpha1.Rollout, obs *observed) (string, error) {
	var list v1alpha1.AnalysisRunList
	if err := r.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingFields{runOwnerIndex: string(ro.UID)}); err != nil {
		return "", fmt.Errorf("listing AnalysisRuns: %w", err)
	}
	obs.runs = map[string]*v1alpha1.AnalysisRun{}
	for i := range list.Items {
		ar := &list.Items[i]
		if ref := metav1.GetControllerOf(ar); ref == nil || ref.UID != ro.UID || ar.DeletionTimestamp != nil {
			continue
		}
		obs.runs[ar.Name] = ar
		fact := plan.AnalysisRun{
			Name: ar.Name, Type: ar.Labels[v1alpha1.LabelRolloutType], Hash: ar.Labels[v1alpha1.LabelPodTemplateHash],
			Phase: ar.Status.Phase, Message: ar.Status.Message, Terminated: ar.Spec.Terminate, Created: ar.CreationTimestamp.Time,
		}
		fact.Revision, _ = strconv.ParseInt(ar.Annotations[v1alpha1.AnnotationRevision], 10, 64)
		if v, err := strconv.ParseInt(ar.Labels[v1alpha1.LabelStepIndex], 10, 32); err == nil {
			fact.StepIndex = new(int32(v))
		}
		obs.runFacts = append(obs.runFacts, fact)
	}
	obs.runSpecs = map[int]*v1alpha1.AnalysisRunSpec{}
	var problems []string
	add := func(key int, at string, a *v1alpha1.RolloutAnalysis, step bool) {
		spec, err := r.runSpec(ctx, ro, obs, a, step)
		if err != nil {
			problems = append(problems, at+": "+err.Error())
			return
		}
		obs.runSpecs[key] = spec
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		for i := range c.Steps {
			if a := c.Steps[i].Analysis; a != nil {
				add(i, fmt.Sprintf("spec.strategy.canary.steps[%d].analysis", i), a, true)
			}
		}
		if c.Analysis != nil {
			add(backgroundKey, "spec.strategy.canary.analysis", &c.Analysis.RolloutAnalysis, false)
		}
	}
	if b := ro.Spec.Strategy.BlueGreen; b != nil {
		if b.PrePromotionAnalysis != nil {
			add(prePromotionKey, "spec.strategy.blueGreen.prePromotionAnalysis", b.PrePromotionAnalysis, true)
		}
		if b.PostPromotionAnalysis != nil {
			add(postPromotionKey, "spec.strategy.blueGreen.postPromotionAnalysis", b.PostPromotionAnalysis, true)
		}
	}
	return strings.Join(problems, "; "), nil
}

// runSpec builds the AnalysisRun spec of one analysis of the Rollout.
func (r *Reconciler) runSpec(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, a *v1alpha1.RolloutAnalysis, step bool) (*v1alpha1.AnalysisRunSpec, error) {
	refs := make([]analysis.TemplateRef, 0, len(a.Templates))
	for _, t := range a.Templates {
		refs = append(refs, analysis.TemplateRef{Name: t.TemplateName, Cluster: t.ClusterScope})
	}
	flat, err := analysis.Flatten(refs, func(ref analysis.TemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
		return r.template(ctx, ro.Namespace, ref)
	})
	if err != nil {
		return nil, err
	}
	args, err := analysis.MergeArgs(flat.Args, analysis.RolloutArgs{
		Args: a.Args, StableHash: ro.Status.StableRS, LatestHash: obs.newHash, Object: ro,
	})
	if err != nil {
		return nil, err
	}
	spec := &v1alpha1.AnalysisRunSpec{
		Metrics:              flat.Metrics,
		Args:                 args,
		DryRun:               append(append([]v1alpha1.DryRun(nil), a.DryRun...), flat.DryRun...),
		MeasurementRetention: append(append([]v1alpha1.MeasurementRetention(nil), a.MeasurementRetention...), flat.MeasurementRetention...),
	}
	if p := analysis.Validate(spec.Metrics, spec.DryRun, spec.MeasurementRetention); len(p) > 0 {
		return nil, errors.New(strings.Join(p, "; "))
	}
	if step {
		for _, m := range spec.Metrics {
			if analysis.RunsIndefinitely(&m) {
				return nil, fmt.Errorf("metric %q runs indefinitely (an interval without a count): an analysis step would never end; give it a count, or use it as background analysis", m.Name)
			}
		}
	}
	return spec, nil
}

// template reads an AnalysisTemplate (in the Rollout's namespace) or a ClusterAnalysisTemplate.
func (r *Reconciler) template(ctx context.Context, ns string, ref analysis.TemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
	return TemplateReader{Namespaced: r.Client, Cluster: r.ClusterTemplates}.Template(ctx, ns, ref)
}

// actAnalysis creates, terminates and deletes the AnalysisRuns the plan asks for.
func (r *Reconciler) actAnalysis(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, p *plan.Plan) error {
	for _, n := range p.CreateAnalysisRuns {
		spec := obs.runSpecs[runKey(n)]
		if spec == nil {
			return fmt.Errorf("internal: no AnalysisRun spec for %s", n.Name)
		}
		if err := r.createRun(ctx, ro, obs, n, spec); err != nil {
			return err
		}
	}
	for _, name := range p.TerminateAnalysisRuns {
		ar := obs.runs[name]
		if ar == nil || ar.Spec.Terminate {
			continue
		}
		patch := []byte(`{"spec":{"terminate":true}}`)
		if err := r.Patch(ctx, ar.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("terminating AnalysisRun %s: %w", name, err)
		}
	}
	for _, name := range p.DeleteAnalysisRuns {
		ar := obs.runs[name]
		if ar == nil {
			continue
		}
		if err := r.Delete(ctx, ar.DeepCopy(), client.Preconditions{UID: &ar.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting AnalysisRun %s: %w", name, err)
		}
	}
	return nil
}

func (r *Reconciler) createRun(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, n plan.NewAnalysisRun, spec *v1alpha1.AnalysisRunSpec) error {
	labels := maps.Clone(n.Analysis.AnalysisRunMetadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if ro.Spec.Selector != nil {
		maps.Copy(labels, ro.Spec.Selector.MatchLabels)
	}
	labels[v1alpha1.LabelPodTemplateHash] = obs.newHash
	labels[v1alpha1.LabelRolloutType] = n.Type
	if n.StepIndex != nil {
		labels[v1alpha1.LabelStepIndex] = strconv.Itoa(int(*n.StepIndex))
	}
	if id := ro.Labels[v1alpha1.LabelControllerInstanceID]; id != "" {
		labels[v1alpha1.LabelControllerInstanceID] = id
	}
	ann := maps.Clone(n.Analysis.AnalysisRunMetadata.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[v1alpha1.AnnotationRevision] = strconv.FormatInt(obs.revision, 10)
	ar := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Namespace: ro.Namespace, Labels: labels, Annotations: ann},
		Spec:       *spec.DeepCopy(),
	}
	if err := controllerutil.SetControllerReference(ro, ar, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, ar); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil // our cache was behind: the next pass sees it
		}
		return fmt.Errorf("creating AnalysisRun %s: %w", n.Name, err)
	}
	what := map[string]string{plan.AnalysisTypeBackground: "background analysis", plan.AnalysisTypePrePromotion: "pre-promotion analysis",
		plan.AnalysisTypePostPromotion: "post-promotion analysis"}[n.Type]
	if n.StepIndex != nil {
		what = fmt.Sprintf("step %d", *n.StepIndex+1)
	}
	r.eventf(ctx, ro, ar, corev1.EventTypeNormal, "AnalysisRunCreated", "Create", "Created AnalysisRun %s for %s", n.Name, what)
	return nil
}
