// Package gatewayapi is the native Gateway API router. It reads
// trafficRouting.plugins["argoproj-labs/gatewayAPI"] exactly as users of Argo Rollouts'
// Gateway API plugin write it (httpRoute(s), grpcRoute(s), tcpRoute(s), tlsRoute(s),
// namespace, useHeaderRoutes, the in-progress label settings), with no plugin binary.
//
// SetWeight sets the canary and stable backendRef weights on every rule that references both
// Services and leaves every other rule untouched (the plugin's gw#158 and gw#217). Header and
// mirror routes are extra rules named after the managed route. Verify reads the routes'
// status.parents: Verified only when every parent reports Accepted=True for the route's current
// generation.
//
// Routes are handled as unstructured objects so that fields sluice does not model are kept.
// config.go parses the plugin configuration, desired.go is pure, router.go does the I/O.
package gatewayapi
