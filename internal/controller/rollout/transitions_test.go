package rollout_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// world is the state of the namespace replayed from watch streams, in the order the API
// server wrote it: the local cluster has one etcd, so resourceVersions of all kinds are one
// increasing sequence.
type replay struct {
	rs       map[string]*appsv1.ReplicaSet // by pod-template hash
	selector map[string]string             // Service name → pod-template hash
	canary   int32                         // TrafficSplit weights (-1: none yet)
	stable   int32
}

func rv(s seen) int64 {
	n, _ := strconv.ParseInt(s.Obj.GetResourceVersion(), 10, 64)
	return n
}

// timeline merges streams into one sequence ordered by resourceVersion.
func timeline(streams ...*stream) []seen {
	var all []seen
	for _, s := range streams {
		all = append(all, s.all()...)
	}
	slices.SortStableFunc(all, func(a, b seen) int { return int(rv(a) - rv(b)) })
	return all
}

func (w *replay) apply(ev seen) {
	switch o := ev.Obj.(type) {
	case *appsv1.ReplicaSet:
		w.rs[o.Labels[v1alpha1.LabelPodTemplateHash]] = o
	case *corev1.Service:
		w.selector[o.Name] = o.Spec.Selector[v1alpha1.LabelPodTemplateHash]
	case *unstructured.Unstructured:
		backends, _, _ := unstructured.NestedSlice(o.Object, "spec", "backends")
		each(backends, func(b map[string]any) {
			n, err := strconv.Atoi(fmt.Sprint(b["weight"]))
			if err != nil {
				return
			}
			switch b["service"] {
			case "my-app-canary":
				w.canary = int32(n)
			case "my-app-stable":
				w.stable = int32(n)
			}
		})
	}
}

func (w *replay) available(hash string) int32 {
	if rs := w.rs[hash]; rs != nil {
		return min(rs.Status.AvailableReplicas, ptr.Deref(rs.Spec.Replicas, 0))
	}
	return 0
}

// overloaded names a version that gets a larger share of the traffic than its available
// pods are of the replicas ("" = none).
func (w *replay) overloaded(replicas int32) string {
	if w.canary < 0 {
		return ""
	}
	load := map[string]int32{}
	load[w.selector["my-app-canary"]] += w.canary
	load[w.selector["my-app-stable"]] += w.stable
	for hash, t := range load {
		if hash != "" && t*replicas > w.available(hash)*100 {
			return fmt.Sprintf("%s gets %d%% with %d of %d replicas available", hash, t, w.available(hash), replicas)
		}
	}
	return ""
}

// smiRollout applies the SMI example with the given steps and strategy fields, waits until
// it is Healthy and starts recording ReplicaSets, Services and the TrafficSplit.
func smiRollout(t *testing.T, e *env, replicas int64, steps []any, fields map[string]any) (rsS, svcS, splitS *stream) {
	t.Helper()
	objs := routertest.Load(t, "examples/smi/rollout.yaml")
	for _, o := range objs {
		if o.GetKind() != "Rollout" {
			continue
		}
		if err := unstructured.SetNestedSlice(o.Object, steps, "spec", "strategy", "canary", "steps"); err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(o.Object, replicas, "spec", "replicas"); err != nil {
			t.Fatal(err)
		}
		for k, v := range fields {
			if err := unstructured.SetNestedField(o.Object, v, "spec", "strategy", "canary", k); err != nil {
				t.Fatal(err)
			}
		}
	}
	routertest.Apply(t, e.c, e.ns, objs)
	e.waitHealthy("my-rollout", time.Minute)
	splits := &unstructured.UnstructuredList{}
	splits.SetGroupVersionKind(splitGVK.GroupVersion().WithKind("TrafficSplitList"))
	return e.watch(&appsv1.ReplicaSetList{}), e.watch(&corev1.ServiceList{}), e.watch(splits)
}

