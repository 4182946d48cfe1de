package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// world simulates what the API server, the ReplicaSet controller, the pods, the Services and
// the traffic routers do between two reconcile passes, acts on each plan in the controller's
// order (grow, deadlines, Services, traffic, shrink, status), and checks the safety rules on
// every state it reaches, not on samples.
type world struct {
	t          *testing.T
	ro         *v1alpha1.Rollout
	rss        []*simRS
	now        time.Time
	start      time.Time
	log        strings.Builder
	readyDelay int
	pass       int

	// svc are the hashes the stable and canary Services select ("" = not switched yet: the
	// Service then selects every pod of the app).
	svc ServiceSelectors
	// router is what the traffic routers hold (nil until a first weight was applied).
	router *v1alpha1.TrafficWeights
	// routerFails says whether the routers fail in a pass: the controller then writes no
	// status and scales nothing down. routerLag is how many passes a new weight stays
	// unverified (ALB-style verification): nothing is scaled down meanwhile.
	routerFails func(pass int) bool
	routerLag   int
	unverified  int
	// subsets routes by pod-template hash (Istio DestinationRule subsets) instead of through
	// the Services' selectors.
	subsets bool
	// stableTrafficAt and canaryTrafficAt are when each hash last got traffic as the stable
	// or the canary destination.
	stableTrafficAt, canaryTrafficAt map[string]time.Time
	// resized: the user changed spec.replicas, so a version may briefly carry more than its
	// pods' share (as in Argo); the capacity check is off from then on.
	resized bool
	// live: the first deploy is done (before it, nothing serves and nothing is checked).
	live   bool
	podSeq int
	// overload is what overloads() found before the current pass acted.
	overload map[string]int64
	// stale: every other pass reads the ReplicaSets and pods as the pass before did (informer
	// caches lag); lastView is that earlier read.
	stale    bool
	lastView map[string]rsView
	evicted  map[string]bool // pods evicted (the controller remembers them: expectations)
	serving  map[string]bool // hashes that got traffic before the current pass acted
	analysisWorld
	experimentWorld
	bgWorld
}

type simRS struct {
	ReplicaSet
	pods []*simPod
}

// simPod is one pod: available once readyIn passes have gone by.
type simPod struct {
	name      string
	created   time.Time
	readyIn   int
	available bool
}

func newWorld(t *testing.T, ro *v1alpha1.Rollout) *world {
	t.Helper()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	return &world{
		t: t, ro: ro, now: start, start: start,
		stableTrafficAt: map[string]time.Time{}, canaryTrafficAt: map[string]time.Time{}, evicted: map[string]bool{},
	}
}

func (w *world) hash() string {
	return "h-" + strings.NewReplacer(":", "-", "/", "-").Replace(w.ro.Spec.Template.Spec.Containers[0].Image)
}

func (w *world) routed() bool {
	return w.ro.Spec.Strategy.Canary != nil && w.ro.Spec.Strategy.Canary.TrafficRouting != nil
}

func (w *world) logf(format string, args ...any) {
	fmt.Fprintf(&w.log, "[%4.0fs] ", w.now.Sub(w.start).Seconds())
	fmt.Fprintf(&w.log, format, args...)
	w.log.WriteString("\n")
}

// rsView is what a pass reads of one ReplicaSet and its pods.
type rsView struct {
	rs   ReplicaSet
	pods []Pod
}

// observe is the current state of every ReplicaSet, as a pass reads it.
func (w *world) observe() map[string]rsView {
	out := map[string]rsView{}
	for _, rs := range w.rss {
		v := rsView{rs: rs.ReplicaSet}
		for _, pod := range rs.pods {
			v.pods = append(v.pods, Pod{Name: pod.name, Created: pod.created, Available: pod.available})
		}
		out[rs.Name] = v
	}
	return out
}

func (w *world) findName(name string) *simRS {
	for _, rs := range w.rss {
		if rs.Name == name {
			return rs
		}
	}
	return nil
}

func (w *world) find(hash string) *simRS {
	for _, rs := range w.rss {
		if rs.Hash == hash {
			return rs
		}
	}
	return nil
}

