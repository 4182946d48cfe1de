package contract

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Router applies a Rollout's traffic split to one kind of router objects (an NGINX canary
// Ingress, Istio VirtualServices, …). A Router is built for one Rollout (see trafficrouter.New)
// and is stateless: every call reads the objects it needs, computes the desired ones with a pure
// function and writes only what differs, so every method is idempotent and safe to call on
// every reconcile.
//
// Errors: a feature the router does not have is reported as an error wrapping ErrUnsupported;
// a problem the user must fix in the Rollout or in the router objects (a missing route, a
// foreign-owned canary Ingress, …) as an *InvalidConfigError, whose message is meant for the
// Rollout's InvalidSpec condition; anything else (API errors, conflicts) is transient.
type Router interface {
	// Type names the router: "NGINX", "Istio", "SMI", "ALB" or "GatewayAPI".
	Type() string
	// SetWeight sends d.Weight out of d.TotalWeight() to the canary, the additional
	// destinations their weights, and the rest to the stable.
	SetWeight(ctx context.Context, d Desired) error
	// SetHeaderRoute creates or replaces the managed route r.Name that sends requests matching
	// r.Match to the canary; an empty r.Match removes that route.
	SetHeaderRoute(ctx context.Context, r HeaderRoute) error
	// SetMirrorRoute creates or replaces the managed route r.Name that mirrors r.Percentage of
	// the requests matching r.Match to the canary; an empty r.Match removes that route.
	SetMirrorRoute(ctx context.Context, r MirrorRoute) error
	// RemoveManagedRoutes removes every route listed in trafficRouting.managedRoutes that this
	// router added (header and mirror routes).
	RemoveManagedRoutes(ctx context.Context) error
	// UpdateHash points the router's pod selection at the given pod-template hashes (Istio
	// DestinationRule subsets); a no-op for routers that select pods through Services. An
	// empty hash leaves that subset's selection unchanged.
	UpdateHash(ctx context.Context, canaryHash, stableHash string) error
	// Verify reports whether the objects carry d and, where the router can tell, whether the
	// data plane took it. It never writes.
	Verify(ctx context.Context, d Desired) (Verification, error)
	// Cleanup undoes what this router did for the Rollout: deletes the objects it created and
	// restores the objects it changed (weights back to all-stable, managed routes, hash labels
	// and bookkeeping annotations removed). Missing objects are not an error.
	Cleanup(ctx context.Context) error
}

// DefaultTotalWeight is the total weight when trafficRouting.maxTrafficWeight is not set.
const DefaultTotalWeight int32 = 100

// Services names the canary and stable Services of a Rollout (spec.strategy.canary
// canaryService and stableService).
type Services struct {
	// Canary is the Service that selects the canary pods.
	Canary string
	// Stable is the Service that selects the stable pods.
	Stable string
}

// Desired is the traffic split a router must apply.
type Desired struct {
	Services
	// CanaryHash and StableHash are the pod-template hashes of the canary and stable
	// ReplicaSets (informational for most routers; Istio subsets use UpdateHash).
	CanaryHash, StableHash string
	// Weight is the canary's weight, 0..TotalWeight().
	Weight int32
	// Total is trafficRouting.maxTrafficWeight; 0 means DefaultTotalWeight.
	Total int32
	// Additional are further destinations (experiment Services) with their own weights, taken
	// from the stable's share.
	Additional []v1alpha1.WeightDestination
}

// TotalWeight is Total, or DefaultTotalWeight when Total is 0.
func (d Desired) TotalWeight() int32 {
	if d.Total <= 0 {
		return DefaultTotalWeight
	}
	return d.Total
}

// StableWeight is what remains for the stable: TotalWeight − Weight − Σ Additional, never
// below 0.
func (d Desired) StableWeight() int32 {
	w := d.TotalWeight() - d.Weight
	for _, a := range d.Additional {
		w -= a.Weight
	}
	return max(w, 0)
}

// Check reports a Desired no router can apply: a weight outside 0..TotalWeight or missing
// Service names.
func (d Desired) Check() error {
	if d.Weight < 0 || d.Weight > d.TotalWeight() {
		return fmt.Errorf("canary weight %d is outside 0..%d", d.Weight, d.TotalWeight())
	}
	sum := d.Weight
	for _, a := range d.Additional {
		if a.Weight < 0 {
			return fmt.Errorf("additional destination %q has a negative weight %d", a.ServiceName, a.Weight)
		}
		sum += a.Weight
	}
	if sum > d.TotalWeight() {
		return fmt.Errorf("canary and additional weights add up to %d, more than the total %d", sum, d.TotalWeight())
	}
	return nil
}

// Weights is the status.canary.weights value for this split and verification.
func (d Desired) Weights(v Verification) *v1alpha1.TrafficWeights {
	w := &v1alpha1.TrafficWeights{
		Canary:   v1alpha1.WeightDestination{Weight: d.Weight, ServiceName: d.Canary, PodTemplateHash: d.CanaryHash},
		Stable:   v1alpha1.WeightDestination{Weight: d.StableWeight(), ServiceName: d.Stable, PodTemplateHash: d.StableHash},
		Verified: v.Bool(),
	}
	if len(d.Additional) > 0 {
		w.Additional = append([]v1alpha1.WeightDestination(nil), d.Additional...)
	}
	return w
}

// HeaderRoute is a setHeaderRoute step: requests matching every header in Match go to the
// canary, through the managed route Name.
type HeaderRoute struct {
	Services
	// Name is the managed route (one of trafficRouting.managedRoutes).
	Name string
	// Match lists the header conditions (all must hold); empty removes the route.
	Match []v1alpha1.HeaderRoutingMatch
}

