package rollout

import (
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// expectations remembers this controller's own writes to ReplicaSets and its evictions, so a
// pass never plans from an informer cache that has not seen them yet: a ReplicaSet still at
// the size we changed, or a pod we evicted still listed as running, would make it spend the
// maxSurge/maxUnavailable budget (or the traffic a stable can take) a second time. Such a pass
// looks again shortly instead (the write's own watch event usually comes first).
type expectations struct {
	roVersion sync.Map // Rollout UID → written: our last write to it
	rsVersion sync.Map // ReplicaSet UID → written: our last write to it
	evicted   sync.Map // pod UID → time.Time of the eviction, until seen terminating or gone
}

// evictionMemory bounds how long an eviction is waited for: a cache a minute behind is broken
// in other ways, and entries of Rollouts that finished restarting must not pile up.
const evictionMemory = time.Minute

// written is the resourceVersion a write produced, and when.
type written struct {
	rv uint64
	at time.Time
}

// writeMemory bounds how long a write is waited for: resourceVersions only grow, unless etcd is
// restored from a backup, and a Rollout must not wait forever then.
const writeMemory = time.Minute

// wroteRollout records the resourceVersion of a Rollout as our write returned it.
func (x *expectations) wroteRollout(ro *v1alpha1.Rollout) {
	if v, err := strconv.ParseUint(ro.ResourceVersion, 10, 64); err == nil {
		sweep(&x.roVersion)
		x.roVersion.Store(ro.UID, written{rv: v, at: time.Now()})
	}
}

// staleRollout reports whether the cached Rollout is older than our last write to it: planning
// from it would decide the same transitions again (and record their events twice).
func (x *expectations) staleRollout(ro *v1alpha1.Rollout) bool {
	last, ok := x.roVersion.Load(ro.UID)
	if !ok {
		return false
	}
	w := last.(written)
	v, err := strconv.ParseUint(ro.ResourceVersion, 10, 64)
	if err != nil || v >= w.rv || time.Since(w.at) > writeMemory {
		x.roVersion.Delete(ro.UID)
		return false
	}
	return true
}

// wroteRS records the resourceVersion of a ReplicaSet as our write returned it.
func (x *expectations) wroteRS(rs *appsv1.ReplicaSet) {
	if v, err := strconv.ParseUint(rs.ResourceVersion, 10, 64); err == nil {
		sweep(&x.rsVersion)
		x.rsVersion.Store(rs.UID, written{rv: v, at: time.Now()})
	}
}

// staleRS reports whether the cached ReplicaSet is older than our last write to it.
func (x *expectations) staleRS(rs *appsv1.ReplicaSet) bool {
	last, ok := x.rsVersion.Load(rs.UID)
	if !ok {
		return false
	}
	w := last.(written)
	v, err := strconv.ParseUint(rs.ResourceVersion, 10, 64)
	if err != nil || v >= w.rv || time.Since(w.at) > writeMemory {
		x.rsVersion.Delete(rs.UID) // seen (or given up): nothing to wait for any more
		return false
	}
	return true
}

func (x *expectations) evictedPod(uid types.UID, now time.Time) {
	x.evicted.Range(func(k, v any) bool {
		if now.Sub(v.(time.Time)) > evictionMemory {
			x.evicted.Delete(k)
		}
		return true
	})
	x.evicted.Store(uid, now)
}

// stalePod reports whether the cache still lists a pod we evicted as running.
func (x *expectations) stalePod(p *corev1.Pod) bool {
	at, ok := x.evicted.Load(p.UID)
	if !ok {
		return false
	}
	if p.DeletionTimestamp != nil || time.Since(at.(time.Time)) > evictionMemory {
		x.evicted.Delete(p.UID)
		return false
	}
	return true
}

// forgetPods drops evictions of pods the cache no longer lists (deleted and gone).
func (x *expectations) forgetPods(listed map[types.UID]bool) {
	x.evicted.Range(func(k, _ any) bool {
		if !listed[k.(types.UID)] {
			x.evicted.Delete(k)
		}
		return true
	})
}

// sweep drops writes older than writeMemory (of objects deleted since, or never seen again), so
// the maps do not grow with the number of objects a long-running controller ever wrote.
func sweep(m *sync.Map) {
	m.Range(func(k, v any) bool {
		if time.Since(v.(written).at) > writeMemory {
			m.Delete(k)
		}
		return true
	})
}