// reconcile runs one pass like the controller does: ensure the new ReplicaSet, plan, act.
func (w *world) reconcile() Plan {
	w.t.Helper()
	w.pass++
	h := w.hash()
	var maxRev int64
	for _, rs := range w.rss {
		maxRev = max(maxRev, rs.Revision)
	}
	newRS := w.find(h)
	if newRS != nil && h != w.ro.Status.CurrentPodHash && newRS.Revision < maxRev {
		newRS.Revision = maxRev + 1 // current again after another version: renumbered, as the controller does
	}
	if newRS == nil {
		newRS = &simRS{ReplicaSet: ReplicaSet{Name: "ro-" + h, Hash: h, Revision: maxRev + 1, Created: w.now}}
		w.rss = append(w.rss, newRS)
	}
	in := Input{Rollout: w.ro, NewHash: h, Revision: newRS.Revision, Now: w.now, Services: w.svc, AnalysisRuns: w.analysisRuns(), Experiments: w.experiments(),
		ForeignExperiments: w.exForeign}
	view := w.observe()
	if w.stale && w.lastView != nil && w.pass%2 == 0 {
		// The informer caches lag behind this controller's own writes: this pass sees the
		// ReplicaSets' sizes and deadlines and the pods as the previous pass did (a ReplicaSet
		// created since is seen as it is). Readiness is seen as it is now: the kubelet's
		// updates reach the cache within milliseconds, our pass interval is seconds.
		for name, cur := range view {
			old, ok := w.lastView[name]
			if !ok {
				continue
			}
			old.rs.Available, old.rs.Ready, old.rs.Replicas = cur.rs.Available, cur.rs.Ready, cur.rs.Replicas
			ready := map[string]bool{}
			for _, p := range cur.pods {
				ready[p.Name] = p.Available
			}
			pods := make([]Pod, 0, len(old.pods))
			for _, p := range old.pods {
				if r, ok := ready[p.Name]; ok {
					p.Available = r
				}
				pods = append(pods, p)
			}
			old.pods = pods
			view[name] = old
		}
	}
	w.lastView = w.observe()
	for _, rs := range w.rss {
		// The controller does not plan from a cache that has not seen its own last write to a
		// ReplicaSet (its size or scale-down deadline): it looks again shortly.
		v := view[rs.Name].rs
		if v.Spec != rs.Spec || (v.ScaleDownDeadline == nil) != (rs.ScaleDownDeadline == nil) {
			w.logf("stale cache: %s not seen as last written; looking again", rs.Name)
			return Plan{RequeueAfter: time.Second}
		}
		for _, pod := range view[rs.Name].pods { // nor from one that still lists an evicted pod
			if w.evicted[pod.Name] {
				w.logf("stale cache: evicted pod %s still listed; looking again", pod.Name)
				return Plan{RequeueAfter: time.Second}
			}
		}
	}
	for _, rs := range w.rss {
		v := view[rs.Name]
		in.ReplicaSets = append(in.ReplicaSets, v.rs)
		if RestartPending(w.ro, w.now) {
			in.Pods = append(in.Pods, v.pods...)
		}
	}
	p := Compute(in)
	for name := range p.Replicas {
		// Scale writes carry the resourceVersion the pass read: on a stale view they fail, and
		// so does the pass (nothing else is written).
		if rs := w.findName(name); rs != nil && view[name].rs != rs.ReplicaSet {
			w.logf("conflict on %s: the pass read a stale ReplicaSet", name)
			return p
		}
	}
	before := map[string]ReplicaSet{}
	for _, rs := range w.rss {
		before[rs.Name] = rs.ReplicaSet
	}
	w.overload = w.overloads(w.router, nil)
	w.serving = map[string]bool{}
	for hash, t := range w.traffic(w.router) {
		w.serving[hash] = t > 0
	}
	w.act(&p)
	w.checkInvariants(p, before)
	return p
}

