package rollout

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// A Rollout with spec.workloadRef takes its pod template (and, when it names none, its
// selector) from an apps/v1 Deployment, as Argo Rollouts does (rollout/templateref.go): the
// template is copied into the in-memory Rollout before anything is planned, so the pod-template
// hash is the one Argo computes for the same Deployment, and ReplicaSets Argo created are
// found again. The Deployment is never owned: deleting the Rollout leaves it as it is.
// spec.workloadRef.scaleDown says what happens to the Deployment's own pods during the first
// revision (the take-over; later revisions leave it alone, as Argo does):
//
//   - never (default): untouched;
//   - onsuccess: scaled to 0 once the Rollout is Healthy;
//   - progressively: scaled to spec.replicas minus the Rollout's available pods, and never up,
//     so the Deployment's pods and the Rollout's available pods together stay at spec.replicas
//     (or at the Deployment's own replicas when they are fewer); a Degraded Rollout scales it
//     back up to spec.replicas ("If the Rollout fails the Deployment will be scaled back up").

// workloadRefIndex indexes Rollouts by the Deployment they reference (namespace/name), so a
// Deployment event wakes exactly the Rollouts that take their template from it.
const workloadRefIndex = ".spec.workloadRef.deployment"

// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;patch

// watchWorkloads adds the Deployment watch: only changes of a Deployment's spec (its template
// or replicas: the generation), its creation and its deletion, and only for the Rollouts that
// reference it.
func watchWorkloads(ctx context.Context, mgr ctrl.Manager, b *builder.Builder) (*builder.Builder, error) {
	err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Rollout{}, workloadRefIndex, func(o client.Object) []string {
		ro := o.(*v1alpha1.Rollout)
		if ref := ro.Spec.WorkloadRef; ref != nil && ref.Kind == "Deployment" && ref.Name != "" {
			return []string{ro.Namespace + "/" + ref.Name}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := mgr.GetClient()
	enqueue := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1alpha1.RolloutList
		if err := c.List(ctx, &list, client.InNamespace(o.GetNamespace()),
			client.MatchingFields{workloadRefIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, ro := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}})
		}
		return reqs
	})
	return b.Watches(&appsv1.Deployment{}, enqueue,
		builder.WithPredicates(predicate.GenerationChangedPredicate{})), nil
}

// resolveWorkload copies the referenced Deployment's pod template (and selector, when the
// Rollout names none) into ro, in memory, and remembers the Deployment in obs. It returns why
// the reference cannot be used ("" = resolved, or nothing to resolve). A reference that
// plan.ValidateAll refuses on its own (another kind, a template beside it) is left unresolved
// for that check to report.
func (r *Reconciler) resolveWorkload(ctx context.Context, ro *v1alpha1.Rollout, obs *observed) (string, error) {
	ref := ro.Spec.WorkloadRef
	if ref == nil || ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name == "" || ro.Spec.TemplateResolvedFromRef ||
		!apiequality.Semantic.DeepEqual(ro.Spec.Template, v1alpha1.PodTemplateSpec{}) {
		return "", nil
	}
	d := &appsv1.Deployment{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ref.Name}, d); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("spec.workloadRef: Deployment %q not found in namespace %s", ref.Name, ro.Namespace), nil
		}
		return "", fmt.Errorf("reading Deployment %s (spec.workloadRef): %w", ref.Name, err)
	}
	// The template as the API server stores it, defaults included: what Argo decodes from its
	// informer and hashes.
	ro.Spec.Template = v1alpha1.PodTemplateSpecFromCore(&d.Spec.Template)
	if ro.Spec.Selector == nil && d.Spec.Selector != nil {
		ro.Spec.Selector = d.Spec.Selector.DeepCopy()
	}
	ro.Spec.TemplateResolvedFromRef = true
	obs.workload = d
	return "", nil
}

// workloadGeneration is the referenced Deployment's generation as Argo records it (the
// rollout.argoproj.io/workload-generation annotation and status.workloadObservedGeneration);
// "" without a resolved reference.
func (obs *observed) workloadGeneration() string {
	if obs.workload == nil {
		return ""
	}
	return strconv.FormatInt(obs.workload.Generation, 10)
}

// scaleWorkload scales the referenced Deployment per spec.workloadRef.scaleDown, during the
// take-over (revision 1) only. phase is the Rollout's phase after this pass's plan.
func (r *Reconciler) scaleWorkload(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, phase v1alpha1.RolloutPhase) error {
	d := obs.workload
	if d == nil || obs.revision != 1 {
		return nil
	}
	cur := ptr.Deref(d.Spec.Replicas, 1)
	want := workloadReplicas(ro.Spec.WorkloadRef.ScaleDown, cur, ptr.Deref(ro.Spec.Replicas, 1), obs.newAvailable(), phase)
	if want == cur {
		return nil
	}
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, want)
	if err := r.Patch(ctx, d.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // gone: the next pass reports it
		}
		return fmt.Errorf("scaling Deployment %s (spec.workloadRef): %w", d.Name, err)
	}
	r.eventf(ctx, ro, d, corev1.EventTypeNormal, "ScalingDeployment", "Scale",
		"Scaled Deployment %s (spec.workloadRef, scaleDown %s) from %d to %d", d.Name, ro.Spec.WorkloadRef.ScaleDown, cur, want)
	return nil
}

// workloadReplicas is the replica count of the referenced Deployment that scaleDown asks for,
// given its current count cur, the Rollout's replicas and available pods of the current
// ReplicaSet, and the Rollout's phase.
func workloadReplicas(scaleDown string, cur, replicas, available int32, phase v1alpha1.RolloutPhase) int32 {
	switch scaleDown {
	case v1alpha1.ScaleDownOnSuccess:
		if phase == v1alpha1.RolloutPhaseHealthy {
			return 0
		}
	case v1alpha1.ScaleDownProgressively:
		if phase == v1alpha1.RolloutPhaseDegraded {
			return max(cur, replicas)
		}
		return min(cur, max(0, replicas-available))
	}
	return cur
}

// newAvailable is the available pod count of the current ReplicaSet.
func (obs *observed) newAvailable() int32 {
	for _, f := range obs.facts {
		if f.Hash == obs.newHash && obs.newHash != "" {
			return f.Available
		}
	}
	return 0
}
