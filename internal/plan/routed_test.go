package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// routedWorld is a world for a routed Rollout of 10 replicas whose steps end on an indefinite
// pause (the shape most people use: the last step waits for a human).
func routedWorld(t *testing.T, dynamic, subsets bool, lag int) *world {
	t.Helper()
	ro := routedRollout(10, setWeight(20), pause("10s"), setWeight(80), pause(""))
	ro.Spec.Strategy.Canary.DynamicStableScale = dynamic
	w := newWorld(t, ro)
	w.subsets = subsets
	w.routerLag = lag
	w.readyDelay = 1
	w.run(time.Minute)
	return w
}

// runUntil reconciles until cond holds (or fails the test after limit of simulated time).
func (w *world) runUntil(limit time.Duration, what string, cond func() bool) {
	w.t.Helper()
	end := w.now.Add(limit)
	for w.now.Before(end) {
		if cond() {
			return
		}
		w.reconcile()
		w.settle()
		w.now = w.now.Add(time.Second)
	}
	w.t.Fatalf("%s: not reached after %s: %s\n%s", what, limit, w.snapshot(), w.log.String())
}

// update sets a new image and runs the pass that starts the update.
func (w *world) update(img string) {
	w.setImage(img)
	w.reconcile()
	w.settle()
	w.now = w.now.Add(time.Second)
}

func (w *world) index() int32 {
	if i := w.ro.Status.CurrentStepIndex; i != nil {
		return *i
	}
	return -1
}

func (w *world) healthyOnCurrent() bool {
	st := w.ro.Status
	return st.Phase == v1alpha1.RolloutPhaseHealthy && st.StableRS == w.hash()
}

// onlyStableLeft: the aborted canary is gone and the stable carries everything.
func (w *world) onlyStableLeft() bool {
	for _, rs := range w.rss {
		if rs.Hash != w.ro.Status.StableRS && rs.Spec > 0 {
			return false
		}
	}
	return w.router != nil && w.router.Canary.Weight == 0
}

type routedCase struct {
	dynamic, subsets bool
	lag              int
}

func (c routedCase) String() string {
	return fmt.Sprintf("dynamic=%v/subsets=%v/lag=%d", c.dynamic, c.subsets, c.lag)
}

var routedCases = []routedCase{
	{}, {dynamic: true}, {subsets: true}, {lag: 2}, {dynamic: true, subsets: true, lag: 1},
}

// A routed Rollout whose last step is a pause, promoted by hand (or with promote --full from
// any step): everything goes to the canary first, then the Services switch, and the replaced
// stable keeps its pods for scaleDownDelaySeconds after its last request (world invariants).
func TestRoutedPromoteFromEveryStep(t *testing.T) {
	for _, c := range routedCases {
		for at := int32(0); at <= 3; at++ {
			for _, full := range []bool{false, true} {
				if !full && at != 3 {
					continue
				}
				t.Run(fmt.Sprintf("%s/step%d/full=%v", c, at, full), func(t *testing.T) {
					w := routedWorld(t, c.dynamic, c.subsets, c.lag)
					w.update("app:v2")
					w.runUntil(2*time.Minute, "reach step", func() bool { return w.index() >= at })
					if full {
						w.logf("user: promote --full")
						w.ro.Status.PromoteFull = true
					} else {
						w.runUntil(time.Minute, "pause", func() bool { return len(w.ro.Status.PauseConditions) > 0 })
						w.logf("user: promote")
						w.ro.Status.PauseConditions = nil
					}
					sawFull := false
					w.runUntil(3*time.Minute, "Healthy", func() bool {
						if ws := w.ro.Status.Canary.Weights; ws != nil && ws.Canary.Weight == 100 && ws.Canary.PodTemplateHash == w.hash() {
							sawFull = true
						}
						return w.healthyOnCurrent() && len(w.rss) > 0 && w.onlyStableLeft()
					})
					if !sawFull {
						t.Fatalf("status.canary.weights never gave the canary 100 before the switch:\n%s", w.log.String())
					}
				})
			}
		}
	}
}

