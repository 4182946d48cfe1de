package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/controller/argolease"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Providers gives the provider of a metric (internal/metricprovider/registry).
type Providers interface {
	For(m v1alpha1.Metric) (metricprovider.Provider, error)
}

// Reconciler reconciles AnalysisRuns.
type Reconciler struct {
	client.Client
	// Reader reads around the cache: Secrets for secretKeyRef arguments (no Secret informer),
	// and the run itself before it is measured.
	Reader    client.Reader
	Recorder  recorder.EventRecorder
	Clock     clock.PassiveClock
	Providers Providers
	// MeasurementTimeout bounds one measurement (default 1 minute).
	MeasurementTimeout time.Duration
	// ArgoLease, when set, holds every pass back while Argo Rollouts' own controller is
	// running, so one run is never measured by both (the Rollouts wait the same way).
	ArgoLease interface {
		Check(ctx context.Context) (argolease.State, error)
	}
	// Instrument, when set, wraps every pass: the Argo-compatible reconcile metrics
	// (internal/controller/metrics).
	Instrument func(reconcile.Reconciler) reconcile.Reconciler
}

// +kubebuilder:rbac:groups=argoproj.io,resources=analysisruns,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=argoproj.io,resources=analysisruns/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=argoproj.io,resources=analysisruns/finalizers,verbs=update
// +kubebuilder:rbac:groups=argoproj.io,resources=analysistemplates;clusteranalysistemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// Reconcile takes the measurements that are due and writes the run's status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if r.ArgoLease != nil {
		st, err := r.ArgoLease.Check(ctx)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("looking for a running Argo Rollouts controller (nothing done): %w", err)
		}
		if st.Live {
			wait := st.Expires.Sub(r.Clock.Now()) + time.Second
			return ctrl.Result{RequeueAfter: min(max(wait, time.Second), 15*time.Second)}, nil
		}
	}
	orig := &v1alpha1.AnalysisRun{}
	if err := r.Get(ctx, req.NamespacedName, orig); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !analysis.Completed(orig.Status.Phase) {
		// A run being measured is read from the API server: a cache that has not seen this
		// controller's last status write yet would take the same measurement twice.
		if err := r.Reader.Get(ctx, req.NamespacedName, orig); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if orig.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if analysis.Completed(orig.Status.Phase) {
		return r.expire(ctx, orig)
	}
	run := orig.DeepCopy()
	now := r.Clock.Now()
	var events []analysis.Event
	var requeue time.Duration
	if msg := invalid(run); msg != "" {
		run.Status.Phase, run.Status.Message = v1alpha1.AnalysisPhaseError, msg
		run.Status.CompletedAt = &metav1.Time{Time: now}
		if run.Status.StartedAt == nil {
			run.Status.StartedAt = &metav1.Time{Time: now}
		}
		events = append(events, analysis.Event{Warning: true, Reason: "AnalysisRunError", Message: msg})
	} else {
		for range 2 {
			r.measure(ctx, run, analysis.Tasks(run, now), now)
			a := analysis.Assess(run, now)
			events = append(events, a.Events...)
			requeue = a.RequeueAfter
			r.collect(ctx, run, a.Trimmed)
			if !a.Unfinished {
				break // (else: the run completed with measurements in flight; stop them now)
			}
		}
	}
	if err := r.writeStatus(ctx, orig, run); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	for _, e := range events {
		t := corev1.EventTypeNormal
		if e.Warning {
			t = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(run, nil, t, e.Reason, "Analyze", "%s", e.Message)
	}
	if analysis.Completed(run.Status.Phase) {
		return r.expire(ctx, run)
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// invalid says why a run cannot be measured ("" when it can): its metrics, or a placeholder
// that no argument answers.
func invalid(run *v1alpha1.AnalysisRun) string {
	problems := analysis.Validate(run.Spec.Metrics, run.Spec.DryRun, run.Spec.MeasurementRetention)
	if len(problems) == 0 {
		declared := map[string]string{}
		for _, a := range run.Spec.Args {
			declared[a.Name] = "x" // secrets are resolved at measurement time
		}
		for i := range run.Spec.Metrics {
			if _, err := analysis.ResolveMetric(&run.Spec.Metrics[i], declared); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return "Analysis spec invalid: " + strings.Join(problems, "; ")
}

type outcome struct {
	task analysis.Task
	m    v1alpha1.Measurement
}

// measure takes, resumes or terminates the tasks' measurements in parallel and records them.
func (r *Reconciler) measure(ctx context.Context, run *v1alpha1.AnalysisRun, tasks []analysis.Task, now time.Time) {
	if len(tasks) == 0 {
		return
	}
	values, secrets, argErr := analysis.ArgValues(run.Spec.Args, run, r.secret(ctx, run.Namespace))
	out := make([]outcome, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks {
		wg.Go(func() {
			out[i] = outcome{task: t, m: r.measureOne(ctx, run, t, values, secrets, argErr, now)}
		})
	}
	wg.Wait()
	for _, o := range out {
		analysis.Record(run, o.task, o.m, now)
	}
}

func (r *Reconciler) measureOne(ctx context.Context, run *v1alpha1.AnalysisRun, t analysis.Task, values map[string]string, secrets []string, argErr error, now time.Time) v1alpha1.Measurement {
	started := now
	if t.Measurement != nil && t.Measurement.StartedAt != nil {
		started = t.Measurement.StartedAt.Time
	}
	if argErr != nil {
		return analysis.ProviderError(argErr, started, now, secrets)
	}
	metric, err := analysis.ResolveMetric(&t.Metric, values)
	if err != nil {
		return analysis.ProviderError(err, started, now, secrets)
	}
	p, err := r.Providers.For(metric)
	if err != nil {
		return analysis.ProviderError(err, started, now, secrets)
	}
	timeout := r.MeasurementTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := metricprovider.Request{Run: run, Metric: metric, Now: now}
	var res metricprovider.Result
	switch {
	case t.Measurement == nil:
		res = p.Measure(ctx, req)
	case t.Terminate:
		res = p.Terminate(ctx, req, *t.Measurement)
		if res.Phase == "" && res.Err == nil {
			res.Phase = v1alpha1.AnalysisPhaseSuccessful
		}
		if res.Phase == v1alpha1.AnalysisPhaseSuccessful && res.Message == "" {
			res.Message = "Metric Terminated"
		}
	default:
		res = p.Resume(ctx, req, *t.Measurement)
	}
	return analysis.Measurement(&metric, res, started, r.Clock.Now(), secrets)
}

// secret reads a Secret's key for a secretKeyRef argument, from the API server.
func (r *Reconciler) secret(ctx context.Context, ns string) func(name, key string) (string, error) {
	return func(name, key string) (string, error) {
		s := &corev1.Secret{}
		if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
			return "", fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
		}
		v, ok := s.Data[key]
		if !ok {
			return "", fmt.Errorf("the Secret %s/%s has no key %q", ns, name, key)
		}
		return string(v), nil
	}
}

// collect lets the providers of trimmed metrics remove what older measurements left (Jobs).
func (r *Reconciler) collect(ctx context.Context, run *v1alpha1.AnalysisRun, trimmed map[string]int) {
	for name, keep := range trimmed {
		for _, m := range run.Spec.Metrics {
			if m.Name != name {
				continue
			}
			if p, err := r.Providers.For(m); err == nil {
				if err := p.GarbageCollect(ctx, metricprovider.Request{Run: run, Metric: m, Now: r.Clock.Now()}, keep); err != nil {
					ctrl.LoggerFrom(ctx).Info("garbage-collecting measurements", "metric", name, "error", err.Error())
				}
			}
		}
	}
}

// writeStatus patches the status subresource with what changed (nothing when nothing did).
func (r *Reconciler) writeStatus(ctx context.Context, orig, run *v1alpha1.AnalysisRun) error {
	if apiequality.Semantic.DeepEqual(orig.Status, run.Status) {
		return nil
	}
	a, err := json.Marshal(map[string]any{"status": orig.Status})
	if err != nil {
		return err
	}
	b, err := json.Marshal(map[string]any{"status": run.Status})
	if err != nil {
		return err
	}
	patch, err := jsonpatch.CreateMergePatch(a, b)
	if err != nil {
		return err
	}
	written := orig.DeepCopy()
	if err := r.Status().Patch(ctx, written, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("patching AnalysisRun status: %w", err)
	}
	return nil
}

// expire deletes a completed run once its ttlStrategy says so.
func (r *Reconciler) expire(ctx context.Context, run *v1alpha1.AnalysisRun) (ctrl.Result, error) {
	ttl := run.Spec.TTLStrategy
	if ttl == nil || run.Status.CompletedAt == nil {
		return ctrl.Result{}, nil
	}
	secs := ttl.SecondsAfterCompletion
	switch run.Status.Phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		if ttl.SecondsAfterSuccess != nil {
			secs = ttl.SecondsAfterSuccess
		}
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
		if ttl.SecondsAfterFailure != nil {
			secs = ttl.SecondsAfterFailure
		}
	default:
	}
	if secs == nil {
		return ctrl.Result{}, nil
	}
	left := run.Status.CompletedAt.Add(time.Duration(*secs) * time.Second).Sub(r.Clock.Now())
	if left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	uid := run.UID
	err := r.Delete(ctx, run, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	return ctrl.Result{}, client.IgnoreNotFound(err)
}
