// Package contract defines what every traffic router implements and what it is given: the
// Router interface, the desired-state values (Desired, HeaderRoute, MirrorRoute), the
// tri-state Verification, the typed errors (ErrUnsupported, InvalidConfigError) and ObjectRef.
//
// It exists so that the router packages (nginx, istio, smi, alb, gatewayapi) and the registry
// in package trafficrouter can share these types without an import cycle. Callers outside
// internal/trafficrouter use them through package trafficrouter, which re-exports them.
//
// No I/O here: only types, constructors and pure helpers.
package contract
