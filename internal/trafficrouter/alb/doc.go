// Package alb is the AWS Load Balancer Controller router: it writes the forward action
// annotation <prefix>/actions.<rootService or stableService> (target groups with weights and
// optional stickiness) on the referenced Ingresses, header routes as <prefix>/actions.<route>
// and <prefix>/conditions.<route> plus an Ingress path for the route, and records the keys it
// manages per Rollout in rollouts.argoproj.io/managed-alb-annotations.
//
// sluice does not call AWS: Verify never reports Verified (the target-group weights in AWS are
// not checked); it reports Unknown once the annotation carries the desired split.
//
// desired.go is pure; router.go does the I/O.
package alb
