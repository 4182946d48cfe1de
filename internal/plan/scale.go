package plan

// scale moves every ReplicaSet toward its target within maxSurge/maxUnavailable: scale-ups
// (stable first, then canary) only while the sum of sizes stays within replicas+maxSurge;
// scale-downs (old ReplicaSets first, oldest first) only while availability stays at or above
// replicas-maxUnavailable, except that pods which are not available may always go.
func (c *computation) scale() {
	c.plan.RequestedWeight = c.requestedWeight()
	c.plan.Routed = c.routed()
	c.plan.MaxWeight = c.maxWeight()
	if !c.routed() {
		c.st.Canary.Weights = nil // as Argo: no weights without a router
	}
	if c.ro.Spec.Paused && !c.promoted() {
		// A user pause holds every size, as in Argo, but not an abort's move of traffic back
		// to the stable (which only lowers the canary's weight, within what the stable can take).
		c.plan.Weight = c.appliedWeight(c.in.NewHash)
		c.plan.RouterCanaryHash = c.in.NewHash
		if c.routed() {
			if ws := c.ro.Status.Canary.Weights; ws != nil && ws.Canary.PodTemplateHash != "" {
				c.plan.RouterCanaryHash = ws.Canary.PodTemplateHash
				c.plan.Weight = ws.Canary.Weight
			}
			if c.st.Abort {
				// Growing the stable back is what lets the traffic leave the canary safely.
				if _, stableT := c.routedTargets(); c.stableRS != nil && c.stableRS != c.newRS && stableT > c.stableRS.Spec {
					c.plan.Replicas[c.stableRS.Name] = stableT
				}
				c.plan.Weight = c.trafficWeight()
			}
			c.plan.Additional = c.experimentTraffic(c.plan.Weight)
			c.st.Canary.Weights = c.weights(c.plan.Weight)
			c.plan.HeaderRoutes, c.plan.MirrorRoutes = c.managedRoutes() // held, like the sizes
		}
		return
	}
	desired := map[*ReplicaSet]int32{}
	var avail int32
	for i := range c.in.ReplicaSets {
		rs := &c.in.ReplicaSets[i]
		desired[rs] = rs.Spec
		avail += rs.Available
	}
	budgetDown := avail - (c.replicas - c.unavail)
	if canaryT, stableT := c.targets(); c.routed() {
		c.plan.Settled = c.routedAtTargets(canaryT, stableT)
	} else {
		c.plan.Settled = c.atTargets(canaryT, stableT)
	}
	if c.routed() {
		c.scaleRouted(desired, &budgetDown)
		c.plan.RouterCanaryHash = c.in.NewHash
		c.plan.Weight = c.trafficWeight()
		c.plan.Additional = c.experimentTraffic(c.plan.Weight)
		c.st.Canary.Weights = c.weights(c.plan.Weight)
		c.plan.HeaderRoutes, c.plan.MirrorRoutes = c.managedRoutes()
	} else {
		c.scaleBasic(desired, &budgetDown)
		c.plan.Weight = c.plan.RequestedWeight
	}
	for rs, n := range desired {
		if n != rs.Spec {
			c.plan.Replicas[rs.Name] = n
		}
	}
	c.pruneHistory(desired)
}

// shrinkWithin lowers rs toward `to`: pods that are not available go for free, available ones
// only while the budget (available pods above replicas-maxUnavailable) lasts.
func (c *computation) shrinkWithin(desired map[*ReplicaSet]int32, rs *ReplicaSet, to int32, budget *int32) {
	excess := desired[rs] - to
	if excess <= 0 {
		return
	}
	free := min(excess, max(rs.Spec-rs.Available, 0))
	costly := min(excess-free, max(*budget, 0))
	*budget -= costly
	c.spentDown += costly
	desired[rs] -= free + costly
}

// scaleBasic moves every ReplicaSet toward its target within maxSurge/maxUnavailable, without a
// router: scale-ups (stable first, then canary) only while the sum of sizes stays within
// replicas+maxSurge; scale-downs (old ReplicaSets first, oldest first) only while availability
// stays at or above replicas-maxUnavailable, except that pods which are not available may
// always go.
func (c *computation) scaleBasic(desired map[*ReplicaSet]int32, budgetDown *int32) {
	canaryT, stableT := c.targets()
	var total int32
	for _, n := range desired {
		total += n
	}
	type target struct {
		rs *ReplicaSet
		n  int32
	}
	ups := []target{{c.stableRS, stableT}, {c.newRS, canaryT}}
	if c.stableRS == c.newRS {
		ups = []target{{c.newRS, canaryT}}
	}
	budgetUp := c.replicas + c.surge - total
	for _, t := range ups {
		if grow := t.n - desired[t.rs]; grow > 0 && budgetUp > 0 {
			grow = min(grow, budgetUp)
			desired[t.rs] += grow
			budgetUp -= grow
		}
	}
	for _, o := range c.others {
		c.shrinkWithin(desired, o, 0, budgetDown)
	}
	if c.stableRS != c.newRS {
		if canaryT < desired[c.newRS] {
			c.shrinkWithin(desired, c.newRS, canaryT, budgetDown)
			c.shrinkWithin(desired, c.stableRS, stableT, budgetDown)
		} else {
			c.shrinkWithin(desired, c.stableRS, stableT, budgetDown)
			c.shrinkWithin(desired, c.newRS, canaryT, budgetDown)
		}
	} else {
		// Fully promoted: a lower spec.replicas (a user, an HPA) shrinks it too.
		c.shrinkWithin(desired, c.newRS, canaryT, budgetDown)
	}
}

// pruneHistory deletes old ReplicaSets that are empty, beyond revisionHistoryLimit (default 10).
func (c *computation) pruneHistory(desired map[*ReplicaSet]int32) {
	limit := 10
	if l := c.ro.Spec.RevisionHistoryLimit; l != nil {
		limit = int(max(*l, 0))
	}
	var empty []*ReplicaSet
	for _, o := range c.others {
		if o.Spec == 0 && o.Replicas == 0 && desired[o] == 0 {
			empty = append(empty, o)
		}
	}
	for i := 0; i < len(empty)-limit; i++ { // c.others is oldest first
		c.plan.DeleteReplicaSets = append(c.plan.DeleteReplicaSets, empty[i].Name)
	}
}
