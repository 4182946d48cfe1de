package rollout

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// errRoutersUnavailable is reported while no router registry is wired in.
var errRoutersUnavailable = errors.New("spec.strategy.canary.trafficRouting is not supported by sluice yet")

// applyTraffic hands the plan's weight and managed routes to the Rollout's routers. It
// returns ok=false (and no error) when the Rollout was marked InvalidSpec instead.
func (r *Reconciler) applyTraffic(_ context.Context, ro *v1alpha1.Rollout, p *plan.Plan) (bool, error) {
	r.invalidate(ro, p, errRoutersUnavailable.Error())
	return false, nil
}

// invalidate turns a plan into an InvalidSpec report: the status keeps the weights the routers
// last applied, and the phase becomes Degraded with the message.
func (r *Reconciler) invalidate(ro *v1alpha1.Rollout, p *plan.Plan, msg string) {
	p.Invalid = true
	p.Status.Canary.Weights = ro.Status.Canary.Weights
	plan.MarkInvalid(ro, &p.Status, msg, r.Clock.Now())
	if old := findCondition(ro.Status.Conditions, v1alpha1.RolloutInvalidSpec); old == nil || old.Message != msg {
		r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidSpec, "Reconcile", "%s", msg)
	}
}

func findCondition(cs []v1alpha1.RolloutCondition, t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}
