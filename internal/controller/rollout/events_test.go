package rollout_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// reasons lists the reasons of the events about a Rollout since t, in the order they were
// recorded, a repeated event (a series) as many times as it happened.
func (e *env) reasons(name string, since time.Time) []string {
	e.t.Helper()
	evs := slices.DeleteFunc(e.eventsAbout(name), func(ev eventsv1.Event) bool { return ev.EventTime.Time.Before(since) })
	slices.SortStableFunc(evs, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
	var out []string
	for _, ev := range evs {
		n := 1
		if ev.Series != nil {
			n = int(ev.Series.Count)
		}
		for range n {
			out = append(out, ev.Reason)
		}
	}
	return out
}

// An update, a pause, a promote: the events a notification trigger or a user reading
// `kubectl describe` keys off come once each, at Argo's moments, in the order things happen.
func TestEventsOfAnUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "events", 3, setWeight(20), pauseFor(""), setWeight(100)))
	e.waitHealthy("events", time.Minute)
	start := time.Now()
	e.setImage("events", "nginx:1.26")
	e.waitPods("events", 1, 3, v1alpha1.RolloutPhasePaused)
	e.statusPatch("events", `{"status":{"pauseConditions":null}}`)
	e.waitHealthy("events", time.Minute)
	var got []string
	e.waitFor(30*time.Second, func() string {
		got = e.reasons("events", start)
		if !slices.Contains(got, "RolloutCompleted") {
			return "waiting for RolloutCompleted: " + strings.Join(got, " ")
		}
		return ""
	})
	t.Logf("events: %s", strings.Join(got, " "))

	for reason, want := range map[string]int{
		"RolloutUpdated": 1, "NewReplicaSetCreated": 1, "RolloutNotCompleted": 1, "RolloutStepCompleted": 3,
		"RolloutPaused": 1, "RolloutResumed": 1, "RolloutCompleted": 1,
	} {
		if n := count(got, reason); n != want {
			t.Errorf("%s recorded %d times, want %d: %s", reason, n, want, strings.Join(got, " "))
		}
	}
	// In the order things happen.
	order := []string{"RolloutUpdated", "NewReplicaSetCreated", "ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused"}
	last := -1
	for _, r := range order {
		i := slices.Index(got, r)
		if i < last {
			t.Errorf("%s came before %s: %s", r, order[max(slices.Index(order, r)-1, 0)], strings.Join(got, " "))
		}
		last = i
	}
	if i, j := lastIndex(got, "RolloutResumed"), slices.Index(got, "RolloutCompleted"); i > j {
		t.Errorf("RolloutCompleted before the last RolloutResumed: %s", strings.Join(got, " "))
	}
	if got[len(got)-1] == "RolloutNotCompleted" || slices.Index(got, "RolloutNotCompleted") > slices.Index(got, "RolloutStepCompleted") {
		t.Errorf("RolloutNotCompleted should open the update: %s", strings.Join(got, " "))
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func lastIndex(s []string, v string) int {
	for i, x := range slices.Backward(s) {
		if x == v {
			return i
		}
	}
	return -1
}
