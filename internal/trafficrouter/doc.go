// Package trafficrouter turns a Rollout's spec.strategy.canary.trafficRouting into Routers that
// write exact traffic weights into router objects: NGINX canary Ingresses, Istio
// VirtualServices and DestinationRules, SMI TrafficSplits, AWS ALB Ingress annotations and
// Gateway API routes.
//
// router.go is the contract (the Router interface and its values and errors, defined in
// package contract and re-exported here); registry.go is the only place that maps the spec to
// routers (New, Retired, Objects, Kinds); validate.go holds the pure checks (Validate,
// DiagnoseNGINX). Each router lives in its own package with a pure desired.go and an I/O
// router.go; routertest is the conformance suite every router passes.
//
// Routers never read or write the Rollout's status and never decide weights: the controller
// (internal/controller/rollout, with internal/plan) decides, routers apply and verify.
package trafficrouter
