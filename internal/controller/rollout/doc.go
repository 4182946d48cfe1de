// Package rollout owns the Rollout reconciler: the I/O around internal/plan.
//
// One pass, in one direction (observe → plan → act → report):
//
//  1. observe: read the Rollout and the ReplicaSets it owns (from the cache), compute the
//     template hash, and make sure the ReplicaSet for the current template exists (created at
//     0 replicas, named <rollout>-<hash>, labelled rollouts-pod-template-hash);
//  2. plan: plan.Compute, pure;
//  3. act, in the safety order: scale ReplicaSets (the plan already bounds scale-ups by
//     maxSurge and scale-downs by maxUnavailable, and only grows a canary before it shifts
//     anything to it), then point the Services (only at a ReplicaSet with available pods), then
//     delete ReplicaSets beyond revisionHistoryLimit;
//  4. report: one merge patch of the status subresource (skipped when nothing changed), the
//     events of the plan, and a requeue for timed pauses and progress deadlines.
//
// There is no finalizer: a Rollout must be deletable while the controller is down, and its
// ReplicaSets go with it through owner references.
package rollout