// act applies a plan in the controller's order; a router failure ends the pass before any
// scale-down and without a status write.
func (w *world) act(p *Plan) {
	w.actAnalysis(p)
	w.actExperiments(p)
	for _, rs := range w.rss { // 1. grow
		if n, ok := p.Replicas[rs.Name]; ok && n > rs.Spec {
			rs.Spec = n
		}
	}
	for name, t := range p.SetScaleDownDeadline { // 2. deadlines
		for _, rs := range w.rss {
			if rs.Name == name {
				rs.ScaleDownDeadline = &t
			}
		}
	}
	for _, name := range p.ClearScaleDownDeadline {
		for _, rs := range w.rss {
			if rs.Name == name {
				rs.ScaleDownDeadline = nil
			}
		}
	}
	status := p.Status
	if w.ro.Spec.Strategy.BlueGreen != nil && !p.Invalid {
		w.switchBlueGreen(p) // 3. Services (active, preview)
	}
	if w.routed() && !p.Invalid {
		w.switchService(&w.svc.Stable, p.StableServiceHash) // 3. Services
		w.switchService(&w.svc.Canary, p.CanaryServiceHash)
		if w.routerFails != nil && w.routerFails(w.pass) { // 4. traffic
			w.logf("router: failed")
			return
		}
		held := status.Canary.Weights.DeepCopy()
		if w.subsets && w.router != nil {
			// Routers update the subsets' hashes first, then the weights: that state is
			// served too, for a moment.
			mid := w.router.DeepCopy()
			mid.Canary.PodTemplateHash, mid.Stable.PodTemplateHash = held.Canary.PodTemplateHash, held.Stable.PodTemplateHash
			w.checkTraffic(mid, nil, "after the hash update, before the weight")
		}
		if w.router == nil || w.router.Canary != held.Canary || w.router.Stable != held.Stable {
			w.unverified = w.routerLag
		}
		held.Verified = nil
		w.router = held
		if w.routerLag > 0 {
			ok := w.unverified == 0
			status.Canary.Weights.Verified = &ok
			if !ok {
				w.unverified--
				w.ro.Status = status
				w.events(p)
				return
			}
		}
	}
	for _, rs := range w.rss { // 5. shrink
		if n, ok := p.Replicas[rs.Name]; ok && n < rs.Spec {
			rs.Spec = n
		}
	}
	for _, rs := range w.rss { // evictions: the ReplicaSet replaces the pod on the next settle
		rs.pods = slices.DeleteFunc(rs.pods, func(pod *simPod) bool {
			if slices.Contains(p.Evict, pod.name) {
				w.logf("evict %s", pod.name)
				w.evicted[pod.name] = true
				return true
			}
			return false
		})
	}
	w.rss = slices.DeleteFunc(w.rss, func(rs *simRS) bool { return slices.Contains(p.DeleteReplicaSets, rs.Name) })
	w.ro.Status = status // 6. status
	w.events(p)
}

func (w *world) events(p *Plan) {
	for _, e := range p.Events {
		w.logf("event %s: %s", e.Reason, e.Message)
	}
}

// switchService points a Service at a hash, only at a ReplicaSet with available pods (all of
// them available when the Service is first taken over), as the controller does.
func (w *world) switchService(sel *string, hash string) {
	if hash == "" || *sel == hash {
		return
	}
	rs := w.find(hash)
	if rs == nil || rs.Available == 0 || (*sel == "" && rs.Available < rs.Spec) {
		return
	}
	*sel = hash
}

// traffic is the share of the router's total each pod-template hash gets now.
func (w *world) traffic(router *v1alpha1.TrafficWeights) map[string]int32 {
	t := map[string]int32{}
	if router == nil {
		return t
	}
	canary, stable := w.svc.Canary, w.svc.Stable
	if w.subsets {
		canary, stable = router.Canary.PodTemplateHash, router.Stable.PodTemplateHash
	}
	t[canary] += router.Canary.Weight
	t[stable] += router.Stable.Weight
	delete(t, "") // a Service not taken over yet selects every pod of the app
	return t
}

// overloads is, per pod-template hash that gets traffic, how much more traffic it gets than its
// available pods can carry (weight × replicas − available × maxWeight; > 0 is overloaded).
// Pods are counted as the pass found them (an eviction for a restart is covered by the
// availability check), less those the pass scaled away (before: nil) .
func (w *world) overloads(router *v1alpha1.TrafficWeights, before map[string]ReplicaSet) map[string]int64 {
	if !w.routed() {
		return nil
	}
	r := int64(*w.ro.Spec.Replicas)
	maxW := int64(100)
	if tr := w.ro.Spec.Strategy.Canary.TrafficRouting; tr != nil && tr.MaxTrafficWeight != nil {
		maxW = int64(*tr.MaxTrafficWeight)
	}
	cs := w.ro.Spec.Strategy.Canary
	_, unavail := Fenceposts(int32(r), cs.MaxSurge, cs.MaxUnavailable)
	out := map[string]int64{}
	for hash, t := range w.traffic(router) {
		var avail int32
		if rs := w.find(hash); rs != nil {
			avail = rs.Available
			if b, ok := before[rs.Name]; ok {
				avail = min(rs.Spec, b.Available)
			}
			// Without dynamicStableScale a full-size version short of at most maxUnavailable
			// pods (that fail or restart) counts as full: the rollout's own tolerance.
			if !cs.DynamicStableScale && rs.Spec >= int32(r) && avail >= int32(r)-unavail {
				avail = int32(r)
			}
		}
		out[hash] = int64(t)*r - int64(avail)*maxW
		if t > 0 && avail == 0 {
			out[hash] = max(out[hash], 1) // traffic to no pod at all
		}
	}
	return out
}

