package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// This file puts on ReplicaSets and their pods what Argo adds to the Rollout's pod template:
// the role metadata (canaryMetadata/stableMetadata, previewMetadata/activeMetadata) and the
// anti-affinity term against the stable pods (antiAffinity). internal/plan/metadata.go decides;
// this file writes. The pod-template hash is computed from spec.template alone, so neither
// changes a ReplicaSet's name, and pods get role metadata in place: they are not restarted.

// injectedMetadata is the role metadata recorded on a ReplicaSet (nil: none, or unreadable).
func injectedMetadata(rs *appsv1.ReplicaSet) *v1alpha1.PodTemplateMetadata {
	v, ok := rs.Annotations[v1alpha1.AnnotationEphemeralMetadata]
	if !ok {
		return nil
	}
	var md *v1alpha1.PodTemplateMetadata
	if json.Unmarshal([]byte(v), &md) != nil {
		return nil
	}
	return md
}

// injectMetadata sets a ReplicaSet's role metadata on its pod template (removing what it
// injected before and no longer should) and records it in the ephemeral-metadata annotation,
// as Argo's SyncReplicaSetEphemeralPodMetadata; false when the template already matches.
func injectMetadata(rs *appsv1.ReplicaSet, md *v1alpha1.PodTemplateMetadata) bool {
	t := &rs.Spec.Template
	l, a, changed := plan.ApplyPodMetadata(t.Labels, t.Annotations, injectedMetadata(rs), md)
	if !changed {
		return false
	}
	t.Labels, t.Annotations = l, a
	if md == nil {
		delete(rs.Annotations, v1alpha1.AnnotationEphemeralMetadata)
		return true
	}
	b, _ := json.Marshal(md) // (maps of strings: cannot fail)
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[v1alpha1.AnnotationEphemeralMetadata] = string(b)
	return true
}

// decorateNewReplicaSet gives a ReplicaSet about to be created the anti-affinity term and the
// role metadata of a new version, as Argo's createDesiredReplicaSet: canary (preview) metadata
// when a stable ReplicaSet exists, else stable (active) metadata.
func decorateNewReplicaSet(ro *v1alpha1.Rollout, rs *appsv1.ReplicaSet, owned []*appsv1.ReplicaSet) {
	hash := rs.Labels[v1alpha1.LabelPodTemplateHash]
	rs.Spec.Template.Spec.Affinity = plan.ReplicaSetAffinity(ro, ro.Status.StableRS, hash)
	stableExists := false
	for _, o := range owned {
		if s := ro.Status.StableRS; s != "" && o.Labels[v1alpha1.LabelPodTemplateHash] == s {
			stableExists = true
		}
	}
	if md := plan.NewReplicaSetMetadata(ro, stableExists); md != nil {
		injectMetadata(rs, md)
	}
}

// strippedTemplate is a ReplicaSet's pod template without what this controller added to the
// Rollout's (role metadata, anti-affinity term), to compare it with spec.template.
func strippedTemplate(ro *v1alpha1.Rollout, rs *appsv1.ReplicaSet) *corev1.PodTemplateSpec {
	return plan.StripInjected(ro, &rs.Spec.Template, injectedMetadata(rs))
}

