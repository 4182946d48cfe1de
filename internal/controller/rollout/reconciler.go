package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// AnnotationEffectiveWeight is v1alpha1.AnnotationEffectiveCanaryWeight.
const AnnotationEffectiveWeight = v1alpha1.AnnotationEffectiveCanaryWeight

// Reconciler reconciles Rollouts with the canary strategy.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache where freshness matters (not used on the hot path);
	// SetupWithManager defaults it to the manager's.
	APIReader client.Reader
	// ClusterTemplates reads ClusterAnalysisTemplates; nil means the cache (see TemplateReader).
	ClusterTemplates client.Reader
	Recorder         recorder.EventRecorder
	Clock            clock.PassiveClock
	// Routers builds the traffic routers a Rollout configures; nil means traffic routing is
	// not available and routed Rollouts are reported InvalidSpec.
	Routers RouterFactory
	// RouterOptions are the API versions the routers use (for the watches).
	RouterOptions trafficrouter.Options

	// ArgoLease, when set, holds every pass back while Argo Rollouts' own controller is
	// running (argo_gate.go); nil: sluice acts regardless (--take-over-from-argo).
	ArgoLease ArgoLease
	// Instrument, when set, wraps every pass: the Argo-compatible reconcile metrics
	// (internal/controller/metrics).
	Instrument func(reconcile.Reconciler) reconcile.Reconciler

	// expect holds this controller's writes to Rollouts and ReplicaSets, and its evictions,
	// which the cache must show before a pass plans from it.
	expect expectations
}

// RouterFactory builds the routers of a Rollout's spec.strategy.canary.trafficRouting.
type RouterFactory func(ctx context.Context, c client.Client, ro *v1alpha1.Rollout) ([]contract.Router, error)

// +kubebuilder:rbac:groups=argoproj.io,resources=rollouts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=argoproj.io,resources=rollouts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods/eviction,verbs=create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=argoproj.io,resources=rollouts/finalizers,verbs=update
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.istio.io,resources=virtualservices;destinationrules,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=split.smi-spec.io,resources=trafficsplits,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes;tcproutes;tlsroutes,verbs=get;list;watch;update;patch

