package rollout

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// syncMinReadySeconds gives a changed spec.minReadySeconds to the Rollout's ReplicaSets that run
// or are to run pods: the new one, the stable one, and any other still scaled up (Argo updates
// the new ReplicaSet's; sluice also the others, so availability is judged alike on both sides of
// a canary). Empty old ReplicaSets keep theirs until they become current again.
func (r *Reconciler) syncMinReadySeconds(ctx context.Context, ro *v1alpha1.Rollout, owned []*appsv1.ReplicaSet, newHash string) error {
	want := ro.Spec.MinReadySeconds
	for _, rs := range owned {
		if rs.Spec.MinReadySeconds == want {
			continue
		}
		h := rs.Labels[v1alpha1.LabelPodTemplateHash]
		if h != newHash && h != ro.Status.StableRS && ptr.Deref(rs.Spec.Replicas, 1) == 0 {
			continue
		}
		patch := fmt.Sprintf(`{"spec":{"minReadySeconds":%d}}`, want)
		if err := r.Patch(ctx, rs.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			return fmt.Errorf("setting minReadySeconds of ReplicaSet %s to %d: %w", rs.Name, want, err)
		}
	}
	return nil
}
