package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// errRoutersUnavailable is reported while no router registry is wired in.
var errRoutersUnavailable = errors.New("spec.strategy.canary.trafficRouting is not supported by this sluice build")

// applyTraffic hands the plan's weight and managed routes to every router of the Rollout, in
// Argo's order (UpdateHash, SetWeight, header/mirror routes, Verify), and records in
// status.canary.weights what they were told. It returns ok=false when the pass must not go on
// to scale anything down: a router failed (the error is returned, the previous weights stay in
// the status), refused its configuration (InvalidSpec, no error), or could not verify the weight.
func (r *Reconciler) applyTraffic(ctx context.Context, ro *v1alpha1.Rollout, p *plan.Plan) (bool, error) {
	if r.Routers == nil {
		r.invalidate(ro, p, errRoutersUnavailable.Error())
		return false, nil
	}
	fail := func(err error) (bool, error) {
		p.Status.Canary.Weights = ro.Status.Canary.Weights
		if inv, ok := contract.AsInvalidConfig(err); ok {
			r.invalidate(ro, p, inv.Message)
			return false, nil
		}
		r.eventf(ctx, ro, nil, corev1.EventTypeWarning, "TrafficRoutingError", "Route", "%v", err)
		return false, err
	}
	routers, err := r.Routers(ctx, r.Client, ro)
	if err != nil {
		return fail(err)
	}
	cs := ro.Spec.Strategy.Canary
	svc := contract.Services{Canary: cs.CanaryService, Stable: cs.StableService}
	d := contract.Desired{
		Services: svc, CanaryHash: p.RouterCanaryHash, StableHash: p.Status.StableRS,
		Weight: p.Weight, Total: p.MaxWeight, Additional: p.Additional,
	}
	var verdicts []contract.Verification
	for _, rt := range routers {
		if err := rt.UpdateHash(ctx, d.CanaryHash, d.StableHash); err != nil && !errors.Is(err, contract.ErrUnsupported) {
			return fail(fmt.Errorf("%s: updating pod-template hashes: %w", rt.Type(), err))
		}
		noRoutes := len(p.HeaderRoutes) == 0 && len(p.MirrorRoutes) == 0
		if noRoutes { // header routes send matching requests to the canary: remove them first
			if err := removeManagedRoutes(ctx, rt); err != nil {
				return fail(err)
			}
		}
		if err := rt.SetWeight(ctx, d); err != nil {
			return fail(fmt.Errorf("%s: setting weight %d: %w", rt.Type(), d.Weight, err))
		}
		if !noRoutes {
			if err := r.applyManagedRoutes(ctx, rt, svc, p); err != nil {
				return fail(err)
			}
		}
		v, err := rt.Verify(ctx, d)
		if err != nil {
			return fail(fmt.Errorf("%s: verifying weight: %w", rt.Type(), err))
		}
		verdicts = append(verdicts, v)
	}
	v := contract.Combine(verdicts...)
	p.Status.Canary.Weights = d.Weights(v)
	from := int32(0)
	if old := ro.Status.Canary.Weights; old != nil {
		from = old.Canary.Weight
	}
	if from != d.Weight {
		r.eventf(ctx, ro, nil, corev1.EventTypeNormal, "TrafficWeightUpdated", "Route",
			"Traffic weight updated from %d to %d", from, d.Weight)
	}
	if v.State == contract.NotVerified {
		r.eventf(ctx, ro, nil, corev1.EventTypeWarning, "WeightVerifyError", "Verify", "%s", v.Reason)
		if p.RequeueAfter == 0 || p.RequeueAfter > weightVerifyRetry {
			p.RequeueAfter = weightVerifyRetry
		}
		return false, nil
	}
	return true, nil
}

