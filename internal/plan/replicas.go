package plan

import (
	"math"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded down) against replicas,
// with Argo's defaults of 25% each. When both resolve to 0, maxUnavailable becomes 1 so a
// rollout can always make progress; maxUnavailable never exceeds replicas.
func Fenceposts(replicas int32, maxSurge, maxUnavailable *intstr.IntOrString) (surge, unavailable int32) {
	def := intstr.FromString("25%")
	if maxSurge == nil {
		maxSurge = &def
	}
	if maxUnavailable == nil {
		maxUnavailable = &def
	}
	s, err := intstr.GetScaledValueFromIntOrPercent(maxSurge, int(replicas), true)
	if err != nil || s < 0 {
		s = 0
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, int(replicas), false)
	if err != nil || u < 0 {
		u = 0
	}
	if s == 0 && u == 0 {
		u = 1
	}
	if u > int(replicas) {
		u = int(replicas)
	}
	return int32(s), int32(u)
}

// BasicCanaryCounts maps a requested weight to canary and stable pod counts without a traffic
// router, following Argo's rounding: among the candidate splits of replicas (or replicas+1 pods
// when maxSurge allows a surge pod) it picks the one whose canary share is closest to the
// weight, preferring earlier candidates on ties (ceiling before floor, replicas before
// replicas+1). Unlike Argo, when 0 < weight < maxWeight and replicas > 1, both sides always
// get at least one pod: with maxSurge 0 Argo can fall back to 0 canary pods and complete the
// step anyway (argo-compat.md §3.3, "edge case").
func BasicCanaryCounts(replicas, weight, maxWeight, surge int32) (canary, stable int32) {
	if replicas <= 0 {
		return 0, 0
	}
	if weight <= 0 {
		return 0, replicas
	}
	if weight >= maxWeight {
		return replicas, 0
	}
	r, w, m := float64(replicas), float64(weight), float64(maxWeight)
	exact := r * w / m
	ceil, floor := int32(math.Ceil(exact)), int32(math.Floor(exact))
	tied := exact-float64(floor) == 0.5
	zeroOK := replicas == 1 && surge == 0
	type cand struct{ canary, total int32 }
	var cands []cand
	if ceil < replicas || zeroOK {
		cands = append(cands, cand{ceil, replicas})
	}
	if !tied && (floor != 0 || zeroOK) {
		cands = append(cands, cand{floor, replicas})
	}
	if surge > 0 {
		exact1 := (r + 1) * w / m
		f1 := math.Floor(exact1)
		cands = append(cands, cand{ceil, replicas + 1})
		if exact1-f1 != 0.5 {
			cands = append(cands, cand{floor, replicas + 1})
		}
	}
	best, bestDiff := cand{-1, 0}, math.MaxFloat64
	for _, c := range cands {
		if c.canary == 0 && !zeroOK {
			continue
		}
		if c.total-c.canary == 0 && !zeroOK {
			continue
		}
		d := math.Abs(float64(c.canary)*m/float64(c.total) - w)
		if d < bestDiff {
			best, bestDiff = c, d
		}
	}
	if best.canary < 0 {
		// Nothing fits without emptying one side: take the nearest split of replicas that
		// keeps at least one pod on each side (Argo would run 0 canary pods here).
		c := int32(math.Round(exact))
		c = max(1, min(c, replicas-1))
		if replicas == 1 {
			return 0, 1
		}
		return c, replicas - c
	}
	return best.canary, best.total - best.canary
}

// TrafficRoutedCanaryCount is the canary size for a router-weighted step: ceil(weight ×
// replicas / maxWeight), raised to minPods when non-zero, capped at replicas.
func TrafficRoutedCanaryCount(replicas, weight, maxWeight, minPods int32) int32 {
	if weight <= 0 || replicas <= 0 {
		return 0
	}
	c := int32(math.Ceil(float64(weight) * float64(replicas) / float64(maxWeight)))
	return clampMin(c, minPods, replicas)
}

// clampMin raises a non-zero count to minPods, and caps it at replicas.
func clampMin(c, minPods, replicas int32) int32 {
	if c > 0 && c < minPods {
		c = minPods
	}
	return min(c, replicas)
}

// SharePercent is part's share of total in percent, rounded to one decimal (0 when total is 0).
func SharePercent(part, total int32) float64 {
	if total <= 0 {
		return 0
	}
	return math.Round(float64(part)*1000/float64(total)) / 10
}
