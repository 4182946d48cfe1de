package plan

import (
	"math"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Split is how many canary and stable pods run at a step once it is reached, and the share of
// requests the canary gets, in percent.
type Split struct {
	Canary, Stable int32
	Share          float64
}

// Total is the number of pods running (more than replicas when a surge pod is used, or while
// a router keeps the stable ReplicaSet at full size).
func (s Split) Total() int32 { return s.Canary + s.Stable }

// StepRow is one row of a dry run of a canary update: the state the update settles in at one
// point of the steps.
type StepRow struct {
	// Index is the step index (status.currentStepIndex while this step runs); -1 for the
	// start of the update, len(steps) once it is promoted.
	Index int32
	// Step describes the step ("setWeight: 20", "pause: {duration: 20s}"), or "start" and
	// "promoted" for the first and last rows.
	Step string
	// Weight is the setWeight in force (0..100), SetWeight is true on setWeight steps.
	Weight    int32
	SetWeight bool
	// Pause is the duration of a timed pause step; Indefinite is true for a pause without
	// duration (it waits for a promote).
	Pause      time.Duration
	Indefinite bool
	// Basic is the split without a traffic router: a Service spreads requests by pod count,
	// so the canary gets its share of the pods. Routed is the split with a router: the canary
	// gets exactly the weight and its pods are sized to carry it.
	Basic, Routed Split
}

// Exact reports whether the pod ratio gives the canary exactly the requested weight.
func (r StepRow) Exact() bool { return r.Basic.Share == float64(r.Weight) }

// SimulateSteps computes, for a canary strategy with the given replica count, where the update
// settles at every step, once all pods are available: without a router (Argo's pod-ratio
// rounding, BasicCanaryCounts, with the strategy's maxSurge and maxUnavailable) and with one
// (TrafficRoutedCanaryCount, setCanaryScale, dynamicStableScale, maxTrafficWeight). The first
// row is the start of the update (all stable), the last one the promoted state.
func SimulateSteps(c *v1alpha1.CanaryStrategy, replicas int32) []StepRow {
	replicas = max(replicas, 0)
	surge, _ := Fenceposts(replicas, c.MaxSurge, c.MaxUnavailable)
	maxW := int32(100)
	var minPods int32
	if tr := c.TrafficRouting; tr != nil && tr.MaxTrafficWeight != nil && *tr.MaxTrafficWeight > 0 {
		maxW = *tr.MaxTrafficWeight
	}
	if c.MinPodsPerReplicaSet != nil {
		minPods = *c.MinPodsPerReplicaSet
	}
	n := int32(len(c.Steps))
	rows := make([]StepRow, 0, n+2)
	rows = append(rows, StepRow{
		Index: -1, Step: "start",
		Basic:  Split{Stable: replicas},
		Routed: Split{Stable: replicas},
	})
	for i := range n {
		s := &c.Steps[i]
		row := StepRow{Index: i, Step: DescribeStep(s), SetWeight: s.SetWeight != nil}
		if s.Pause != nil {
			d, timed, _ := PauseDuration(s.Pause)
			row.Pause, row.Indefinite = d, !timed
		}
		w := WeightAt(c.Steps, i, 100)
		row.Weight = w
		canary, stable := BasicCanaryCounts(replicas, w, 100, surge)
		row.Basic = Split{Canary: canary, Stable: stable, Share: SharePercent(canary, canary+stable)}
		row.Routed = routedSplit(c, replicas, i, WeightAt(c.Steps, i, maxW), maxW, minPods)
		rows = append(rows, row)
	}
	rows = append(rows, StepRow{
		Index: n, Step: "promoted", Weight: 100,
		Basic:  Split{Canary: replicas, Share: 100},
		Routed: Split{Canary: replicas, Share: 100},
	})
	return rows
}

// routedSplit is the traffic-routed canary and stable size at step i (argo-compat.md §3.5).
func routedSplit(c *v1alpha1.CanaryStrategy, replicas, i, w, maxW, minPods int32) Split {
	canary := TrafficRoutedCanaryCount(replicas, w, maxW, minPods)
	if sc := CanaryScaleAt(c.Steps, i); sc != nil {
		switch {
		case sc.Replicas != nil:
			canary = *sc.Replicas
		case sc.Weight != nil:
			canary = clampMin(int32(math.Ceil(float64(*sc.Weight)*float64(replicas)/float64(maxW))), minPods, replicas)
		}
	}
	stable := replicas
	if c.DynamicStableScale {
		stable = clampMin(int32(math.Ceil(float64(maxW-w)*float64(replicas)/float64(maxW))), minPods, replicas)
	}
	return Split{Canary: canary, Stable: stable, Share: math.Round(float64(w)*1000/float64(maxW)) / 10}
}

// ExactReplicas is the smallest replica count, up to limit, for which every setWeight step
// splits the replicas themselves exactly (replicas × weight / 100 is a whole number of pods),
// so that the pod ratio gives the canary exactly the requested weight whatever maxSurge and
// maxUnavailable are, without a router. ok is false when no count up to limit does.
func ExactReplicas(steps []v1alpha1.CanaryStep, limit int32) (replicas int32, ok bool) {
	for r := int32(1); r <= limit; r++ {
		exact := true
		for i := range steps {
			if w := steps[i].SetWeight; w != nil && (int64(r)*int64(*w))%100 != 0 {
				exact = false
				break
			}
		}
		if exact {
			return r, true
		}
	}
	return 0, false
}
