package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// act makes the plan true, in the safety order: grow ReplicaSets, shrink ReplicaSets, point
// Services, delete ReplicaSets beyond the history limit.
func (r *Reconciler) act(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, p *plan.Plan) error {
	if err := r.actAnalysis(ctx, ro, obs, p); err != nil {
		return err
	}
	if err := r.actExperiments(ctx, ro, obs, p); err != nil {
		return err
	}
	if err := r.syncPodExtras(ctx, ro, obs, p); err != nil { // role metadata, anti-affinity (metadata.go)
		return err
	}
	var grow, shrink []string
	for name, n := range p.Replicas {
		if n > ptr.Deref(obs.replicaSets[name].Spec.Replicas, 1) {
			grow = append(grow, name)
		} else {
			shrink = append(shrink, name)
		}
	}
	slices.Sort(grow)
	slices.Sort(shrink)
	// 1. Scale up: the canary gets its pods before any traffic moves to it.
	for _, name := range grow {
		if err := r.scaleReplicaSet(ctx, ro, &p.Status, obs.replicaSets[name], p.Replicas[name], name == obs.created); err != nil {
			return err
		}
	}
	if err := r.scaleDownDeadlines(ctx, obs, p); err != nil {
		return err
	}
	// 2. Services, only toward ReplicaSets with available pods.
	stableSvc, canarySvc := plan.ServiceNames(ro) // (blue-green: active, preview)
	if err := r.switchService(ctx, ro, obs, stableSvc, p.StableServiceHash); err != nil {
		return err
	}
	if err := r.switchService(ctx, ro, obs, canarySvc, p.CanaryServiceHash); err != nil {
		return err
	}
	// 3. Traffic. If the routers fail, nothing is scaled down in this pass.
	retired, err := r.retireRouters(ctx, ro)
	if err != nil || !retired {
		return err
	}
	if p.Routed {
		if ok, err := r.applyTraffic(ctx, ro, p); err != nil || !ok {
			return err
		}
	}
	obs.routingApplied = true
	// 4. Scale down, now that traffic has moved away.
	for _, name := range shrink {
		if err := r.scaleReplicaSet(ctx, ro, &p.Status, obs.replicaSets[name], p.Replicas[name], false); err != nil {
			return err
		}
	}
	if err := r.evict(ctx, ro, obs, p.Evict); err != nil {
		return err
	}
	for _, name := range p.DeleteReplicaSets {
		rs := obs.replicaSets[name]
		err := r.Delete(ctx, rs.DeepCopy(), client.Preconditions{UID: &rs.UID, ResourceVersion: &rs.ResourceVersion})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting old ReplicaSet %s: %w", name, err)
		}
	}
	return nil
}

