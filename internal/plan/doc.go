// Package plan is the pure heart of sluice's canary controller: from a Rollout (spec and
// status), the ReplicaSets observed for it and the current time, Compute decides the next
// status (step index, pauses, abort, conditions, phase), the replica count of every
// ReplicaSet, the Service selectors, the traffic weight a router should apply, and when to look
// again. It has no client, no logger and no clock; the controller does the I/O around it.
//
// The canary step machine (one Rollout revision):
//
//	          template/steps changed                 abort=true (user, deadline)
//	  ┌──────────────────────────────┐          ┌─────────────────────────────────┐
//	  v                              │          v                                 │
//	[index 0] ─► setWeight w ─► pause ─► … ─► [index = len(steps)] ─► promoted ─► Healthy
//	   ▲          │ done when       │ done when                 new RS has R available;
//	   │          │ counts reached  │ timer expired or          stableRS := currentPodHash
//	   │          │ and available   │ user cleared pauseConditions
//	   │          ▼                 ▼
//	   └── retry (abort=false) ◄── [aborted: weight 0, canary scaled down, Degraded]
//
// Invariants (tested by table, sequence and fuzz tests):
//   - replica counts are never negative; without a router the sum of ReplicaSet sizes never
//     exceeds replicas+maxSurge and scale-downs never take availability below
//     replicas-maxUnavailable (beyond what is already unavailable);
//   - a setWeight step with 0 < weight < 100 and replicas > 1 gets at least one canary pod and
//     keeps at least one stable pod (Argo can give 0 canary pods with maxSurge 0 and still
//     complete the step; sluice does not);
//   - the step index only moves forward, except on a reset (new template or steps), abort or
//     retry;
//   - the router weight is within 0..maxTrafficWeight, and is never above 0 for a revision with
//     no available pods (scale first, then shift);
//   - with a router, a pass never leaves a version with more traffic than its available pods
//     can carry: a canary keeps the pods for the weight it holds until the routers applied a
//     lower one; traffic goes back to a stable (after an abort, or from a canary replaced
//     mid-update) only as fast as the stable's available pods can take it; the canary Service
//     follows the version the routers hold; hash-based destinations (DestinationRule subsets)
//     move to a new version only once their weight is 0;
//   - at the end of the steps (or on promoteFull) the routers give the canary everything
//     before the promotion, the stable Service switches, and only then does the weight go to 0;
//     every replaced version keeps its pods for scaleDownDelaySeconds after its traffic left;
//   - scale-downs and a restart's evictions share one maxUnavailable budget per pass;
//   - Healthy only when the current ReplicaSet runs exactly spec.replicas pods, all available
//     (and, without a router, nothing else runs).
//
// The world these are checked in (world_test.go) has pods that start late, Services whose
// selectors follow the controller's rules, routers that fail or verify late, subset routing,
// evictions, and users who abort, promote, pause, resize and change the template at any time.
package plan
