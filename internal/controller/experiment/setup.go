package experiment

import (
	"context"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller/rollout"
)

// ownerIndex indexes ReplicaSets, Services and AnalysisRuns by the UID of the Experiment that
// controls them.
const ownerIndex = ".metadata.controllerExperimentUID"

// CacheOptions limits the Experiment informer to this controller instance (Argo's
// instance-id semantics, as for Rollouts and AnalysisRuns). The ReplicaSets of experiments
// carry rollouts-pod-template-hash, so the Rollout controller's ReplicaSet filter covers them.
func CacheOptions(instanceID string) (map[client.Object]cache.ByObject, error) {
	inst, err := rollout.InstanceRequirement(instanceID)
	if err != nil {
		return nil, err
	}
	return map[client.Object]cache.ByObject{
		&v1alpha1.Experiment{}: {Label: labels.NewSelector().Add(*inst)},
	}, nil
}

func ownedByExperiment(o client.Object) []string {
	if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Experiment" && strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
		return []string{string(ref.UID)}
	}
	return nil
}

// SetupWithManager registers the reconciler: Experiments, and the ReplicaSets, Services and
// AnalysisRuns they own.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	for _, obj := range []client.Object{&appsv1.ReplicaSet{}, &corev1.Service{}, &v1alpha1.AnalysisRun{}} {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, ownerIndex, ownedByExperiment); err != nil {
			return err
		}
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("sluice")
	}
	if r.Reader == nil {
		r.Reader = mgr.GetAPIReader()
	}
	var rec reconcile.Reconciler = r
	if r.Instrument != nil {
		rec = r.Instrument(rec)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Experiment{}).
		Owns(&appsv1.ReplicaSet{}).
		Owns(&corev1.Service{}).
		Owns(&v1alpha1.AnalysisRun{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(workers, 1), ReconciliationTimeout: time.Minute}).
		Named("experiment").
		Complete(rec)
}