// scaleDownDeadlines adds and removes the scale-down-deadline annotation of ReplicaSets.
func (r *Reconciler) scaleDownDeadlines(ctx context.Context, obs *observed, p *plan.Plan) error {
	set := func(name string, v any) error {
		rs := obs.replicaSets[name]
		if rs == nil {
			return nil
		}
		body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{v1alpha1.AnnotationScaleDownDeadline: v}}})
		if err != nil {
			return err
		}
		written := rs.DeepCopy()
		if err := r.Patch(ctx, written, client.RawPatch(types.MergePatchType, body)); err != nil {
			return fmt.Errorf("annotating ReplicaSet %s: %w", name, err)
		}
		r.expect.replicaSets.wrote(written)
		return nil
	}
	for name, t := range p.SetScaleDownDeadline {
		if err := set(name, t.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
	}
	for _, name := range p.ClearScaleDownDeadline {
		if err := set(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// scaleReplicaSet sets a ReplicaSet's size. The resourceVersion makes the patch fail on a
// stale view instead of scaling from it, except for a ReplicaSet this pass created (fresh): its
// size is the one we gave it, and the ReplicaSet controller's first status update would
// otherwise make the pass fail for nothing.
func (r *Reconciler) scaleReplicaSet(ctx context.Context, ro *v1alpha1.Rollout, st *v1alpha1.RolloutStatus, rs *appsv1.ReplicaSet, n int32, fresh bool) error {
	from := ptr.Deref(rs.Spec.Replicas, 1)
	meta := map[string]any{
		"annotations": map[string]string{v1alpha1.AnnotationDesiredReplicas: strconv.Itoa(int(ptr.Deref(ro.Spec.Replicas, 1)))},
	}
	if !fresh {
		meta["resourceVersion"] = rs.ResourceVersion
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta, "spec": map[string]any{"replicas": n}})
	if err != nil {
		return err
	}
	written := rs.DeepCopy()
	if err := r.Patch(ctx, written, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("scaling ReplicaSet %s from %d to %d: %w", rs.Name, from, n, err)
	}
	r.expect.replicaSets.wrote(written)
	r.eventf(ctx, ro, rs, corev1.EventTypeNormal, "ScalingReplicaSet", "Scale",
		"Scaled %s ReplicaSet %s (revision %d) from %d to %d", roleOf(st, rs), rs.Name, revisionOf(rs), from, n)
	return nil
}

// roleOf names a ReplicaSet's role in the status this pass writes.
func roleOf(st *v1alpha1.RolloutStatus, rs *appsv1.ReplicaSet) string {
	switch rs.Labels[v1alpha1.LabelPodTemplateHash] {
	case st.StableRS:
		return "stable"
	case st.CurrentPodHash:
		return "canary"
	}
	return "old"
}

// switchService points a Service's selector at the ReplicaSet with the given hash. It only
// switches to a ReplicaSet with available pods, and to a fully available one when it first
// takes over a Service, so a switch never sends traffic to nothing.
func (r *Reconciler) switchService(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, name, hash string) error {
	svc := obs.services[name]
	if svc == nil || hash == "" || svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] == hash {
		return nil
	}
	var target *appsv1.ReplicaSet
	for _, rs := range obs.replicaSets {
		if rs.Labels[v1alpha1.LabelPodTemplateHash] == hash {
			target = rs
		}
	}
	if target == nil || target.Status.AvailableReplicas == 0 {
		return nil
	}
	adopting := svc.Annotations[v1alpha1.AnnotationManagedByRollouts] != ro.Name
	if adopting && target.Status.AvailableReplicas < ptr.Deref(target.Spec.Replicas, 1) {
		return nil
	}
	from := svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] // (the patch rewrites svc)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}},"spec":{"selector":{%q:%q}}}`,
		v1alpha1.AnnotationManagedByRollouts, ro.Name, v1alpha1.LabelPodTemplateHash, hash)
	if err := r.Patch(ctx, svc, client.RawPatch(types.StrategicMergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("switching Service %s to %s: %w", name, hash, err)
	}
	r.eventf(ctx, ro, svc, corev1.EventTypeNormal, "SwitchService", "Switch",
		"Switched selector for service %q from %q to %q", name, from, hash)
	return nil
}

// evict evicts pods for a restart through the Eviction API, so PodDisruptionBudgets apply: a
// refused eviction (429) is retried on a later pass.
func (r *Reconciler) evict(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, names []string) error {
	for _, name := range names {
		pod := obs.pods[name]
		if pod == nil {
			continue
		}
		err := r.SubResource("eviction").Create(ctx, pod, &policyv1.Eviction{})
		switch {
		case err == nil:
			r.expect.evictedPod(pod.UID)
			r.eventf(ctx, ro, pod, corev1.EventTypeNormal, "RolloutRestarting", "Evict", "Evicted pod %s for the restart", name)
		case apierrors.IsTooManyRequests(err):
			r.eventf(ctx, ro, pod, corev1.EventTypeNormal, "RolloutRestarting", "Evict",
				"Eviction of pod %s refused for now (PodDisruptionBudget): %v", name, err)
			return nil
		case apierrors.IsNotFound(err):
		default:
			return fmt.Errorf("evicting pod %s: %w", name, err)
		}
	}
	return nil
}
