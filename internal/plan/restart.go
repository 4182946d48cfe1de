package plan

import (
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// RestartRequeue is how often a pending restart is looked at while pods are being replaced.
const RestartRequeue = 5 * time.Second

// Pod is what a restart needs to know about one pod of the Rollout.
type Pod struct {
	Name      string
	Created   time.Time
	Available bool
}

// RestartPending reports whether spec.restartAt asks for pods to be replaced that has not been
// done yet (status.restartedAt is older), and the time has come.
func RestartPending(ro *v1alpha1.Rollout, now time.Time) bool {
	at := ro.Spec.RestartAt
	if at == nil || at.After(now) {
		return false
	}
	return ro.Status.RestartedAt == nil || ro.Status.RestartedAt.Before(at)
}

// restart picks pods created before spec.restartAt to evict, at most max(maxUnavailable, 1)
// unavailable at a time (pods that are not available anyway go first, at no cost), and records
// status.restartedAt once none is left. The controller evicts through the Eviction API, so
// PodDisruptionBudgets are honoured too.
func (c *computation) restart() {
	at := c.ro.Spec.RestartAt
	if at == nil {
		return
	}
	if at.After(c.in.Now) {
		c.requeue(at.Sub(c.in.Now))
		return
	}
	if !RestartPending(c.ro, c.in.Now) {
		return
	}
	var old []Pod
	for _, p := range c.in.Pods {
		if p.Created.Before(at.Time) {
			old = append(old, p)
		}
	}
	if len(old) == 0 {
		t := metav1.NewTime(at.Time)
		c.st.RestartedAt = &t
		c.event(false, "RolloutRestarted", "Restarted all pods created before %s", at.UTC().Format(time.RFC3339))
		return
	}
	slices.SortFunc(old, func(a, b Pod) int {
		if a.Available != b.Available {
			if a.Available {
				return 1
			}
			return -1
		}
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Name, b.Name))
	})
	var specTotal int32
	for _, rs := range c.in.ReplicaSets {
		specTotal += rs.Spec
	}
	batch := max(c.unavail, 1)
	unavailable := max(max(specTotal, c.replicas)-c.plan.TotalAvailable, 0)
	// One budget per pass, shared with the scale-downs. Unavailable pods cost nothing, but at
	// most a batch of them go per pass: a cache that has not seen pods become ready would
	// otherwise let every one go at once.
	budget := batch - unavailable - c.spentDown
	free := batch
	for _, p := range old {
		switch {
		case !p.Available && free > 0:
			c.plan.Evict = append(c.plan.Evict, p.Name)
			free--
		case p.Available && budget > 0:
			c.plan.Evict = append(c.plan.Evict, p.Name)
			budget--
		}
	}
	if n := len(c.plan.Evict); n > 0 {
		c.event(false, "RolloutRestarting", "Evicting %d pod(s) created before %s (%d left)", n, at.UTC().Format(time.RFC3339), len(old))
	}
	c.requeue(RestartRequeue)
}