// MirrorRoute is a setMirrorRoute step: Percentage of the requests matching any of Match are
// copied to the canary (the responses are discarded), through the managed route Name.
type MirrorRoute struct {
	Services
	// Name is the managed route (one of trafficRouting.managedRoutes).
	Name string
	// Match lists the request conditions (any may hold); empty removes the route.
	Match []v1alpha1.RouteMatch
	// Percentage of the matching requests mirrored, 0..100; nil means 100.
	Percentage *int32
}

// MirrorPercent is Percentage, or 100 when unset.
func (r MirrorRoute) MirrorPercent() int32 {
	if r.Percentage == nil {
		return 100
	}
	return *r.Percentage
}

// VerificationState is the outcome of Router.Verify.
type VerificationState string

// Verification states.
const (
	// VerificationUnknown: the objects carry the desired split, but the router has no way to
	// confirm that the data plane uses it (NGINX, SMI, Istio without status, ALB without AWS).
	VerificationUnknown VerificationState = "Unknown"
	// Verified: the objects carry the desired split and the data plane reports it in effect.
	Verified VerificationState = "Verified"
	// NotVerified: the objects do not carry the desired split (yet), or the data plane reports
	// it is not in effect. Reason says which.
	NotVerified VerificationState = "NotVerified"
)

// Verification is the outcome of Router.Verify with a human-readable reason.
type Verification struct {
	State  VerificationState
	Reason string
}

// Unknown builds a VerificationUnknown result.
func Unknown(format string, args ...any) Verification {
	return Verification{State: VerificationUnknown, Reason: fmt.Sprintf(format, args...)}
}

// NotVerifiedf builds a NotVerified result.
func NotVerifiedf(format string, args ...any) Verification {
	return Verification{State: NotVerified, Reason: fmt.Sprintf(format, args...)}
}

// VerifiedBecause builds a Verified result.
func VerifiedBecause(format string, args ...any) Verification {
	return Verification{State: Verified, Reason: fmt.Sprintf(format, args...)}
}

// Bool is the value for status.canary.weights.verified: true, false, or nil when unknown.
func (v Verification) Bool() *bool {
	switch v.State {
	case Verified:
		t := true
		return &t
	case NotVerified:
		f := false
		return &f
	case VerificationUnknown:
	}
	return nil
}

// Combine merges the verifications of several objects or routers: NotVerified if any is,
// else Unknown if any is, else Verified. Reasons of the deciding state are joined.
func Combine(vs ...Verification) Verification {
	if len(vs) == 0 {
		return Unknown("nothing to verify")
	}
	for _, want := range []VerificationState{NotVerified, VerificationUnknown} {
		var reasons []string
		for _, v := range vs {
			if v.State == want {
				reasons = append(reasons, v.Reason)
			}
		}
		if len(reasons) > 0 {
			return Verification{State: want, Reason: strings.Join(reasons, "; ")}
		}
	}
	reasons := make([]string, 0, len(vs))
	for _, v := range vs {
		reasons = append(reasons, v.Reason)
	}
	return Verification{State: Verified, Reason: strings.Join(reasons, "; ")}
}

// ErrUnsupported is wrapped by the errors of features a router does not have (for example
// setMirrorRoute on NGINX). Test with errors.Is.
var ErrUnsupported = errors.New("not supported by this traffic router")

// Unsupported returns an error wrapping ErrUnsupported that names the router and the feature.
func Unsupported(router, feature string) error {
	return fmt.Errorf("%s: %s: %w", router, feature, ErrUnsupported)
}

// InvalidConfigError is a problem the user must fix in the Rollout's trafficRouting or in the
// router objects it references. Message is written for the Rollout's InvalidSpec condition.
type InvalidConfigError struct {
	// Router is the Type of the router that found the problem ("" for the registry).
	Router string
	// Message explains what is wrong and what to change.
	Message string
}

func (e *InvalidConfigError) Error() string { return e.Message }

// Invalidf builds an *InvalidConfigError.
func Invalidf(router, format string, args ...any) *InvalidConfigError {
	return &InvalidConfigError{Router: router, Message: fmt.Sprintf(format, args...)}
}

// AsInvalidConfig returns the *InvalidConfigError in err's chain, if any.
func AsInvalidConfig(err error) (*InvalidConfigError, bool) {
	return errors.AsType[*InvalidConfigError](err)
}

// ObjectRef names an object a router reads or writes. The version is left out on purpose: the
// object is the same in every served version (see trafficrouter.Kinds for what to watch).
type ObjectRef struct {
	Group, Kind, Namespace, Name string
	// Owned objects are created by the router with a controller reference to the Rollout (the
	// NGINX canary Ingress, the SMI TrafficSplit); they do not exist before the first SetWeight.
	Owned bool
}

// Key is "group/Kind/namespace/name", for indexes that map router objects to Rollouts.
func (r ObjectRef) Key() string { return ObjectKey(r.Group, r.Kind, r.Namespace, r.Name) }

// ObjectKey builds the Key of an ObjectRef.
func ObjectKey(group, kind, namespace, name string) string {
	return group + "/" + kind + "/" + namespace + "/" + name
}

func (r ObjectRef) String() string {
	k := r.Kind
	if r.Group != "" {
		k += "." + r.Group
	}
	return k + " " + r.Namespace + "/" + r.Name
}
