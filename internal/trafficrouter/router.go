package trafficrouter

import "github.com/sluicehq/sluice/internal/trafficrouter/contract"

// The contract, defined in package contract (so the router packages can use it without an
// import cycle) and re-exported here for callers. See contract for the documentation.
type (
	// Router applies a Rollout's traffic split to one kind of router objects.
	Router = contract.Router
	// Desired is the traffic split a router must apply.
	Desired = contract.Desired
	// Services names the canary and stable Services.
	Services = contract.Services
	// HeaderRoute is a setHeaderRoute step.
	HeaderRoute = contract.HeaderRoute
	// MirrorRoute is a setMirrorRoute step.
	MirrorRoute = contract.MirrorRoute
	// Verification is the outcome of Router.Verify.
	Verification = contract.Verification
	// VerificationState is Verified, NotVerified or VerificationUnknown.
	VerificationState = contract.VerificationState
	// InvalidConfigError is a problem the user must fix; its message is for InvalidSpec.
	InvalidConfigError = contract.InvalidConfigError
	// ObjectRef names an object a router reads or writes.
	ObjectRef = contract.ObjectRef
)

// Verification states.
const (
	Verified            = contract.Verified
	NotVerified         = contract.NotVerified
	VerificationUnknown = contract.VerificationUnknown
)

// DefaultTotalWeight is the total weight without trafficRouting.maxTrafficWeight.
const DefaultTotalWeight = contract.DefaultTotalWeight

// ErrUnsupported is wrapped by the errors of features a router does not have; test with
// errors.Is.
var ErrUnsupported = contract.ErrUnsupported

// AsInvalidConfig returns the *InvalidConfigError in err's chain, if any.
func AsInvalidConfig(err error) (*InvalidConfigError, bool) { return contract.AsInvalidConfig(err) }

// Combine merges verifications: NotVerified if any is, else Unknown if any is, else Verified.
func Combine(vs ...Verification) Verification { return contract.Combine(vs...) }
