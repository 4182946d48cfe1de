package rollout

import (
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// expectations remembers this controller's own writes to Rollouts and ReplicaSets and its
// evictions, so a pass never plans from an informer cache that has not seen them yet: a
// ReplicaSet still at the size we changed, or a pod we evicted still listed as running, would
// make it spend the maxSurge/maxUnavailable budget (or the traffic a stable can take) a second
// time, and a Rollout without our last status would decide the same transitions again (and
// record their events twice). Such a pass looks again shortly instead (the write's own watch
// event usually comes first).
type expectations struct {
	rollouts    writes // Rollout UID → our last write to it
	replicaSets writes // ReplicaSet UID → our last write to it
	evicted     writes // pod UID → our eviction (rv 0), until seen terminating or gone
	// podMetadata: pod UID → our last role-metadata patch of it; podMetadataSynced: ReplicaSet
	// UID → what its pods were last seen all carrying (metadata.go).
	podMetadata, podMetadataSynced writes
}

// memory bounds how long a write is waited for: resourceVersions only grow, unless etcd is
// restored from a backup, and a cache a minute behind is broken in other ways; entries of
// objects deleted since must not pile up either.
const memory = time.Minute

// written is the resourceVersion a write produced, and when.
type written struct {
	rv uint64
	at time.Time
}

// writes maps object UIDs to our last write to them. Entries older than memory are dropped
// when seen, and all of them at most once per memory period (not on every write: the map
// holds one entry per object written lately, and writes are the hot path).
type writes struct {
	m         sync.Map
	mu        sync.Mutex
	lastSweep time.Time
}

func (w *writes) store(uid types.UID, rv uint64) {
	now := time.Now()
	w.mu.Lock()
	if now.Sub(w.lastSweep) > memory {
		w.lastSweep = now
		w.m.Range(func(k, v any) bool {
			if now.Sub(v.(written).at) > memory {
				w.m.Delete(k)
			}
			return true
		})
	}
	w.mu.Unlock()
	w.m.Store(uid, written{rv: rv, at: now})
}

// load returns our last write to uid, if it is recent.
func (w *writes) load(uid types.UID) (written, bool) {
	v, ok := w.m.Load(uid)
	if !ok {
		return written{}, false
	}
	if time.Since(v.(written).at) > memory {
		w.m.Delete(uid)
		return written{}, false
	}
	return v.(written), true
}

// wrote records the resourceVersion of an object as our write returned it.
func (w *writes) wrote(obj client.Object) {
	if v, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64); err == nil {
		w.store(obj.GetUID(), v)
	}
}

// stale reports whether the cached object is older than our last write to it (a
// resourceVersion that does not parse as a number is never called stale).
func (w *writes) stale(obj client.Object) bool {
	last, ok := w.load(obj.GetUID())
	if !ok {
		return false
	}
	v, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil || v >= last.rv {
		w.m.Delete(obj.GetUID()) // seen: nothing to wait for any more
		return false
	}
	return true
}

func (x *expectations) evictedPod(uid types.UID) { x.evicted.store(uid, 0) }

// stalePod reports whether the cache still lists a pod we evicted as running.
func (x *expectations) stalePod(p *corev1.Pod) bool {
	if _, ok := x.evicted.load(p.UID); !ok {
		return false
	}
	if p.DeletionTimestamp != nil {
		x.evicted.m.Delete(p.UID)
		return false
	}
	return true
}

// forgetPods drops evictions of pods the cache no longer lists (deleted and gone).
func (x *expectations) forgetPods(listed map[types.UID]bool) {
	x.evicted.m.Range(func(k, _ any) bool {
		if !listed[k.(types.UID)] {
			x.evicted.m.Delete(k)
		}
		return true
	})
}