// syncPodExtras keeps the anti-affinity term of the new ReplicaSet pointed at the stable version
// and moves role metadata between ReplicaSets and their pods (Argo's syncReplicaSetRevision
// affinity update and reconcileEphemeralMetadata). It runs before any scale-up, so new pods
// come from a template that already has their role. A ReplicaSet written here replaces the
// observed one (its new resourceVersion is what the scaling patches then check).
func (r *Reconciler) syncPodExtras(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, p *plan.Plan) error {
	stable := p.Status.StableRS
	for name, rs := range obs.replicaSets {
		h := rs.Labels[v1alpha1.LabelPodTemplateHash]
		if h != obs.newHash || !plan.AntiAffinityStale(rs.Spec.Template.Spec.Affinity, ro, stable, h) {
			continue
		}
		next := rs.DeepCopy()
		next.Spec.Template.Spec.Affinity = plan.ReplicaSetAffinity(ro, stable, h)
		if err := r.patchReplicaSet(ctx, obs, name, next); err != nil {
			return fmt.Errorf("pointing the anti-affinity of ReplicaSet %s at %s: %w", name, stable, err)
		}
	}
	if !plan.HasEphemeralMetadata(ro) && !anyInjected(obs) {
		return nil
	}
	for _, d := range plan.EphemeralMetadata(ro, stable, obs.newHash, obs.facts) {
		rs := obs.replicaSets[d.ReplicaSet]
		if rs == nil {
			continue
		}
		before := injectedMetadata(rs)
		next := rs.DeepCopy()
		modified := injectMetadata(next, d.Metadata)
		if modified {
			if err := r.patchReplicaSet(ctx, obs, d.ReplicaSet, next); err != nil {
				return fmt.Errorf("syncing role metadata of ReplicaSet %s: %w", d.ReplicaSet, err)
			}
		}
		// Pods: of the new and stable ReplicaSets, when they have any, and only where metadata
		// was or is injected (Argo's replicaSetNeedsPodMetadataSync).
		if !d.Pods || ptr.Deref(rs.Spec.Replicas, 1) == 0 || (!modified && before == nil) {
			continue
		}
		if err := r.syncPodMetadata(ctx, rs, obs.replicaSets[d.ReplicaSet], before, d.Metadata, modified); err != nil {
			return err
		}
	}
	return nil
}

func anyInjected(obs *observed) bool {
	for _, rs := range obs.replicaSets {
		if _, ok := rs.Annotations[v1alpha1.AnnotationEphemeralMetadata]; ok {
			return true
		}
	}
	return false
}

// patchReplicaSet writes next over the observed ReplicaSet name (a merge patch of the
// difference, checked against the observed resourceVersion) and observes the result.
func (r *Reconciler) patchReplicaSet(ctx context.Context, obs *observed, name string, next *appsv1.ReplicaSet) error {
	cur := obs.replicaSets[name]
	if err := r.Patch(ctx, next, client.MergeFromWithOptions(cur, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	r.expect.replicaSets.wrote(next)
	obs.replicaSets[name] = next
	return nil
}

// syncPodMetadata gives the pods of a ReplicaSet its role metadata in place (a merge patch of
// their labels and annotations; no restart), removing what was injected before (before) and is
// no longer desired. Pods are read from the cache: one the cache still shows without our last
// write is skipped, not patched twice. Once every pod of the ReplicaSet is known to carry the
// metadata (the ReplicaSet controller has seen the template with it, and the cache lists as
// many pods as it counts), the ReplicaSet is not listed again for a while: its new pods come
// from the template.
func (r *Reconciler) syncPodMetadata(ctx context.Context, observedRS, rs *appsv1.ReplicaSet, before, desired *v1alpha1.PodTemplateMetadata, modified bool) error {
	mark := syncMark(rs)
	if w, ok := r.expect.podMetadataSynced.load(rs.UID); ok && !modified && w.rv == mark {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return fmt.Errorf("ReplicaSet %s: %w", rs.Name, err) // (one we created has a valid selector)
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(rs.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return fmt.Errorf("listing the pods of ReplicaSet %s: %w", rs.Name, err)
	}
	complete := !modified && observedRS.Status.ObservedGeneration >= observedRS.Generation
	n := int32(0)
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !metav1.IsControlledBy(pod, rs) || pod.DeletionTimestamp != nil {
			continue
		}
		n++
		if r.expect.podMetadata.stale(pod) {
			complete = false
			continue
		}
		l, a, changed := plan.ApplyPodMetadata(pod.Labels, pod.Annotations, before, desired)
		if !changed {
			continue
		}
		next := pod.DeepCopy()
		next.Labels, next.Annotations = l, a
		if err := r.Patch(ctx, next, client.MergeFrom(pod)); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("syncing role metadata of pod %s: %w", pod.Name, err)
		}
		r.expect.podMetadata.wrote(next)
	}
	if complete && n == observedRS.Status.Replicas {
		r.expect.podMetadataSynced.store(rs.UID, mark)
	}
	return nil
}

// syncMark identifies what a ReplicaSet's pods were synced to: its recorded metadata and its
// size.
func syncMark(rs *appsv1.ReplicaSet) uint64 {
	h := fnv.New64a()
	h.Write([]byte(rs.Annotations[v1alpha1.AnnotationEphemeralMetadata]))
	h.Write([]byte(strconv.Itoa(int(ptr.Deref(rs.Spec.Replicas, 1)))))
	return h.Sum64()
}
