package plan

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Edge cases of routed transitions found in review: liveness with a stable pod that never
// gets ready, dynamicStableScale on a full cluster, weights going down, managed routes with no
// canary pods or under spec.paused, setWeight out of maxTrafficWeight.

// stickPod makes one pod of the ReplicaSet with this hash unready for good (a failing
// readiness probe, a node problem): the ReplicaSet runs at spec, one pod short of available.
func (w *world) stickPod(hash string) {
	rs := w.find(hash)
	pod := rs.pods[0]
	pod.available, pod.readyIn = false, 1<<30
	rs.Available = rs.availableNow()
	rs.Ready = rs.Available
	w.logf("pod %s: unready for good", pod.name)
}

// Rolling back (template back to the stable) while the canary takes 80 %, with one stable pod
// unready for good: the bad canary must still lose its traffic and go (the stable is within
// maxUnavailable of full).
func TestRoutedRollbackWithOneStablePodDown(t *testing.T) {
	w := routedWorld(t, false, false, 0)
	w.update("app:v2")
	w.runUntil(2*time.Minute, "weight 80", func() bool { return w.router != nil && w.router.Canary.Weight == 80 })
	w.stickPod("h-app-v1")
	w.update("app:v1") // rollback: the canary is bad
	w.runUntil(10*time.Minute, "no traffic on the bad canary", func() bool { return w.router.Canary.Weight == 0 })
}

// The same with a new version (v3) instead of a rollback: v2 drains and v3 gets its traffic.
func TestRoutedNewVersionWithOneStablePodDown(t *testing.T) {
	w := routedWorld(t, false, false, 0)
	w.update("app:v2")
	w.runUntil(2*time.Minute, "weight 80", func() bool { return w.router != nil && w.router.Canary.Weight == 80 })
	w.stickPod("h-app-v1")
	w.update("app:v3")
	w.runUntil(10*time.Minute, "v3 gets traffic", func() bool {
		return w.router.Canary.Weight > 0 && w.router.Canary.PodTemplateHash == "h-app-v3"
	})
}

// settleWithin is settle on a cluster with room for cap pods: pods beyond it stay Pending
// (never available) until others go.
func (w *world) settleWithin(cap int) {
	w.settle()
	var all []*simPod
	for _, rs := range w.rss {
		all = append(all, rs.pods...)
	}
	slices.SortStableFunc(all, func(a, b *simPod) int { return a.created.Compare(b.created) })
	for i, pod := range all {
		if i >= cap {
			pod.available, pod.readyIn = false, max(pod.readyIn, 1)
		}
	}
	for _, rs := range w.rss {
		rs.Available = rs.availableNow()
		rs.Ready = rs.Available
	}
}

func (w *world) runWithin(cap int, limit time.Duration, what string, cond func() bool) {
	w.t.Helper()
	end := w.now.Add(limit)
	for w.now.Before(end) {
		if cond() {
			return
		}
		w.reconcile()
		w.settleWithin(cap)
		w.now = w.now.Add(time.Second)
	}
	w.t.Fatalf("%s: not reached after %s: %s\n%s", what, limit, w.snapshot(), w.log.String())
}

// dynamicStableScale on a cluster with room for 12 pods of 10 replicas: the update gets to 80 %
// (the stable shrinks as the canary grows). Abort from there completes (the canary shrinks as
// its traffic leaves); so must a rollback (template back to v1) or a new version: the replaced
// canary keeps only the pods for the weight it still has, so the stable can grow into the room.
func TestRoutedDynamicDrainOnAFullCluster(t *testing.T) {
	for _, how := range []string{"abort", "rollback", "v3"} {
		t.Run(how, func(t *testing.T) {
			ro := routedRollout(10, setWeight(20), setWeight(40), setWeight(60), setWeight(80), pause(""))
			ro.Spec.Strategy.Canary.DynamicStableScale = true
			w := newWorld(t, ro)
			w.readyDelay = 1
			w.run(time.Minute)
			w.setImage("app:v2")
			w.runWithin(12, 5*time.Minute, "weight 80", func() bool { return w.router.Canary.Weight == 80 && w.index() == 4 })
			switch how {
			case "abort":
				w.ro.Status.Abort = true
			case "rollback":
				w.setImage("app:v1")
			case "v3":
				w.setImage("app:v3")
			}
			w.runWithin(12, 10*time.Minute, "v2 without traffic", func() bool {
				return w.router.Canary.Weight == 0 || w.router.Canary.PodTemplateHash == "h-app-v3"
			})
		})
	}
}

