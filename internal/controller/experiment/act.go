package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/experiment"
)

// act makes the plan true: ReplicaSets, then Services, then AnalysisRuns. A ReplicaSet,
// Service or AnalysisRun that cannot be created (its name is taken, its template is wrong)
// puts its template or analysis in Error in the status this pass writes.
func (r *Reconciler) act(ctx context.Context, ex *v1alpha1.Experiment, obs *observed, p *experiment.Plan) error {
	now := r.Clock.Now()
	templates := map[string]*v1alpha1.TemplateSpec{}
	for i := range ex.Spec.Templates {
		templates[ex.Spec.Templates[i].Name] = &ex.Spec.Templates[i]
	}
	for _, name := range p.CreateReplicaSets {
		rs, err := r.createReplicaSet(ctx, ex, templates[name], p.Replicas[name])
		if err != nil {
			experiment.MarkTemplateError(&p.Status, name, fmt.Sprintf("Failed to create ReplicaSet for template '%s': %v", name, err), now)
			continue
		}
		obs.replicaSets[name] = rs
		if n := p.Replicas[name]; n > 0 {
			p.Events = append(p.Events, experiment.Event{Reason: "NewReplicaSetCreated", Message: fmt.Sprintf("Created ReplicaSet %s with size %d", rs.Name, n)})
		}
	}
	for name, n := range p.Replicas {
		rs := obs.replicaSets[name]
		if rs == nil || *rs.Spec.Replicas == n {
			continue
		}
		if err := r.patch(ctx, rs.DeepCopy(), map[string]any{"spec": map[string]any{"replicas": n}}); err != nil {
			return fmt.Errorf("scaling ReplicaSet %s: %w", rs.Name, err)
		}
	}
	for name, at := range p.SetScaleDownDeadline {
		if rs := obs.replicaSets[name]; rs != nil {
			ann := map[string]any{v1alpha1.AnnotationScaleDownDeadline: at.UTC().Format(time.RFC3339)}
			if err := r.patch(ctx, rs.DeepCopy(), map[string]any{"metadata": map[string]any{"annotations": ann}}); err != nil {
				return fmt.Errorf("annotating ReplicaSet %s: %w", rs.Name, err)
			}
		}
	}
	for _, name := range p.ClearScaleDownDeadline {
		if rs := obs.replicaSets[name]; rs != nil {
			ann := map[string]any{v1alpha1.AnnotationScaleDownDeadline: nil}
			if err := r.patch(ctx, rs.DeepCopy(), map[string]any{"metadata": map[string]any{"annotations": ann}}); err != nil {
				return fmt.Errorf("annotating ReplicaSet %s: %w", rs.Name, err)
			}
		}
	}
	for _, name := range p.CreateServices {
		if err := r.createService(ctx, ex, templates[name], obs.replicaSets[name]); err != nil {
			experiment.MarkTemplateError(&p.Status, name, fmt.Sprintf("Failed to create Service %s for template '%s': %v", experiment.ServiceName(ex, templates[name]), name, err), now)
		}
	}
	for _, name := range p.DeleteServices {
		if svc := obs.services[name]; svc != nil {
			if err := r.Delete(ctx, svc, client.Preconditions{UID: &svc.UID}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting Service %s: %w", svc.Name, err)
			}
		}
	}
	for _, name := range p.CreateRuns {
		if err := r.createRun(ctx, ex, obs, name); err != nil {
			experiment.MarkAnalysisError(&p.Status, name, fmt.Sprintf("Failed to create AnalysisRun for analysis '%s': %v", name, err))
		}
	}
	for _, name := range p.TerminateRuns {
		if ar := obs.runs[name]; ar != nil && !ar.Spec.Terminate {
			if err := r.patch(ctx, ar.DeepCopy(), map[string]any{"spec": map[string]any{"terminate": true}}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("terminating AnalysisRun %s: %w", name, err)
			}
		}
	}
	return nil
}

func (r *Reconciler) patch(ctx context.Context, obj client.Object, body map[string]any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return r.Patch(ctx, obj, client.RawPatch(types.MergePatchType, b))
}