// checkTraffic: scale first, then shift. A pass never leaves a version with more traffic than
// its available pods can carry (with a router, the share is the weight, not the pod ratio),
// unless it already was so before the pass (pods that failed or were restarted) and the pass
// made it no worse in all (moving traffic off a version whose pods died is progress).
func (w *world) checkTraffic(router *v1alpha1.TrafficWeights, before map[string]ReplicaSet, when string) {
	w.t.Helper()
	cs := w.ro.Spec.Strategy.Canary
	if !w.live || *w.ro.Spec.Replicas == 0 || cs.MinPodsPerReplicaSet != nil || cs.ReplicaProgressThreshold != nil {
		return
	}
	if when != "" {
		when = " (" + when + ")"
	}
	total := func(m map[string]int64) (sum int64, worst string) {
		for hash, o := range m {
			if o > 0 {
				sum += o
				worst = hash
			}
		}
		return sum, worst
	}
	after, hash := total(w.overloads(router, before))
	if was, _ := total(w.overload); after > 0 && after > was {
		w.t.Fatalf("pass %d%s: %s gets more traffic than its available pods can carry (%d over in all, was %d): %s\n%s",
			w.pass, when, hash, after, was, w.snapshot(), w.log.String())
	}
}

// checkInvariants asserts the safety rules on the state a pass left.
func (w *world) checkInvariants(p Plan, before map[string]ReplicaSet) {
	w.t.Helper()
	if w.ro.Spec.Strategy.BlueGreen != nil {
		w.checkBlueGreen(p, before)
		return
	}
	r := *w.ro.Spec.Replicas
	cs := w.ro.Spec.Strategy.Canary
	surge, unavail := Fenceposts(r, cs.MaxSurge, cs.MaxUnavailable)
	var specBefore, specAfter, availAfter, availBefore int32
	for _, rs := range w.rss {
		if rs.Spec < 0 {
			w.t.Fatalf("pass %d: negative replicas for %s", w.pass, rs.Name)
		}
		b := before[rs.Name]
		specBefore += b.Spec
		specAfter += rs.Spec
		if stable := w.find(w.ro.Status.StableRS); stable != nil && stable.Available >= r && r > 0 {
			w.live = true // the first deploy is done: from now on traffic is served
		}
		availBefore += b.Available
		if w.routed() && w.live && !w.serving[rs.Hash] {
			// With a router, scaling down pods that get no traffic takes no capacity away
			// (an aborted canary with dynamicStableScale shrinks as its traffic leaves);
			// evicting them for a restart still spends the budget.
			availAfter += rs.availableNow()
			continue
		}
		availAfter += min(rs.Spec, rs.availableNow())
	}
	if !w.routed() && specAfter > max(specBefore, r+surge) {
		w.t.Fatalf("pass %d: %d pods planned, over replicas+maxSurge %d (had %d): %s\n%s", w.pass, specAfter, r+surge, specBefore, w.snapshot(), w.log.String())
	}
	// (With a router, after a change of spec.replicas, idle pods beyond a version's share of
	// the traffic may go while the other version grows: what matters then is the traffic
	// check below.)
	// A restart evicts at least one pod at a time even with maxUnavailable 0, as Argo's does;
	// one budget per pass for scale-downs and evictions together.
	if len(p.Evict) > 0 {
		unavail = max(unavail, 1)
	}
	if availAfter < min(availBefore, r-unavail) && (!w.routed() || !w.resized) {
		w.t.Fatalf("pass %d: availability would drop to %d, below replicas-maxUnavailable %d: %s (serving before: %v, evict %v, before %+v)\n%s", w.pass, availAfter, r-unavail, w.snapshot(), w.serving, p.Evict, before, w.log.String())
	}
	maxW := int32(100)
	if tr := cs.TrafficRouting; tr != nil && tr.MaxTrafficWeight != nil {
		maxW = *tr.MaxTrafficWeight
	}
	if p.Weight < 0 || p.Weight > maxW {
		w.t.Fatalf("pass %d: weight %d", w.pass, p.Weight)
	}
	// (Clients trust the phase only at the observed generation: a failed pass writes nothing.)
	if st := w.ro.Status; st.Phase == v1alpha1.RolloutPhaseHealthy && st.ObservedGeneration == fmt.Sprint(w.ro.Generation) {
		w.live = true
		// Healthy only when true: the current version runs exactly the replicas asked for,
		// all available, and (without a router) nothing else runs.
		n := w.find(st.CurrentPodHash)
		if n == nil || n.Spec != r || n.Replicas != r || n.Available < r || st.StableRS != n.Hash {
			w.t.Fatalf("pass %d: Healthy but the current ReplicaSet is not at %d replicas, all available: %s (%+v)\n%s", w.pass, r, w.snapshot(), n, w.log.String())
		}
		for _, rs := range w.rss {
			if !w.routed() && rs != n && rs.Replicas > 0 {
				w.t.Fatalf("pass %d: Healthy while an old ReplicaSet still has pods: %s\n%s", w.pass, w.snapshot(), w.log.String())
			}
		}
	}
	if !w.routed() || r == 0 || !w.live {
		return
	}
	w.checkTraffic(w.router, before, "")
	// Replaced versions keep their pods for the scale-down delay after their last traffic:
	// proxies keep sending to old endpoints for a while.
	for _, rs := range w.rss {
		b, ok := before[rs.Name]
		if !ok || rs.Spec >= min(b.Spec, b.Available) {
			continue
		}
		isNew, isStable := rs.Hash == w.hash(), rs.Hash == w.ro.Status.StableRS
		if last, ok := w.stableTrafficAt[rs.Hash]; ok && !isNew && !isStable && !cs.DynamicStableScale &&
			w.now.Sub(last) < scaleDownDelayOf(cs) {
			w.t.Fatalf("pass %d: replaced stable %s scaled down %s after its last traffic, before scaleDownDelaySeconds: %s\n%s",
				w.pass, rs.Hash, w.now.Sub(last), w.snapshot(), w.log.String())
		}
		if last, ok := w.canaryTrafficAt[rs.Hash]; ok && isNew && w.ro.Status.Abort &&
			(!cs.DynamicStableScale || cs.AbortScaleDownDelaySeconds != nil) && w.now.Sub(last) < abortDelayOf(cs) {
			w.t.Fatalf("pass %d: aborted canary %s scaled down %s after its last traffic: %s", w.pass, rs.Hash, w.now.Sub(last), w.snapshot())
		}
	}
	if w.router != nil {
		canary, stable := w.svc.Canary, w.svc.Stable
		if w.subsets {
			canary, stable = w.router.Canary.PodTemplateHash, w.router.Stable.PodTemplateHash
		}
		if w.router.Canary.Weight > 0 {
			w.canaryTrafficAt[canary] = w.now
		}
		if w.router.Stable.Weight > 0 {
			w.stableTrafficAt[stable] = w.now
		}
	}
}