// The weight goes down outside an abort (80 then 20): the stable must carry the rest before the
// weight moves, and the canary keeps the pods for its applied weight until the lower one is in.
func TestRoutedWeightGoesDown(t *testing.T) {
	for _, c := range routedCases {
		t.Run(c.String(), func(t *testing.T) {
			ro := routedRollout(10, setWeight(80), pause(""), setWeight(20), pause(""))
			ro.Spec.Strategy.Canary.DynamicStableScale = c.dynamic
			w := newWorld(t, ro)
			w.subsets, w.routerLag, w.readyDelay = c.subsets, c.lag, 1
			w.run(time.Minute)
			w.update("app:v2")
			w.runUntil(2*time.Minute, "first pause", func() bool { return w.index() == 1 && len(w.ro.Status.PauseConditions) > 0 })
			w.ro.Status.PauseConditions = nil
			w.runUntil(2*time.Minute, "second pause", func() bool { return w.index() == 3 && len(w.ro.Status.PauseConditions) > 0 })
		})
	}
}

// Argo (>= 1.7) accepts setWeight up to maxTrafficWeight (argo-compat.md §1.3): an NGINX
// Rollout with maxTrafficWeight 1000 and setWeight 500 (50 %) is valid there.
func TestSetWeightUpToMaxTrafficWeight(t *testing.T) {
	ro := routedRollout(10, setWeight(500), pause(""))
	ro.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{
		Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "ing"}, MaxTrafficWeight: new(int32(1000)),
	}
	if errs := ValidateAll(ro); len(errs) > 0 {
		t.Fatalf("refused: %v", errs)
	}
}

func headerRollout(scaled bool) *v1alpha1.Rollout {
	hr := v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "hdr", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}}}}}
	ro := routedRollout(10, hr, pause(""), setWeight(20), pause(""))
	if scaled {
		ro = routedRollout(10, v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: new(int32(2))}}, hr, pause(""), setWeight(20), pause(""))
	}
	ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes = []v1alpha1.ManagedRoute{{Name: "hdr"}}
	return ro
}

// Argo (argo-compat §3.6): while the new ReplicaSet has no available pod, the managed routes are
// removed: matching requests would go to a canary Service that selects no ready pod.
func TestHeaderRouteNeedsCanaryPods(t *testing.T) {
	w := newWorld(t, headerRollout(false))
	w.readyDelay = 3
	w.run(time.Minute)
	w.setImage("app:v2")
	p := w.reconcile()
	if n := w.find(w.hash()); len(p.HeaderRoutes) > 0 && n.Available == 0 {
		t.Fatalf("header route %q in force while the canary has %d available pods: %s", p.HeaderRoutes[0].Name, n.Available, w.snapshot())
	}
}

// spec.paused holds sizes, and the header route in force too (the controller removes managed
// routes when the plan has none).
func TestPauseKeepsHeaderRoute(t *testing.T) {
	w := newWorld(t, headerRollout(true))
	w.readyDelay = 1
	w.run(time.Minute)
	w.setImage("app:v2")
	w.runUntil(time.Minute, "header step done", func() bool { return w.index() == 2 && w.find(w.hash()).Available > 0 })
	if p := w.reconcile(); len(p.HeaderRoutes) == 0 {
		t.Fatal("no header route before the pause")
	}
	w.ro.Spec.Paused = true
	if p := w.reconcile(); len(p.HeaderRoutes) == 0 {
		t.Fatalf("spec.paused removed the header route: %s", w.snapshot())
	}
}
