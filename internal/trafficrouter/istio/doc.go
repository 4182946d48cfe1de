// Package istio is the Istio router. Host-level split: the destinations of the selected
// VirtualService routes whose host is the canary or stable Service get the weights.
// Subset-level split (trafficRouting.istio.destinationRule): UpdateHash labels the canary and
// stable subsets of the DestinationRule with rollouts-pod-template-hash, and the destinations
// with those subsets get the weights. Header and mirror routes (setHeaderRoute,
// setMirrorRoute) are HTTP routes named after the managed routes, kept at the top of spec.http
// in trafficRouting.managedRoutes order.
//
// Unlike Argo Rollouts, a route or destination that cannot be found is an InvalidConfigError,
// never a silent no-op (#4741, #3884), and destinations that are neither the canary nor the
// stable are never deleted: a foreign destination with a non-zero weight is an error (see
// docs/traffic-routing.md).
//
// VirtualServices and DestinationRules are read and written as unstructured objects so that
// fields sluice does not model are kept. desired.go is pure; router.go does the I/O.
package istio
