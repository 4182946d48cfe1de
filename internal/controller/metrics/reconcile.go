package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/version"
)

// Kind is a kind of object whose passes Instrument times.
type Kind int

// The kinds with reconcile metrics.
const (
	Rollout Kind = iota
	AnalysisRun
	Experiment
)

type reconcileMetrics struct {
	duration  *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	newObject func() client.Object
	// forgetting holds the keys with a removal pending (one timer per gone object, however
	// many requests name it, e.g. for the ReplicaSets of another instance's Rollout).
	forgetting sync.Map
}

func newReconcileMetrics(duration, errors Family, newObject func() client.Object) *reconcileMetrics {
	return &reconcileMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: duration.Name, Help: duration.Help, Buckets: reconcileBuckets,
		}, duration.Labels),
		errors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: errors.Name, Help: errors.Help}, errors.Labels),
		newObject: newObject,
	}
}

var (
	reconciles = [...]*reconcileMetrics{
		Rollout:     newReconcileMetrics(rolloutReconcile, rolloutErrors, func() client.Object { return &v1alpha1.Rollout{} }),
		AnalysisRun: newReconcileMetrics(runReconcile, runErrors, func() client.Object { return &v1alpha1.AnalysisRun{} }),
		Experiment:  newReconcileMetrics(experimentReconcile, experimentErrors, func() client.Object { return &v1alpha1.Experiment{} }),
	}
	events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: rolloutEvents.Name, Help: rolloutEvents.Help}, rolloutEvents.Labels)
)

// cleanupDelay is how long the counters and histograms of a deleted object are kept (Argo's
// default: a scrape every 60 s still sees their last values).
const cleanupDelay = 65 * time.Second

// Instrument wraps the reconciler of kind: every pass over an object the cache (reader) holds
// is timed into <kind>_reconcile{namespace,name} and counted in <kind>_reconcile_error when it
// returns an error (the counter starts at 0 at the first pass, so increase() sees the first
// error). A pass over an object that is gone is not timed; its series are removed cleanupDelay
// later unless it is back by then.
func Instrument(kind Kind, reader client.Reader) func(reconcile.Reconciler) reconcile.Reconciler {
	register()
	m := reconciles[kind]
	return func(next reconcile.Reconciler) reconcile.Reconciler {
		return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			if err := reader.Get(ctx, req.NamespacedName, m.newObject()); apierrors.IsNotFound(err) {
				if _, pending := m.forgetting.LoadOrStore(req.NamespacedName, true); !pending {
					time.AfterFunc(cleanupDelay, func() { m.forget(kind, reader, req.NamespacedName) })
				}
				return next.Reconcile(ctx, req)
			}
			start := time.Now()
			res, err := next.Reconcile(ctx, req)
			m.duration.WithLabelValues(req.Namespace, req.Name).Observe(time.Since(start).Seconds())
			errs := m.errors.WithLabelValues(req.Namespace, req.Name)
			if err != nil {
				errs.Inc()
			}
			return res, err
		})
	}
}

// forget removes the series of a deleted object, unless the cache holds it again.
func (m *reconcileMetrics) forget(kind Kind, reader client.Reader, key types.NamespacedName) {
	defer m.forgetting.Delete(key)
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	if err := reader.Get(ctx, key, m.newObject()); err == nil {
		return
	}
	l := prometheus.Labels{"namespace": key.Namespace, "name": key.Name}
	m.duration.Delete(l)
	m.errors.Delete(l)
	if kind == Rollout {
		events.DeletePartialMatch(l)
	}
}

// CountEvents wraps the Rollout controller's recorder: every event about a Rollout counts in
// rollout_events_total{namespace,name,type,reason}. Like Argo, only events about Rollouts
// count (not those about AnalysisRuns).
func CountEvents(rec recorder.EventRecorder) recorder.EventRecorder {
	register()
	return countingRecorder{rec}
}

type countingRecorder struct{ recorder.EventRecorder }

func (c countingRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	c.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
	count(regarding, eventtype, reason)
}

func (c countingRecorder) AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	c.EventRecorder.AnnotatedEventf(regarding, related, annotations, eventtype, reason, action, note, args...)
	count(regarding, eventtype, reason)
}

func count(regarding runtime.Object, eventtype, reason string) {
	if ro, ok := regarding.(*v1alpha1.Rollout); ok {
		events.WithLabelValues(ro.Namespace, ro.Name, eventtype, reason).Inc()
	}
}

// controllerInfoGauge is argo_rollouts_controller_info{version} = 1, with sluice's version.
func controllerInfoGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: controllerInfo.Name, Help: controllerInfo.Help,
		ConstLabels: prometheus.Labels{"version": version.Get().Version},
	}, func() float64 { return 1 })
}