// applyManagedRoutes sets the header and mirror routes in force, or removes them all.
// A router without header or mirror routes (NGINX, SMI) skips them: Validate made sure one of
// the configured routers supports each route step.
func (r *Reconciler) applyManagedRoutes(ctx context.Context, rt contract.Router, svc contract.Services, p *plan.Plan) error {
	for _, h := range p.HeaderRoutes {
		err := rt.SetHeaderRoute(ctx, contract.HeaderRoute{Services: svc, Name: h.Name, Match: h.Match})
		if err != nil && !errors.Is(err, contract.ErrUnsupported) {
			return fmt.Errorf("%s: header route %q: %w", rt.Type(), h.Name, err)
		}
	}
	for _, m := range p.MirrorRoutes {
		err := rt.SetMirrorRoute(ctx, contract.MirrorRoute{Services: svc, Name: m.Name, Match: m.Match, Percentage: m.Percentage})
		if err != nil && !errors.Is(err, contract.ErrUnsupported) {
			return fmt.Errorf("%s: mirror route %q: %w", rt.Type(), m.Name, err)
		}
	}
	return nil
}

// removeManagedRoutes drops every header and mirror route the router added.
func removeManagedRoutes(ctx context.Context, rt contract.Router) error {
	if err := rt.RemoveManagedRoutes(ctx); err != nil && !errors.Is(err, contract.ErrUnsupported) {
		return fmt.Errorf("%s: removing managed routes: %w", rt.Type(), err)
	}
	return nil
}

// invalidate turns a plan into an InvalidSpec report: the status keeps the weights the routers
// last applied, and the phase becomes Degraded with the message.
func (r *Reconciler) invalidate(ro *v1alpha1.Rollout, p *plan.Plan, msg string) {
	p.Invalid = true
	p.Status.Canary.Weights = ro.Status.Canary.Weights
	plan.MarkInvalid(ro, &p.Status, msg, r.Clock.Now())
	if old := findCondition(ro.Status.Conditions, v1alpha1.RolloutInvalidSpec); old == nil || old.Message != msg {
		p.Events = append(p.Events, plan.Event{Warning: true, Reason: v1alpha1.ReasonInvalidSpec, Message: msg})
	}
	if p.RequeueAfter == 0 || p.RequeueAfter > plan.InvalidSpecRequeue {
		p.RequeueAfter = plan.InvalidSpecRequeue
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

// AnnotationTrafficRouting records the trafficRouting the routers last applied (JSON), so that
// when the Rollout stops referencing a router object (another Ingress, no trafficRouting at
// all, …) sluice can undo what it did there: delete the canary Ingress or TrafficSplit it
// created, give the VirtualService or route back its original split.
const AnnotationTrafficRouting = "sluice.dev/traffic-routing"

func routingJSON(ro *v1alpha1.Rollout) string {
	if ro.Spec.Strategy.Canary == nil || ro.Spec.Strategy.Canary.TrafficRouting == nil {
		return ""
	}
	b, err := json.Marshal(ro.Spec.Strategy.Canary.TrafficRouting)
	if err != nil {
		return ""
	}
	return string(b)
}

// retireRouters cleans up after router objects the Rollout no longer references. It returns
// false when something could not be cleaned yet (the record stays, and the next pass retries).
func (r *Reconciler) retireRouters(ctx context.Context, ro *v1alpha1.Rollout) (bool, error) {
	prev := ro.Annotations[AnnotationTrafficRouting]
	if prev == "" || prev == routingJSON(ro) || ro.Spec.Strategy.Canary == nil {
		return true, nil
	}
	old := &v1alpha1.RolloutTrafficRouting{}
	if err := json.Unmarshal([]byte(prev), old); err != nil {
		return true, nil //nolint:nilerr // an unreadable record is dropped: nothing to undo that we can name
	}
	routers, err := trafficrouter.Retired(r.Client, ro, old, r.RouterOptions)
	if err != nil {
		return false, fmt.Errorf("routers no longer referenced: %w", err)
	}
	for _, rt := range routers {
		if err := rt.Cleanup(ctx); err != nil {
			r.eventf(ctx, ro, nil, corev1.EventTypeWarning, "TrafficRoutingError", "Cleanup",
				"%s: undoing changes to objects no longer referenced: %v", rt.Type(), err)
			return false, err
		}
		r.eventf(ctx, ro, nil, corev1.EventTypeNormal, "TrafficRoutingRetired", "Cleanup",
			"%s: undid sluice's changes to objects the Rollout no longer references", rt.Type())
	}
	return true, nil
}