// Abort from every step, with and without dynamicStableScale: traffic goes back to the stable
// only as fast as the stable can carry it, the canary Service follows once no weight reaches
// the canary, and the canary goes after abortScaleDownDelaySeconds (world invariants).
func TestRoutedAbortFromEveryStep(t *testing.T) {
	for _, c := range routedCases {
		for at := int32(0); at <= 3; at++ {
			for _, paused := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/step%d/paused=%v", c, at, paused), func(t *testing.T) {
					w := routedWorld(t, c.dynamic, c.subsets, c.lag)
					w.update("app:v2")
					w.runUntil(2*time.Minute, "reach step", func() bool { return w.index() == at })
					w.runUntil(time.Minute, "weight applied", func() bool {
						ws := w.ro.Status.Canary.Weights
						return ws != nil && ws.Canary.Weight == WeightAt(w.ro.Spec.Strategy.Canary.Steps, at, 100) &&
							(ws.Verified == nil || *ws.Verified)
					})
					if paused {
						w.logf("user: pause (spec.paused)")
						w.ro.Spec.Paused = true
					}
					w.logf("user: abort")
					w.ro.Status.Abort = true
					w.runUntil(time.Minute, "weight 0", func() bool { return w.router.Canary.Weight == 0 })
					if paused {
						if !c.dynamic && w.svc.Canary != w.ro.Status.StableRS {
							w.runUntil(30*time.Second, "canary Service back on stable", func() bool { return w.svc.Canary == w.ro.Status.StableRS })
						}
						w.logf("user: resume (spec.paused false)")
						w.ro.Spec.Paused = false
					}
					w.runUntil(3*time.Minute, "canary gone", w.onlyStableLeft)
					if w.svc.Canary != w.ro.Status.StableRS {
						w.runUntil(30*time.Second, "canary Service back on stable", func() bool { return w.svc.Canary == w.ro.Status.StableRS })
					}
					if w.ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
						t.Fatalf("want Degraded after abort: %s", w.snapshot())
					}
				})
			}
		}
	}
}

// A new version while the canary takes traffic: the replaced canary loses its weight before the
// routers point the canary destination at the new pods (Istio subsets: the DestinationRule
// subset is relabelled only once its weight is 0), then the update starts over.
func TestRoutedNewVersionMidRollout(t *testing.T) {
	for _, c := range routedCases {
		for at := int32(0); at <= 3; at++ {
			t.Run(fmt.Sprintf("%s/step%d", c, at), func(t *testing.T) {
				w := routedWorld(t, c.dynamic, c.subsets, c.lag)
				w.update("app:v2")
				w.runUntil(2*time.Minute, "reach step", func() bool { return w.index() >= at })
				w.update("app:v3")
				w.runUntil(2*time.Minute, "first pause of v3", func() bool { return len(w.ro.Status.PauseConditions) > 0 })
				w.runUntil(2*time.Minute, "last pause of v3", func() bool { return w.index() == 3 && len(w.ro.Status.PauseConditions) > 0 })
				w.ro.Status.PauseConditions = nil
				w.runUntil(3*time.Minute, "Healthy on v3", func() bool { return w.healthyOnCurrent() && w.onlyStableLeft() })
			})
		}
	}
}

// Routers that fail every third pass: nothing is scaled down in a failed pass and the status
// keeps what the routers really hold, so the invariants hold through a whole update.
func TestRoutedFlakyRouter(t *testing.T) {
	for _, c := range routedCases {
		t.Run(c.String(), func(t *testing.T) {
			w := routedWorld(t, c.dynamic, c.subsets, c.lag)
			w.routerFails = func(pass int) bool { return pass%3 == 0 }
			w.update("app:v2")
			w.runUntil(3*time.Minute, "last pause", func() bool { return w.index() == 3 && len(w.ro.Status.PauseConditions) > 0 })
			w.ro.Status.PauseConditions = nil
			w.runUntil(3*time.Minute, "Healthy", func() bool { return w.healthyOnCurrent() && w.onlyStableLeft() })
		})
	}
}
