package analysis

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller/rollout"
)

// LabelAnalysisRunUID marks the Jobs of job metrics (Argo's analysisrun.argoproj.io/uid).
const LabelAnalysisRunUID = "analysisrun.argoproj.io/uid"

// CacheOptions limits the informers of this controller: AnalysisRuns of this controller
// instance (as for Rollouts), and only the Jobs that job metrics created.
func CacheOptions(instanceID string) (map[client.Object]cache.ByObject, error) {
	jobs, err := labels.NewRequirement(LabelAnalysisRunUID, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	inst, err := rollout.InstanceRequirement(instanceID)
	if err != nil {
		return nil, err
	}
	return map[client.Object]cache.ByObject{
		&batchv1.Job{}:          {Label: labels.NewSelector().Add(*jobs)},
		&v1alpha1.AnalysisRun{}: {Label: labels.NewSelector().Add(*inst)},
	}, nil
}

// SetupWithManager registers the reconciler: AnalysisRuns, and the Jobs they own (a Job that
// finishes wakes its run at once instead of at the next poll).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
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
		For(&v1alpha1.AnalysisRun{}).
		Owns(&batchv1.Job{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(workers, 1), ReconciliationTimeout: 2 * time.Minute}).
		Named("analysisrun").
		Complete(rec)
}
