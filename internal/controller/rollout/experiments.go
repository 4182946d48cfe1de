package rollout

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/experiment"
	"github.com/sluicehq/sluice/internal/plan"
)

// observeExperiments lists the Experiments the Rollout owns, and the names of the others in
// its namespace (which its experiment steps must not take).
func (r *Reconciler) observeExperiments(ctx context.Context, ro *v1alpha1.Rollout, obs *observed) error {
	var list v1alpha1.ExperimentList
	if err := r.List(ctx, &list, client.InNamespace(ro.Namespace)); err != nil {
		return fmt.Errorf("listing Experiments: %w", err)
	}
	obs.experiments = map[string]*v1alpha1.Experiment{}
	for i := range list.Items {
		ex := &list.Items[i]
		if ref := metav1.GetControllerOf(ex); ref == nil || ref.UID != ro.UID {
			obs.foreignExperiments = append(obs.foreignExperiments, ex.Name)
			continue
		}
		if ex.DeletionTimestamp != nil {
			continue
		}
		obs.experiments[ex.Name] = ex
		fact := plan.Experiment{
			Name: ex.Name, Hash: ex.Labels[v1alpha1.LabelPodTemplateHash], Phase: ex.Status.Phase, Message: ex.Status.Message,
			Terminated: ex.Spec.Terminate, Created: ex.CreationTimestamp.Time,
		}
		for _, c := range ex.Status.Conditions {
			if c.Type == v1alpha1.ExperimentInvalidSpec && c.Status == corev1.ConditionTrue {
				fact.Invalid = c.Message
			}
		}
		fact.Revision, _ = strconv.ParseInt(ex.Annotations[v1alpha1.AnnotationRevision], 10, 64)
		fact.StepIndex = experimentStep(ex, ro.Name, fact.Hash, fact.Revision)
		for _, ts := range ex.Status.TemplateStatuses {
			fact.Templates = append(fact.Templates, plan.ExperimentTemplate{
				Name: ts.Name, ServiceName: ts.ServiceName, PodTemplateHash: ts.PodTemplateHash, Available: ts.AvailableReplicas,
			})
		}
		obs.expFacts = append(obs.expFacts, fact)
	}
	return nil
}

// experimentStep is the step that created an Experiment: its step-index label, or, for one
// created by Argo Rollouts (which does not set it), the <step> of its name
// <rollout>-<hash>-<revision>-<step>[-<n>].
func experimentStep(ex *v1alpha1.Experiment, rollout, hash string, revision int64) *int32 {
	if v, err := strconv.ParseInt(ex.Labels[v1alpha1.LabelStepIndex], 10, 32); err == nil {
		return new(int32(v))
	}
	rest, ok := strings.CutPrefix(ex.Name, fmt.Sprintf("%s-%s-%d-", rollout, hash, revision))
	if !ok {
		return nil
	}
	step, _, _ := strings.Cut(rest, "-")
	if v, err := strconv.ParseInt(step, 10, 32); err == nil {
		return new(int32(v))
	}
	return nil
}

// actExperiments creates, terminates and deletes the Experiments the plan asks for.
func (r *Reconciler) actExperiments(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, p *plan.Plan) error {
	if n := p.CreateExperiment; n != nil {
		ex, err := r.newExperiment(ro, obs, n)
		if err != nil {
			return err
		}
		if err := r.Create(ctx, ex); apierrors.IsAlreadyExists(err) {
			if err := r.foreignExperiment(ctx, ro, n.Name); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("creating Experiment %s: %w", n.Name, err)
		}
	}
	for _, name := range p.TerminateExperiments {
		ex := obs.experiments[name]
		if ex == nil || ex.Spec.Terminate {
			continue
		}
		patch := []byte(`{"spec":{"terminate":true}}`)
		if err := r.Patch(ctx, ex.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("terminating Experiment %s: %w", name, err)
		}
		r.eventf(ctx, ro, ex, corev1.EventTypeNormal, "ExperimentTerminated", "Terminate", "Terminated Experiment %s", name)
	}
	for _, name := range p.DeleteExperiments {
		if ex := obs.experiments[name]; ex != nil {
			if err := r.Delete(ctx, ex.DeepCopy(), client.Preconditions{UID: &ex.UID}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting Experiment %s: %w", name, err)
			}
		}
	}
	return nil
}

// foreignExperiment checks, when creating the step's Experiment found the name taken, that the
// Experiment there is the Rollout's own (a create from a pass the cache was behind). One the
// Rollout does not own stops the pass with a Warning event; the next pass sees it in the cache
// and the plan gives the step the next -<n> name.
func (r *Reconciler) foreignExperiment(ctx context.Context, ro *v1alpha1.Rollout, name string) error {
	got := &v1alpha1.Experiment{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, got); err != nil {
		return fmt.Errorf("reading Experiment %s, whose name is taken: %w", name, err)
	}
	if ref := metav1.GetControllerOf(got); ref != nil && ref.UID == ro.UID {
		return nil
	}
	r.eventf(ctx, ro, nil, corev1.EventTypeWarning, plan.ReasonExperimentNameTaken, "Create",
		"Experiment %s exists and is not owned by this Rollout: the step's Experiment takes the next name", name)
	return fmt.Errorf("experiment %s exists and is not owned by Rollout %s", name, ro.Name)
}

