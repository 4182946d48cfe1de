// Package controller owns sluice's controller process: the controller-runtime manager (cache
// scoped to what the reconcilers need, leader election on a Lease, metrics and health
// endpoints) and the registration of every reconciler (internal/controller/rollout, …).
package controller
