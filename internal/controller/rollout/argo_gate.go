package rollout

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller/argolease"
)

// Event reasons of the Argo gate.
const (
	// ReasonArgoControllerActive (Warning): sluice leaves the Rollout alone because Argo
	// Rollouts' controller of the same instance id holds its Lease. Recorded once per Rollout
	// each time Argo is found running.
	ReasonArgoControllerActive = "ArgoControllerActive"
	// ReasonArgoControllerGone (Normal): Argo's Lease expired; sluice manages the Rollout from
	// this pass on.
	ReasonArgoControllerGone = "ArgoControllerGone"
)

// ArgoLease tells whether Argo Rollouts' own controller is running (argolease.Detector).
type ArgoLease interface {
	Check(ctx context.Context) (argolease.State, error)
}

// maxArgoRecheck bounds how long a held Rollout waits before it is looked at again.
const maxArgoRecheck = 15 * time.Second

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch

// gated is the reconciler registered with the manager: r itself, or, when r.ArgoLease is set,
// r behind a gate that does nothing at all (no write to ReplicaSets, Services, routers or
// status) while Argo Rollouts' controller is live, records one event on each Rollout it
// leaves alone, and looks again when the Lease would expire, so sluice takes over without a
// restart once Argo is stopped.
func (r *Reconciler) gated() reconcile.Reconciler {
	if r.ArgoLease == nil {
		return r
	}
	return &argoGate{r: r, held: map[types.NamespacedName]types.UID{}}
}

type argoGate struct {
	r  *Reconciler
	mu sync.Mutex
	// held are the Rollouts left alone (and told so by an event) while Argo is live.
	held map[types.NamespacedName]types.UID
}

func (g *argoGate) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	st, err := g.r.ArgoLease.Check(ctx)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("looking for a running Argo Rollouts controller (nothing done): %w", err)
	}
	if !st.Live {
		if g.release(req) {
			ro := &v1alpha1.Rollout{}
			if err := g.r.Get(ctx, req.NamespacedName, ro); err == nil {
				log.FromContext(ctx).Info("Argo Rollouts' controller is gone: sluice manages the Rollout now")
				g.r.Recorder.Eventf(ro, nil, corev1.EventTypeNormal, ReasonArgoControllerGone, "TakeOver",
					"Argo Rollouts' controller Lease expired: sluice manages this Rollout from now on")
			}
		}
		return g.r.Reconcile(ctx, req)
	}
	ro := &v1alpha1.Rollout{}
	if err := g.r.Get(ctx, req.NamespacedName, ro); err != nil {
		if apierrors.IsNotFound(err) {
			g.release(req)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if g.hold(req, ro) {
		log.FromContext(ctx).Info("leaving the Rollout alone: Argo Rollouts' controller is running (stop it, or run sluice controller --take-over-from-argo)",
			"lease", st.String())
		g.r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, ReasonArgoControllerActive, "Hold",
			"Argo Rollouts' controller is running (%s): sluice leaves this Rollout alone until that Lease expires. Stop Argo's controller (scale its Deployment to 0), or run sluice controller --take-over-from-argo",
			st.String())
	}
	wait := st.Expires.Sub(g.r.Clock.Now()) + time.Second
	return ctrl.Result{RequeueAfter: min(max(wait, time.Second), maxArgoRecheck)}, nil
}

// hold records that the Rollout is left alone; true the first time (per Rollout UID) since
// Argo was last found running.
func (g *argoGate) hold(req ctrl.Request, ro *v1alpha1.Rollout) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held[req.NamespacedName] == ro.UID {
		return false
	}
	g.held[req.NamespacedName] = ro.UID
	return true
}

// release forgets a held Rollout; true when it was held.
func (g *argoGate) release(req ctrl.Request) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.held[req.NamespacedName]
	delete(g.held, req.NamespacedName)
	return ok
}
