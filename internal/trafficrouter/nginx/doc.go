// Package nginx is the NGINX Ingress router: next to each stable Ingress it keeps a canary
// Ingress, <rollout>-<stableIngress>-canary, owned by the Rollout, that copies the stable
// Ingress's paths to stableService with the backend swapped to canaryService and carries the
// canary, canary-weight (and canary-weight-total) annotations NGINX reads.
//
// desired.go is pure (the canary Ingress from the stable one, the merge with what exists, the
// diagnosis of a misconfigured stable Ingress); router.go does the I/O.
package nginx
