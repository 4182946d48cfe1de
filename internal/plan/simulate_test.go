package plan

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func TestSimulateStepsRolloutBasic(t *testing.T) {
	ro := rollout(3, basicSteps()...)
	rows := SimulateSteps(ro.Spec.Strategy.Canary, 3)
	got := ""
	for _, r := range rows {
		got += fmt.Sprintf("%d %s w=%d basic %d/%d %.1f routed %d/%d %.1f exact=%v\n", r.Index, r.Step, r.Weight,
			r.Basic.Canary, r.Basic.Stable, r.Basic.Share, r.Routed.Canary, r.Routed.Stable, r.Routed.Share, r.Exact())
	}
	want := `-1 start w=0 basic 0/3 0.0 routed 0/3 0.0 exact=true
0 setWeight: 20 w=20 basic 1/3 25.0 routed 1/3 20.0 exact=false
1 pause: {duration: 20s} w=20 basic 1/3 25.0 routed 1/3 20.0 exact=false
2 setWeight: 100 w=100 basic 3/0 100.0 routed 3/3 100.0 exact=true
3 promoted w=100 basic 3/0 100.0 routed 3/0 100.0 exact=true
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if rows[2].Pause != 20*time.Second || rows[2].Indefinite {
		t.Errorf("pause row: %+v", rows[2])
	}
	if r, ok := ExactReplicas(ro.Spec.Strategy.Canary.Steps, 100); !ok || r != 5 {
		t.Errorf("ExactReplicas = %d, %v; want 5", r, ok)
	}
}

func TestSimulateStepsRouted(t *testing.T) {
	ro := rollout(10, setWeight(5), v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: new(int32(4))}},
		setWeight(30), v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{MatchTrafficWeight: true}}, setWeight(50))
	c := ro.Spec.Strategy.Canary
	c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{MaxTrafficWeight: new(int32(200))}
	c.DynamicStableScale = true
	rows := SimulateSteps(c, 10)
	type cs struct {
		canary, stable int32
		share          float64
	}
	want := []cs{{0, 10, 0}, {1, 10, 2.5}, {4, 10, 2.5}, {4, 9, 15}, {2, 9, 15}, {3, 8, 25}, {10, 0, 100}}
	for i, r := range rows {
		if g := (cs{r.Routed.Canary, r.Routed.Stable, r.Routed.Share}); g != want[i] {
			t.Errorf("row %d (%s): routed %+v, want %+v", i, r.Step, g, want[i])
		}
	}
}

func TestExactReplicas(t *testing.T) {
	for _, tc := range []struct {
		weights []int32
		want    int32
		ok      bool
	}{
		{[]int32{20, 100}, 5, true},
		{[]int32{25, 50}, 4, true},
		{[]int32{10, 30, 60}, 10, true},
		{[]int32{33}, 0, false},
		{nil, 1, true},
	} {
		var steps []v1alpha1.CanaryStep
		for _, w := range tc.weights {
			steps = append(steps, setWeight(w))
		}
		if got, ok := ExactReplicas(steps, 50); got != tc.want || ok != tc.ok {
			t.Errorf("ExactReplicas(%v) = %d, %v; want %d, %v", tc.weights, got, ok, tc.want, tc.ok)
		}
	}
}

// SimulateSteps' pod-ratio rows must be where Compute really settles: run the step machine
// (the simulated world of sequence_test.go) and compare the ReplicaSet sizes at each pause.
func TestSimulateStepsMatchesCompute(t *testing.T) {
	steps := []v1alpha1.CanaryStep{setWeight(5), pause(""), setWeight(20), pause(""), setWeight(41), pause(""),
		setWeight(50), pause(""), setWeight(75), pause(""), setWeight(90), pause(""), setWeight(100)}
	zero := intstr.FromInt32(0)
	for _, surge0 := range []bool{false, true} {
		for replicas := int32(1); replicas <= 10; replicas++ {
			t.Run(fmt.Sprintf("replicas=%d,maxSurge0=%v", replicas, surge0), func(t *testing.T) {
				ro := rollout(replicas, steps...)
				if surge0 {
					ro.Spec.Strategy.Canary.MaxSurge = &zero
				}
				rows := SimulateSteps(ro.Spec.Strategy.Canary, replicas)
				w := newWorld(t, ro)
				w.run(time.Minute)
				w.setImage("app:v2")
				for i := range steps {
					if steps[i].Pause == nil {
						continue
					}
					w.run(time.Minute)
					if idx := w.ro.Status.CurrentStepIndex; idx == nil || *idx != int32(i) {
						t.Fatalf("not paused at step %d: %s", i, w.snapshot())
					}
					var canary, stable int32
					for _, rs := range w.rss {
						switch rs.Hash {
						case w.hash():
							canary = rs.Spec
						case w.ro.Status.StableRS:
							stable = rs.Spec
						}
					}
					if b := rows[i+1].Basic; b.Canary != canary || b.Stable != stable {
						t.Errorf("step %d (%s): SimulateSteps says %d/%d, Compute settled at %d/%d",
							i, rows[i+1].Step, b.Canary, b.Stable, canary, stable)
					}
					w.ro.Status.PauseConditions = nil
				}
			})
		}
	}
}
