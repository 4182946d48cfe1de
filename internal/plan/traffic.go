package plan

import (
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Default scale-down delays with a traffic router (Argo's): the previous stable ReplicaSet
// stays up 30 s after a promotion, an aborted canary 30 s after traffic left it.
const (
	DefaultScaleDownDelay      = 30 * time.Second
	DefaultAbortScaleDownDelay = 30 * time.Second
)

func (c *computation) routed() bool {
	return c.ro.Spec.Strategy.Canary != nil && c.ro.Spec.Strategy.Canary.TrafficRouting != nil
}

// maxWeight is the total of router weights: trafficRouting.maxTrafficWeight or 100.
func (c *computation) maxWeight() int32 {
	if tr := c.ro.Spec.Strategy.Canary.TrafficRouting; tr != nil && tr.MaxTrafficWeight != nil && *tr.MaxTrafficWeight > 0 {
		return *tr.MaxTrafficWeight
	}
	return 100
}

// appliedWeight is the weight the routers last applied to the ReplicaSet with this hash, as
// recorded in status.canary.weights by the previous pass (0 when it is not there).
func (c *computation) appliedWeight(hash string) int32 {
	w := c.ro.Status.Canary.Weights
	if w == nil || hash == "" {
		return 0
	}
	var sum int32
	if w.Canary.PodTemplateHash == hash {
		sum += w.Canary.Weight
	}
	if w.Stable.PodTemplateHash == hash {
		sum += w.Stable.Weight
	}
	return sum
}

// servedByService is true when the Rollout's stable or canary Service selects the hash now.
func (c *computation) servedByService(hash string) bool {
	stable, canary := ServiceNames(c.ro)
	return hash != "" && ((stable != "" && c.in.Services.Stable == hash) || (canary != "" && c.in.Services.Canary == hash))
}

// ServiceNames are the Services the Rollout points at its versions: the stable and canary
// Services of a canary, the active and preview Services of a blue-green Rollout (the active
// one plays the stable's part, the preview one the canary's).
func ServiceNames(ro *v1alpha1.Rollout) (stable, canary string) {
	switch s := ro.Spec.Strategy; {
	case s.Canary != nil:
		return s.Canary.StableService, s.Canary.CanaryService
	case s.BlueGreen != nil:
		return s.BlueGreen.ActiveService, s.BlueGreen.PreviewService
	}
	return "", ""
}

func ceilDiv(w, r, maxW int32) int32 {
	return int32(math.Ceil(float64(w) * float64(r) / float64(maxW)))
}

func minPods(c *computation) int32 {
	if m := c.ro.Spec.Strategy.Canary.MinPodsPerReplicaSet; m != nil {
		return *m
	}
	return 0
}

// podsFor is how many pods a version needs to carry weight w: TrafficRoutedCanaryCount.
func (c *computation) podsFor(w int32) int32 {
	return TrafficRoutedCanaryCount(c.replicas, w, c.maxWeight(), minPods(c))
}

// routedTargets are the canary and stable sizes with a traffic router (argo-compat.md §3.5):
// the canary gets ceil(weight × replicas / maxWeight) pods (or setCanaryScale), the stable stays
// at full size unless dynamicStableScale, and maxSurge does not apply.
func (c *computation) routedTargets() (canary, stable int32) {
	r, maxW := c.replicas, c.maxWeight()
	cs := c.ro.Spec.Strategy.Canary
	switch {
	case c.promoted():
		return r, 0
	case c.st.Abort:
		applied := c.appliedWeight(c.in.NewHash)
		if cs.DynamicStableScale && cs.AbortScaleDownDelaySeconds == nil {
			// The canary shrinks as traffic leaves it.
			return c.podsFor(applied), r
		}
		return c.newRS.Spec, r // the abort delay decides when it goes (abortedCanary)
	}
	i := c.index()
	w := c.requestedWeight()
	if c.st.PromoteFull || i >= c.n() {
		canary, w = r, maxW
	} else if s := CanaryScaleAt(c.steps, i); s != nil {
		switch {
		case s.Replicas != nil:
			canary = *s.Replicas
		case s.Weight != nil:
			canary = TrafficRoutedCanaryCount(r, *s.Weight, maxW, minPods(c))
		}
	} else {
		canary = TrafficRoutedCanaryCount(r, w, maxW, minPods(c))
	}
	if applied := c.appliedWeight(c.in.NewHash); applied > w {
		// The weight is going down: the canary keeps the pods for the weight it still gets
		// until the routers applied the lower one (shift first, then scale down).
		canary = max(canary, c.podsFor(applied))
	}
	stable = r
	if cs.DynamicStableScale {
		// Shrink the stable only as far as the traffic has already left it, and only for the
		// weight the current canary really holds: while a replaced canary drains (a new
		// version mid-update), its share comes back to the stable first.
		held := min(w, c.appliedWeight(c.in.NewHash))
		stable = max(ceilDiv(maxW-held, r, maxW), ceilDiv(c.appliedWeight(c.st.StableRS), r, maxW))
		stable = clampMin(stable, minPods(c), r)
	}
	return canary, stable
}

// trafficWeight is the canary weight the routers should apply now: scale first, then shift.
// The weight of a step is applied only once the canary has the pods for it (until then the
// weight already applied holds: Argo keeps the previous step's weight, which is the same in a
// normal progression and safer after a promoteFull or a retry), never above 0 for a canary without available pods, and only
// when the stable ReplicaSet can carry the rest.
func (c *computation) trafficWeight() int32 {
	maxW := c.maxWeight()
	applied := c.appliedWeight(c.in.NewHash)
	if ws := c.ro.Status.Canary.Weights; ws != nil && ws.Canary.Weight > 0 && ws.Canary.PodTemplateHash != c.in.NewHash &&
		ws.Canary.PodTemplateHash != "" {
		// A replaced canary still gets traffic: take it away first, with the routers still
		// pointing at the pods that serve it (a DestinationRule subset relabelled to a version
		// without pods while the weight holds would fail those requests).
		c.plan.RouterCanaryHash = ws.Canary.PodTemplateHash
		return c.drainTo(ws.Canary.Weight)
	}
	switch {
	case c.promoted():
		// The stable Service selects the new pods once it has switched; until then the
		// canary keeps everything it had (all of it at the end of the steps).
		// (A stable Service with no hash selector yet selects every pod of the app: no wait.)
		if ws := c.ro.Status.Canary.Weights; ws != nil && ws.Canary.PodTemplateHash == c.in.NewHash &&
			c.ro.Spec.Strategy.Canary.StableService != "" && c.in.Services.Stable != "" &&
			c.in.Services.Stable != c.in.NewHash && c.replicas > 0 {
			c.requeue(time.Second) // Services are not watched: look again for the switch
			return ws.Canary.Weight
		}
		return 0
	case c.st.Abort:
		// Back to the stable as fast as it can take it: at once when it is full (within
		// maxUnavailable), as Argo does; a stable without the pods for it (dynamicStableScale,
		// a restart, a failure) is not sent more than its pods can carry.
		return c.drainTo(applied)
	case c.newRS.Available == 0:
		return 0
	}
	i := c.index()
	w := c.requestedWeight()
	if c.st.PromoteFull || i >= c.n() {
		w = maxW
	}
	canaryT, _ := c.routedTargets()
	if c.newRS.Spec < canaryT || c.newRS.Available < c.progressTarget(canaryT) {
		w = min(w, applied) // the canary is not ready for more: hold (never raise) the weight
	}
	if c.stableRS != nil && c.stableRS != c.newRS && w < maxW {
		need := ceilDiv(maxW-w, c.replicas, maxW)
		if c.stableRS.Available < need {
			return applied // the stable cannot take the rest: hold
		}
	}
	return w
}

// drainTo is the weight a canary that holds `applied` may keep while its traffic goes back to
// the stable: only as much moves as the stable's available pods can carry.
func (c *computation) drainTo(applied int32) int32 {
	if c.stableRS == nil || c.replicas <= 0 {
		return 0
	}
	if s := c.stableRS; !c.ro.Spec.Strategy.Canary.DynamicStableScale && s.Spec >= c.replicas && s.Available >= c.replicas-c.unavail {
		// A stable that was never scaled down, short of at most maxUnavailable pods, takes it
		// all: a pod that never gets ready must not keep a replaced (or bad) canary serving
		// forever. (With dynamicStableScale the stable is growing back: wait for its pods.)
		return 0
	}
	canTake := int32(int64(c.stableRS.Available) * int64(c.maxWeight()) / int64(c.replicas))
	return min(applied, max(c.maxWeight()-canTake, 0))
}

// routedStepDone: a setWeight step with a router is done when the canary has its pods and the
// routers applied (and, where they can tell, verified) the step's weight.
func (c *computation) routedAtTargets(canaryT, stableT int32) bool {
	n, s := c.newRS, c.stableRS
	if n.Spec != canaryT || n.Available < c.progressTarget(canaryT) {
		return false
	}
	if !c.ro.Spec.Strategy.Canary.DynamicStableScale && s != nil && s != n && (s.Spec != stableT || s.Available < stableT) {
		return false
	}
	return true
}

func (c *computation) weightApplied(w int32) bool {
	ws := c.ro.Status.Canary.Weights
	if ws == nil {
		return w == 0
	}
	if ws.Verified != nil && !*ws.Verified {
		return false
	}
	return ws.Canary.PodTemplateHash == c.in.NewHash && ws.Canary.Weight == w
}

// scaleRouted sizes ReplicaSets with a router: canary and stable straight to their targets
// (the weight follows them), old ReplicaSets down within maxUnavailable once no traffic
// reaches them, after scaleDownDelaySeconds for a replaced stable, and an aborted canary after
// abortScaleDownDelaySeconds once the traffic is back on the stable.
func (c *computation) scaleRouted(desired map[*ReplicaSet]int32, budgetDown *int32) {
	cs := c.ro.Spec.Strategy.Canary
	canaryT, stableT := c.routedTargets()
	desired[c.newRS] = canaryT
	if c.stableRS != c.newRS {
		desired[c.stableRS] = stableT
	}
	if c.st.Abort && !c.promoted() {
		c.abortedCanary(desired)
	}
	for _, rs := range []*ReplicaSet{c.newRS, c.stableRS} {
		if rs.ScaleDownDeadline != nil && (!c.st.Abort || rs != c.newRS) {
			c.plan.ClearScaleDownDeadline = appendUnique(c.plan.ClearScaleDownDeadline, rs.Name)
		}
	}

	delay := DefaultScaleDownDelay
	if d := cs.ScaleDownDelaySeconds; d != nil {
		delay = time.Duration(*d) * time.Second
	}
	if cs.DynamicStableScale {
		delay = 0
	}
	var delayed []*ReplicaSet
	for _, o := range c.others { // oldest first
		if desired[o] == 0 {
			if o.ScaleDownDeadline != nil {
				c.plan.ClearScaleDownDeadline = appendUnique(c.plan.ClearScaleDownDeadline, o.Name)
			}
			continue
		}
		if applied := c.appliedWeight(o.Hash); applied > 0 {
			// Traffic still reaches it: the routers move it first. With dynamicStableScale it
			// keeps only the pods for the weight it still has, so the stable can grow into
			// the room on a full cluster.
			if cs.DynamicStableScale {
				desired[o] = min(desired[o], c.podsFor(applied))
			}
			continue
		}
		if c.servedByService(o.Hash) {
			// A Service still selects it (the new stable had no available pod to switch to
			// yet): it serves, and its delay starts only once the Service moved away.
			if o.ScaleDownDeadline != nil {
				c.plan.ClearScaleDownDeadline = appendUnique(c.plan.ClearScaleDownDeadline, o.Name)
			}
			c.requeue(2 * time.Second) // (to start the delay once the switch is seen)
			continue
		}
		// Every replaced version still up keeps its pods for the delay after its traffic left:
		// proxies and ingress controllers keep sending to old endpoints for a while. This
		// covers a replaced stable (decided from the stable before promotion, whatever the
		// status says now) and, unlike Argo, a canary replaced mid-update, which may have been
		// a stable seconds ago.
		if delay > 0 {
			if o.ScaleDownDeadline == nil {
				c.setDeadline(o, c.in.Now.Add(delay))
				delayed = append(delayed, o)
				continue
			}
			if left := o.ScaleDownDeadline.Sub(c.in.Now); left > 0 {
				c.requeue(left)
				delayed = append(delayed, o)
				continue
			}
		}
		c.shrinkWithin(desired, o, 0, budgetDown)
	}
	if lim := cs.ScaleDownDelayRevisionLimit; lim != nil && len(delayed) > int(*lim) {
		for _, o := range delayed[:len(delayed)-int(*lim)] { // oldest beyond the limit go now
			c.shrinkWithin(desired, o, 0, budgetDown)
		}
	}
}

// abortedCanary keeps an aborted canary up until the routers moved its traffic back and the
// stable is fully available, then for abortScaleDownDelaySeconds (0 = leave it up).
func (c *computation) abortedCanary(desired map[*ReplicaSet]int32) {
	cs := c.ro.Spec.Strategy.Canary
	if cs.DynamicStableScale && cs.AbortScaleDownDelaySeconds == nil {
		return // it shrinks with the traffic (routedTargets)
	}
	if c.appliedWeight(c.in.NewHash) > 0 || c.stableRS == nil || c.stableRS.Available < c.replicas {
		desired[c.newRS] = c.newRS.Spec
		return
	}
	delay := DefaultAbortScaleDownDelay
	if d := cs.AbortScaleDownDelaySeconds; d != nil {
		if *d == 0 {
			desired[c.newRS] = c.newRS.Spec
			return
		}
		delay = time.Duration(*d) * time.Second
	}
	switch dl := c.newRS.ScaleDownDeadline; {
	case c.newRS.Spec == 0:
	case dl == nil:
		c.setDeadline(c.newRS, c.in.Now.Add(delay))
		desired[c.newRS] = c.newRS.Spec
	case dl.After(c.in.Now):
		c.requeue(dl.Sub(c.in.Now))
		desired[c.newRS] = c.newRS.Spec
	default:
		desired[c.newRS] = 0
	}
}

func (c *computation) setDeadline(rs *ReplicaSet, t time.Time) {
	if c.plan.SetScaleDownDeadline == nil {
		c.plan.SetScaleDownDeadline = map[string]time.Time{}
	}
	c.plan.SetScaleDownDeadline[rs.Name] = t
	c.requeue(t.Sub(c.in.Now))
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// managedRoutes are the header and mirror routes in force: those of the setHeaderRoute and
// setMirrorRoute steps reached so far (a later step with the same name replaces an earlier one;
// one with no match removes it). None on a first deploy, after promotion or on abort.
func (c *computation) managedRoutes() (headers []v1alpha1.SetHeaderRoute, mirrors []v1alpha1.SetMirrorRoute) {
	if !c.routed() || c.promoted() || c.st.Abort || c.in.Revision <= 1 || c.newRS.Available == 0 {
		return nil, nil // (as Argo: no managed route to a canary without available pods)
	}
	hs := map[string]v1alpha1.SetHeaderRoute{}
	ms := map[string]v1alpha1.SetMirrorRoute{}
	last := min(c.index(), c.n()-1)
	for j := int32(0); j <= last; j++ {
		s := c.steps[j]
		if h := s.SetHeaderRoute; h != nil {
			if len(h.Match) == 0 {
				delete(hs, h.Name)
			} else {
				hs[h.Name] = *h
			}
		}
		if m := s.SetMirrorRoute; m != nil {
			if len(m.Match) == 0 {
				delete(ms, m.Name)
			} else {
				ms[m.Name] = *m
			}
		}
	}
	for _, r := range c.ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes { // precedence order
		if h, ok := hs[r.Name]; ok {
			headers = append(headers, h)
		}
		if m, ok := ms[r.Name]; ok {
			mirrors = append(mirrors, m)
		}
	}
	return headers, mirrors
}

// weights is status.canary.weights for a canary weight w: what the routers are told.
func (c *computation) weights(w int32) *v1alpha1.TrafficWeights {
	cs := c.ro.Spec.Strategy.Canary
	out := &v1alpha1.TrafficWeights{
		Canary: v1alpha1.WeightDestination{Weight: w, ServiceName: cs.CanaryService, PodTemplateHash: c.plan.RouterCanaryHash},
		Stable: v1alpha1.WeightDestination{Weight: c.maxWeight() - w, ServiceName: cs.StableService, PodTemplateHash: c.st.StableRS},
	}
	for _, a := range c.plan.Additional { // (experiment destinations, taken from the stable's share)
		out.Stable.Weight -= a.Weight
		out.Additional = append(out.Additional, a)
	}
	if old := c.ro.Status.Canary.Weights; old != nil && old.Canary == out.Canary && old.Stable == out.Stable {
		out.Verified = old.Verified
	}
	return out
}