// createReplicaSet creates a template's ReplicaSet; one that exists already is taken when the
// Experiment owns it (the cache was behind), and is an error otherwise.
func (r *Reconciler) createReplicaSet(ctx context.Context, ex *v1alpha1.Experiment, t *v1alpha1.TemplateSpec, replicas int32) (*appsv1.ReplicaSet, error) {
	want := experiment.NewReplicaSet(ex, t, replicas)
	err := r.Create(ctx, want)
	if err == nil {
		return want, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	got := &appsv1.ReplicaSet{}
	if err := r.Reader.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
		return nil, err
	}
	if !mine(ex, got) || got.Annotations[v1alpha1.AnnotationExperimentTemplateName] != t.Name {
		return nil, fmt.Errorf("a ReplicaSet named %s exists and does not belong to this experiment's template", want.Name)
	}
	return got, nil
}

func (r *Reconciler) createService(ctx context.Context, ex *v1alpha1.Experiment, t *v1alpha1.TemplateSpec, rs *appsv1.ReplicaSet) error {
	if rs == nil {
		return nil // (the ReplicaSet failed; its error is reported)
	}
	svc := experiment.NewService(ex, t, rs)
	if svc == nil {
		return errors.New("the template's containers declare no port")
	}
	err := r.Create(ctx, svc)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	got := &corev1.Service{}
	if err := r.Reader.Get(ctx, client.ObjectKeyFromObject(svc), got); err != nil {
		return err
	}
	if !mine(ex, got) {
		return errors.New("a Service of that name exists and does not belong to this experiment")
	}
	return nil
}

// createRun builds the AnalysisRun of an analysis from its templates and arguments, named
// <experiment>-<analysis>, labelled with the analysisRunMetadata and the instance id.
func (r *Reconciler) createRun(ctx context.Context, ex *v1alpha1.Experiment, obs *observed, name string) error {
	var a *v1alpha1.ExperimentAnalysisTemplateRef
	for i := range ex.Spec.Analyses {
		if ex.Spec.Analyses[i].Name == name {
			a = &ex.Spec.Analyses[i]
		}
	}
	if a == nil {
		return fmt.Errorf("internal: no analysis %q", name)
	}
	flat, err := r.flatten(ctx, ex.Namespace, a)
	if err != nil {
		return err
	}
	hashes := map[string]string{}
	for t, rs := range obs.replicaSets {
		hashes[t] = rs.Labels[v1alpha1.LabelPodTemplateHash]
	}
	given, err := experiment.ResolveArgs(ex, a.Args, hashes)
	if err != nil {
		return err
	}
	args, err := experiment.MergeArgs(flat.Args, given)
	if err != nil {
		return err
	}
	spec := v1alpha1.AnalysisRunSpec{
		Metrics:              flat.Metrics,
		Args:                 args,
		DryRun:               append(append([]v1alpha1.DryRun(nil), ex.Spec.DryRun...), flat.DryRun...),
		MeasurementRetention: append(append([]v1alpha1.MeasurementRetention(nil), ex.Spec.MeasurementRetention...), flat.MeasurementRetention...),
	}
	if p := analysis.Validate(spec.Metrics, spec.DryRun, spec.MeasurementRetention); len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	labels := maps.Clone(ex.Spec.AnalysisRunMetadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if id := ex.Labels[v1alpha1.LabelControllerInstanceID]; id != "" {
		labels[v1alpha1.LabelControllerInstanceID] = id
	}
	ar := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: experiment.RunName(ex.Name, name), Namespace: ex.Namespace, Labels: labels,
			Annotations:     maps.Clone(ex.Spec.AnalysisRunMetadata.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ex, experiment.Kind)},
		},
		Spec: spec,
	}
	err = r.Create(ctx, ar)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	got := &v1alpha1.AnalysisRun{}
	if err := r.Reader.Get(ctx, client.ObjectKeyFromObject(ar), got); err != nil {
		return err
	}
	if !mine(ex, got) {
		return fmt.Errorf("an AnalysisRun named %s exists and does not belong to this experiment", ar.Name)
	}
	return nil
}