// Reconcile runs one observe → plan → act → report pass for a Rollout.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ro := &v1alpha1.Rollout{}
	if err := r.Get(ctx, req.NamespacedName, ro); err != nil {
		if apierrors.IsNotFound(err) {
			forgetWeights(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ro.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if ro.Spec.Replicas == nil {
		// Like Argo: write the default back so the scale subresource (HPA) has a value.
		patch := []byte(`{"spec":{"replicas":1}}`)
		return ctrl.Result{}, r.Patch(ctx, ro, client.RawPatch(types.MergePatchType, patch))
	}
	if r.expect.rollouts.stale(ro) {
		// The cache has not seen our last write to this Rollout yet: planning from it would
		// decide the same transitions again (and record their events twice). The write's
		// own watch event brings the Rollout back; the requeue is a safety net.
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	ctx, pe := withPassEvents(ctx)
	var planned []plan.Event // recorded only once the status that follows from them is written
	defer func() { pe.flush(r.Recorder, ro, planned) }()
	obs, err := r.observe(ctx, ro)
	if err != nil {
		return ctrl.Result{}, err
	}
	if obs.stale {
		return ctrl.Result{RequeueAfter: conflictRetry}, nil // see expectations
	}
	p := plan.Compute(plan.Input{
		Rollout: ro, NewHash: obs.newHash, Revision: obs.revision, ReplicaSets: obs.facts,
		Invalid: obs.invalid, Pods: obs.podFacts, Services: obs.selectors(ro), AnalysisRuns: obs.runFacts, Experiments: obs.expFacts,
		ForeignExperiments: obs.foreignExperiments, Now: r.Clock.Now(),
	})
	p.Status.WorkloadObservedGeneration = obs.workloadGeneration()
	if !p.Invalid {
		err := r.act(ctx, ro, obs, &p)
		if err == nil {
			err = r.scaleWorkload(ctx, ro, obs, p.Status.Phase)
		}
		if err != nil {
			if apierrors.IsConflict(err) {
				// Our cache had not seen our own last write yet: look again shortly, quietly.
				return ctrl.Result{RequeueAfter: conflictRetry}, nil
			}
			return ctrl.Result{}, err
		}
	}
	if err := r.report(ctx, ro, obs, &p); err != nil {
		return ctrl.Result{}, err
	}
	// Argo's AnalysisRun<Phase> events (on-analysis-run-* notifications) come before the
	// transitions they cause (RolloutAborted after AnalysisRunFailed).
	planned = append(plan.AnalysisRunEvents(&ro.Status, &p.Status, obs.runFacts), p.Events...)
	recordWeights(ro, &p)
	return ctrl.Result{RequeueAfter: p.RequeueAfter}, nil
}

// report writes the status once (merge patch on the status subresource, skipped when
// nothing changed) and the Rollout's revision and effective-weight annotations; the plan's
// events are recorded after it (passEvents).
func (r *Reconciler) report(ctx context.Context, ro *v1alpha1.Rollout, obs *observed, p *plan.Plan) error {
	ann := map[string]any{}
	if rev := strconv.FormatInt(obs.revision, 10); obs.revision > 0 && ro.Annotations[v1alpha1.AnnotationRevision] != rev {
		ann[v1alpha1.AnnotationRevision] = rev
	}
	eff := ""
	if !p.Promoted && !p.Invalid && ro.Spec.Strategy.Canary != nil && ro.Spec.Strategy.Canary.TrafficRouting == nil {
		eff = strconv.FormatFloat(p.EffectiveWeight(), 'f', -1, 64)
	}
	// The share is recorded once the sizes have settled for the step (not at every pod that
	// comes up on the way), which keeps writes and events to about one per step.
	if cur, ok := ro.Annotations[AnnotationEffectiveWeight]; (cur != eff && (p.Settled || eff == "")) || (ok && eff == "") {
		if eff == "" {
			ann[AnnotationEffectiveWeight] = nil
		} else {
			ann[AnnotationEffectiveWeight] = eff
			if eff != strconv.Itoa(int(p.RequestedWeight)) {
				r.eventf(ctx, ro, nil, corev1.EventTypeNormal, "EffectiveWeight", "Observe",
					"canary gets %s%% of pods (%d of %d available) for a requested setWeight of %d%%: without trafficRouting a Service spreads requests by pod count",
					eff, p.CanaryAvailable, p.TotalAvailable, p.RequestedWeight)
			}
		}
	}
	if gen := obs.workloadGeneration(); ro.Annotations[v1alpha1.AnnotationWorkloadGeneration] != gen {
		ann[v1alpha1.AnnotationWorkloadGeneration] = gen // Argo's record of the workloadRef generation seen
		if gen == "" {
			ann[v1alpha1.AnnotationWorkloadGeneration] = nil
		}
	}
	if cur := routingJSON(ro); obs.routingApplied && ro.Annotations[AnnotationTrafficRouting] != cur {
		if cur == "" {
			ann[AnnotationTrafficRouting] = nil
		} else {
			ann[AnnotationTrafficRouting] = cur
		}
	}
	if len(ann) > 0 {
		body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
		if err != nil {
			return err
		}
		written := ro.DeepCopy()
		if err := r.Patch(ctx, written, client.RawPatch(types.MergePatchType, body)); err != nil {
			return fmt.Errorf("annotating rollout: %w", err)
		}
		r.expect.rollouts.wrote(written)
	}
	if !apiequality.Semantic.DeepEqual(ro.Status, p.Status) {
		patch, err := statusMergePatch(&ro.Status, &p.Status)
		if err != nil {
			return err
		}
		written := ro.DeepCopy()
		if err := r.Status().Patch(ctx, written, client.RawPatch(types.MergePatchType, patch)); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("patching rollout status: %w", err)
		}
		r.expect.rollouts.wrote(written)
	}
	return nil
}

// conflictRetry is how soon a pass that lost an optimistic-concurrency race runs again.
const conflictRetry = 250 * time.Millisecond

// weightVerifyRetry is how soon an unverified weight is checked again (Argo: 10 s).
const weightVerifyRetry = 10 * time.Second
