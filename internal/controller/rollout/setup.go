package rollout

import (
	"context"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// CacheOptions limits the informers to what the controller needs: ReplicaSets carrying the
// rollouts-pod-template-hash label (not every ReplicaSet of the cluster), and Rollouts of this
// controller instance (Argo's instance-id semantics: with no id, only objects without the
// label; with an id, only objects labelled with it).
func CacheOptions(instanceID string) (map[client.Object]cache.ByObject, error) {
	hashReq, err := labels.NewRequirement(v1alpha1.LabelPodTemplateHash, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	inst, err := InstanceRequirement(instanceID)
	if err != nil {
		return nil, err
	}
	return map[client.Object]cache.ByObject{
		&appsv1.ReplicaSet{}: {Label: labels.NewSelector().Add(*hashReq)},
		&corev1.Pod{}:        {Label: labels.NewSelector().Add(*hashReq)},
		&v1alpha1.Rollout{}:  {Label: labels.NewSelector().Add(*inst)},
	}, nil
}

// InstanceRequirement selects the objects of this controller instance (Argo's instance-id
// semantics: with no id, only objects without the label; with an id, only those labelled so).
func InstanceRequirement(instanceID string) (*labels.Requirement, error) {
	if instanceID == "" {
		return labels.NewRequirement(v1alpha1.LabelControllerInstanceID, selection.DoesNotExist, nil)
	}
	return labels.NewRequirement(v1alpha1.LabelControllerInstanceID, selection.Equals, []string{instanceID})
}

// ownerIndex indexes ReplicaSets by the UID of the Rollout that controls them.
const ownerIndex = ".metadata.controllerRolloutUID"

// SetupWithManager registers the reconciler: Rollouts, and the ReplicaSets they own.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &appsv1.ReplicaSet{}, ownerIndex, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Rollout" && strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
			return []string{string(ref.UID)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.AnalysisRun{}, runOwnerIndex, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Rollout" && strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
			return []string{string(ref.UID)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("sluice")
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Rollout{}).
		Owns(&appsv1.ReplicaSet{}).
		Owns(&v1alpha1.AnalysisRun{}).
		Owns(&v1alpha1.Experiment{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(workers, 1), ReconciliationTimeout: time.Minute}).
		Named("rollout")
	if b, err = watchWorkloads(context.Background(), mgr, b); err != nil {
		return err
	}
	if r.Routers != nil {
		if b, err = watchRouterObjects(context.Background(), mgr, b, r.RouterOptions); err != nil {
			return err
		}
	}
	rec := r.gated() // behind the Argo gate (argo_gate.go) when r.ArgoLease is set
	if r.Instrument != nil {
		rec = r.Instrument(rec)
	}
	return b.Complete(rec)
}