// A routed Rollout whose last step is a pause, promoted by hand: the canary gets all the
// traffic before the stable Service switches, the weight goes to 0 only after the switch, and
// the old stable keeps every pod for scaleDownDelaySeconds after the switch (checked on every
// state the API server wrote, not on samples).
func TestRoutedPromoteFromLastPauseKeepsOldStable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const delay = 8
	steps := []any{map[string]any{"setWeight": int64(20)}, map[string]any{"pause": map[string]any{}}}
	rsS, svcS, splitS := smiRollout(t, e, 5, steps, map[string]any{"scaleDownDelaySeconds": int64(delay)})
	stable := e.rollout("my-rollout").Status.StableRS

	e.setImage("my-rollout", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		st := e.rollout("my-rollout").Status
		if len(st.PauseConditions) == 0 || st.Canary.Weights == nil || st.Canary.Weights.Canary.Weight != 20 {
			return fmt.Sprintf("waiting for the last pause at 20%%: %s %q weights %+v", st.Phase, st.Message, st.Canary.Weights)
		}
		return ""
	})
	canary := e.rollout("my-rollout").Status.CurrentPodHash
	e.statusPatch("my-rollout", `{"status":{"pauseConditions":null}}`) // kubectl argo rollouts promote
	e.waitHealthy("my-rollout", time.Minute)
	e.waitFor(time.Minute, func() string {
		if running, _ := e.pods(map[string]string{"app": "my-app"}); running[stable] > 0 {
			return fmt.Sprintf("old stable pods still running: %s", counts(running))
		}
		return ""
	})

	w := &replay{rs: map[string]*appsv1.ReplicaSet{}, selector: map[string]string{}, canary: -1}
	var full, switched, shrunk *seen
	for _, ev := range timeline(rsS, svcS, splitS) {
		w.apply(ev)
		if o := w.overloaded(5); o != "" {
			t.Fatalf("at resourceVersion %d: %s", rv(ev), o)
		}
		switch {
		case full == nil && w.canary == 100:
			full = &ev
		case switched == nil && w.selector["my-app-stable"] == canary:
			switched = &ev
			if full == nil {
				t.Fatalf("the stable Service switched to %s before the canary had all the traffic (weights %d/%d)", canary, w.canary, w.stable)
			}
		case switched != nil && shrunk == nil && w.rs[stable] != nil && ptr.Deref(w.rs[stable].Spec.Replicas, 0) < 5:
			shrunk = &ev
		}
		if switched == nil && w.canary == 0 && full != nil {
			t.Fatalf("the weight went to 0 before the stable Service switched")
		}
	}
	if full == nil || switched == nil || shrunk == nil {
		t.Fatalf("incomplete: weight 100 seen %v, switch seen %v, old stable scaled down %v", full != nil, switched != nil, shrunk != nil)
	}
	// The deadline is written to the second: allow for that rounding.
	if kept := shrunk.At.Sub(switched.At); kept < (delay-1)*time.Second {
		t.Fatalf("the old stable was scaled down %s after the switch; scaleDownDelaySeconds is %ds", kept.Round(time.Millisecond), delay)
	}
	t.Logf("old stable kept %s after the switch (scaleDownDelaySeconds %d)", shrunk.At.Sub(switched.At).Round(time.Millisecond), delay)
}

// Abort at 80 % with dynamicStableScale: the stable runs 2 of 10 pods, so traffic may only go
// back to it as fast as it grows; the canary Service goes back to the stable only once no
// weight reaches it. Checked on every state the API server wrote.
func TestRoutedAbortDynamicStableScale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	steps := []any{
		map[string]any{"setWeight": int64(20)}, map[string]any{"pause": map[string]any{}},
		map[string]any{"setWeight": int64(80)}, map[string]any{"pause": map[string]any{}},
	}
	rsS, svcS, splitS := smiRollout(t, e, 10, steps, map[string]any{"dynamicStableScale": true})
	stable := e.rollout("my-rollout").Status.StableRS

	e.setImage("my-rollout", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		if st := e.rollout("my-rollout").Status; len(st.PauseConditions) == 0 || ptr.Deref(st.CurrentStepIndex, 0) != 1 {
			return fmt.Sprintf("waiting for the first pause: %s %q", st.Phase, st.Message)
		}
		return ""
	})
	e.statusPatch("my-rollout", `{"status":{"pauseConditions":null}}`)
	e.waitFor(time.Minute, func() string {
		running, _ := e.pods(map[string]string{"app": "my-app"})
		if st := e.rollout("my-rollout").Status; ptr.Deref(st.CurrentStepIndex, 0) != 3 || running[stable] != 2 {
			return fmt.Sprintf("waiting for 80%% with a stable of 2 pods: %s %q, pods %s", st.Phase, st.Message, counts(running))
		}
		return ""
	})
	canary := e.rollout("my-rollout").Status.CurrentPodHash
	abortAt := time.Now()
	e.statusPatch("my-rollout", `{"status":{"abort":true}}`)
	e.waitFor(2*time.Minute, func() string {
		running, _ := e.pods(map[string]string{"app": "my-app"})
		svc := e.service("my-app-canary")
		if running[canary] > 0 || running[stable] != 10 || svc == nil || svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] != stable {
			return fmt.Sprintf("waiting for the abort to finish: pods %s", counts(running))
		}
		return ""
	})

	w := &replay{rs: map[string]*appsv1.ReplicaSet{}, selector: map[string]string{}, canary: -1}
	states := 0
	for _, ev := range timeline(rsS, svcS, splitS) {
		w.apply(ev)
		if !ev.At.Before(abortAt) {
			states++
		}
		if o := w.overloaded(10); o != "" {
			t.Fatalf("at resourceVersion %d (%s after the abort): %s", rv(ev), ev.At.Sub(abortAt).Round(time.Millisecond), o)
		}
		if w.selector["my-app-canary"] == stable && w.canary > 0 {
			t.Fatalf("the canary Service points at the stable while the canary still has weight %d", w.canary)
		}
	}
	t.Logf("%d states after the abort, none overloaded", states)
}