// newExperiment builds the Experiment of an experiment step, as Argo Rollouts does: each
// template runs the pod template of the stable or the new ReplicaSet (specRef), with the
// step's extra metadata, under the ReplicaSet's selector (or the template's own); the
// analyses get their arguments resolved against the Rollout.
func (r *Reconciler) newExperiment(ro *v1alpha1.Rollout, obs *observed, n *plan.NewExperiment) (*v1alpha1.Experiment, error) {
	var stableRS, newRS *appsv1.ReplicaSet
	for _, rs := range obs.replicaSets {
		switch rs.Labels[v1alpha1.LabelPodTemplateHash] {
		case ro.Status.StableRS:
			stableRS = rs
		case obs.newHash:
			newRS = rs
		}
	}
	if obs.newHash == ro.Status.StableRS {
		stableRS = newRS
	}
	if stableRS == nil || newRS == nil {
		return nil, fmt.Errorf("internal: the stable or the new ReplicaSet of %s is not observed", ro.Name)
	}
	step := n.Step
	revision := strconv.FormatInt(obs.revision, 10)
	labels := maps.Clone(ro.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[v1alpha1.LabelPodTemplateHash] = obs.newHash
	labels[v1alpha1.LabelStepIndex] = strconv.Itoa(int(n.StepIndex))
	ex := &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.Name, Namespace: ro.Namespace, Labels: labels,
			Annotations: map[string]string{v1alpha1.AnnotationRevision: revision},
		},
		Spec: v1alpha1.ExperimentSpec{
			Duration:                step.Duration,
			ProgressDeadlineSeconds: ro.Spec.ProgressDeadlineSeconds,
			ScaleDownDelaySeconds:   step.ScaleDownDelaySeconds,
			DryRun:                  step.DryRun,
			AnalysisRunMetadata:     step.AnalysisRunMetadata,
		},
	}
	for _, ts := range step.Templates {
		src := newRS
		if ts.SpecRef == v1alpha1.StableSpecRef {
			src = stableRS
		}
		pod := v1alpha1.PodTemplateSpecFromCore(&src.Spec.Template)
		t := experiment.StepTemplate(&ts, &pod, src.Spec.Selector, src.Spec.MinReadySeconds)
		ex.Spec.Templates = append(ex.Spec.Templates, t)
	}
	for _, a := range step.Analyses {
		args := make([]v1alpha1.Argument, 0, len(a.Args))
		for _, arg := range a.Args {
			v, err := stepArgValue(ro, arg, stableRS, newRS)
			if err != nil {
				return nil, err
			}
			args = append(args, v1alpha1.Argument{Name: arg.Name, Value: &v})
		}
		ex.Spec.Analyses = append(ex.Spec.Analyses, v1alpha1.ExperimentAnalysisTemplateRef{
			Name: a.Name, TemplateName: a.TemplateName, ClusterScope: a.ClusterScope, Args: args, RequiredForCompletion: a.RequiredForCompletion,
		})
	}
	if err := controllerutil.SetControllerReference(ro, ex, r.Scheme()); err != nil {
		return nil, err
	}
	return ex, nil
}

// stepArgValue resolves an experiment analysis's argument: a value, the stable or latest
// pod-template hash, or a field of the Rollout.
func stepArgValue(ro *v1alpha1.Rollout, a v1alpha1.AnalysisRunArgument, stableRS, newRS *appsv1.ReplicaSet) (string, error) {
	switch {
	case a.ValueFrom == nil:
		return a.Value, nil
	case a.ValueFrom.PodTemplateHashValue != nil:
		switch *a.ValueFrom.PodTemplateHashValue {
		case v1alpha1.Stable:
			return stableRS.Labels[v1alpha1.LabelPodTemplateHash], nil
		case v1alpha1.Latest:
			return newRS.Labels[v1alpha1.LabelPodTemplateHash], nil
		}
		return "", fmt.Errorf("argument %q: podTemplateHashValue must be Stable or Latest, not %q", a.Name, *a.ValueFrom.PodTemplateHashValue)
	case a.ValueFrom.FieldRef != nil:
		v, err := analysis.FieldValue(ro, a.ValueFrom.FieldRef.FieldPath)
		if err != nil {
			return "", fmt.Errorf("argument %q: %w", a.Name, err)
		}
		return v, nil
	}
	return a.Value, nil
}