func scaleDownDelayOf(cs *v1alpha1.CanaryStrategy) time.Duration {
	if d := cs.ScaleDownDelaySeconds; d != nil {
		return time.Duration(*d) * time.Second
	}
	return DefaultScaleDownDelay
}

func abortDelayOf(cs *v1alpha1.CanaryStrategy) time.Duration {
	if d := cs.AbortScaleDownDelaySeconds; d != nil {
		return time.Duration(*d) * time.Second
	}
	return DefaultAbortScaleDownDelay
}

// availableNow counts the available pods left (after this pass's evictions).
func (rs *simRS) availableNow() int32 {
	var n int32
	for _, pod := range rs.pods {
		if pod.available {
			n++
		}
	}
	return n
}

// settle lets the ReplicaSets catch up with their spec by one pass: missing pods are created
// (available after readyDelay passes), extra ones deleted (unavailable ones first, then the
// newest), as the ReplicaSet controller does.
func (w *world) settle() {
	w.settleAnalysis()
	w.settleExperiments()
	for _, rs := range w.rss {
		for int32(len(rs.pods)) < rs.Spec {
			w.podSeq++
			rs.pods = append(rs.pods, &simPod{name: fmt.Sprintf("%s-%d", rs.Name, w.podSeq), created: w.now, readyIn: w.readyDelay})
		}
		if extra := len(rs.pods) - int(rs.Spec); extra > 0 {
			slices.SortStableFunc(rs.pods, func(a, b *simPod) int {
				if a.available != b.available {
					if a.available {
						return -1
					}
					return 1
				}
				return a.created.Compare(b.created)
			})
			rs.pods = rs.pods[:len(rs.pods)-extra]
		}
		for _, pod := range rs.pods {
			if !pod.available {
				if pod.readyIn <= 0 {
					pod.available = true
				} else {
					pod.readyIn--
				}
			}
		}
		rs.Replicas = int32(len(rs.pods))
		rs.Available = rs.availableNow()
		rs.Ready = rs.Available
	}
}
