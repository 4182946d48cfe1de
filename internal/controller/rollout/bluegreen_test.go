package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// blueGreen applies examples/bluegreen/rollout.yaml with the given strategy fields, waits for
// it to be Healthy and starts recording ReplicaSets and Services.
func blueGreen(t *testing.T, e *env, fields map[string]any) (rsS, svcS *stream) {
	t.Helper()
	objs := routertest.Load(t, "examples/bluegreen/rollout.yaml")
	for _, o := range objs {
		if o.GetKind() != "Rollout" {
			continue
		}
		for k, v := range fields {
			if err := unstructured.SetNestedField(o.Object, v, "spec", "strategy", "blueGreen", k); err != nil {
				t.Fatal(err)
			}
		}
	}
	routertest.Apply(t, e.c, e.ns, objs)
	ro := e.waitHealthy("my-app", time.Minute)
	if s := e.service("my-app-active"); s == nil || s.Spec.Selector[v1alpha1.LabelPodTemplateHash] != ro.Status.StableRS || ro.Status.BlueGreen.ActiveSelector != ro.Status.StableRS {
		t.Fatalf("first deploy: active Service %v, status %+v", s, ro.Status.BlueGreen)
	}
	return e.watch(&appsv1.ReplicaSetList{}), e.watch(&corev1.ServiceList{})
}

// activeSwitches replays the streams and returns, for each time the active Service moved,
// the hash it moved to, when, and how many pods of it were available then; it fails when an
// old ReplicaSet the active Service left lost pods sooner than delay after.
func activeSwitches(t *testing.T, replicas int32, delay func(hash string) time.Duration, streams ...*stream) []string {
	t.Helper()
	w := &replay{rs: map[string]*appsv1.ReplicaSet{}, selector: map[string]string{}, canary: -1}
	left := map[string]time.Time{}
	var out []string
	for _, ev := range timeline(streams...) {
		prev := w.selector["my-app-active"]
		w.apply(ev)
		cur := w.selector["my-app-active"]
		if cur != prev && cur != "" && ev.Type != listed {
			if got := w.available(cur); got < replicas {
				t.Fatalf("the active Service moved to %s with %d of %d pods available", cur, got, replicas)
			}
			out = append(out, cur)
			if prev != "" {
				left[prev] = ev.At
			}
		}
		if rs, ok := ev.Obj.(*appsv1.ReplicaSet); ok {
			h := rs.Labels[v1alpha1.LabelPodTemplateHash]
			if h == cur && ptr.Deref(rs.Spec.Replicas, 0) < replicas {
				t.Fatalf("the active version %s was scaled to %d", h, ptr.Deref(rs.Spec.Replicas, 0))
			}
			if at, ok := left[h]; ok && h != cur && ptr.Deref(rs.Spec.Replicas, 0) < replicas && ev.At.Sub(at) < delay(h)-time.Second {
				t.Fatalf("%s was scaled down %s after the active Service left it; its delay is %s", h, ev.At.Sub(at).Round(time.Millisecond), delay(h))
			}
		}
	}
	return out
}

// The new version comes up behind the preview Service while the active Service serves the
// old one; paused until promoted; the active Service moves only to a fully available version
// and the old one keeps its pods for scaleDownDelaySeconds; abort moves the preview back.
func TestBlueGreen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rsS, svcS := blueGreen(t, e, nil)
	old := e.rollout("my-app").Status.StableRS

	e.setImage("my-app", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		st := e.rollout("my-app").Status
		if st.Phase != v1alpha1.RolloutPhasePaused || len(st.PauseConditions) == 0 || st.PauseConditions[0].Reason != v1alpha1.PauseReasonBlueGreenPause {
			return fmt.Sprintf("waiting for BlueGreenPause: %s %q %+v", st.Phase, st.Message, st.PauseConditions)
		}
		return ""
	})
	ro := e.rollout("my-app")
	cur := ro.Status.CurrentPodHash
	if p, a := e.service("my-app-preview"), e.service("my-app-active"); p.Spec.Selector[v1alpha1.LabelPodTemplateHash] != cur || a.Spec.Selector[v1alpha1.LabelPodTemplateHash] != old ||
		ro.Status.BlueGreen.PreviewSelector != cur || ro.Status.BlueGreen.ActiveSelector != old {
		t.Fatalf("paused: preview %v active %v, status %+v", p.Spec.Selector, a.Spec.Selector, ro.Status.BlueGreen)
	}
	if ro.Status.HPAReplicas != 3 || !strings.HasSuffix(ro.Status.Selector, v1alpha1.LabelPodTemplateHash+"="+old) {
		t.Errorf("the scale subresource must read the active ReplicaSet: HPAReplicas %d selector %q", ro.Status.HPAReplicas, ro.Status.Selector)
	}

	e.statusPatch("my-app", `{"status":{"pauseConditions":null}}`) // kubectl argo rollouts promote
	e.waitHealthy("my-app", time.Minute)
	e.waitFor(time.Minute, func() string {
		if running, _ := e.pods(map[string]string{"app": "my-app"}); running[old] > 0 {
			return "old pods still running: " + counts(running)
		}
		return ""
	})
	if got := activeSwitches(t, 3, func(string) time.Duration { return 10 * time.Second }, rsS, svcS); len(got) != 1 || got[0] != cur {
		t.Fatalf("active Service moves: %v", got)
	}

	// Abort: the preview Service goes back to the active version, the new pods go after
	// abortScaleDownDelaySeconds.
	stable := cur
	e.setImage("my-app", "nginx:1.27")
	e.waitFor(time.Minute, func() string {
		if st := e.rollout("my-app").Status; st.Phase != v1alpha1.RolloutPhasePaused {
			return fmt.Sprintf("waiting for the pause: %s %q", st.Phase, st.Message)
		}
		return ""
	})
	bad := e.rollout("my-app").Status.CurrentPodHash
	e.statusPatch("my-app", `{"status":{"abort":true}}`)
	e.waitFor(time.Minute, func() string {
		st := e.rollout("my-app").Status
		running, _ := e.pods(map[string]string{"app": "my-app"})
		p := e.service("my-app-preview").Spec.Selector[v1alpha1.LabelPodTemplateHash]
		if st.Phase != v1alpha1.RolloutPhaseDegraded || p != stable || running[bad] > 0 || running[stable] != 3 {
			return fmt.Sprintf("waiting for the abort: %s %q, preview %s, pods %s", st.Phase, st.Message, p, counts(running))
		}
		return ""
	})
	if a := e.service("my-app-active").Spec.Selector[v1alpha1.LabelPodTemplateHash]; a != stable {
		t.Fatalf("the active Service moved during the abort: %s", a)
	}
}

// A failed post-promotion analysis moves the active Service back to the old version, which
// still has its pods.
func TestBlueGreenPostPromotionAnalysisFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t, "0.2")
	e.createObj(errorRateTemplate(b.srv.URL, 2, ""))
	analysis := analysisRef()
	rsS, svcS := blueGreen(t, e, map[string]any{"autoPromotionEnabled": true, "postPromotionAnalysis": analysis})
	old := e.rollout("my-app").Status.StableRS
	e.setImage("my-app", "nginx:1.26")
	e.waitFor(2*time.Minute, func() string {
		st := e.rollout("my-app").Status
		running, _ := e.pods(map[string]string{"app": "my-app"})
		if st.Phase != v1alpha1.RolloutPhaseDegraded || running[st.CurrentPodHash] > 0 {
			return fmt.Sprintf("waiting for the abort after the post-promotion analysis: %s %q pods %s", st.Phase, st.Message, counts(running))
		}
		return ""
	})
	ro := e.rollout("my-app")
	if s := ro.Status.BlueGreen.PostPromotionAnalysisRunStatus; s == nil || s.Status != v1alpha1.AnalysisPhaseFailed || !strings.Contains(ro.Status.Message, "last value 0.2") {
		t.Fatalf("post-promotion status %+v, message %q", s, ro.Status.Message)
	}
	// (the aborted version goes abortScaleDownDelaySeconds, 5 s, after the switch back)
	got := activeSwitches(t, 3, func(string) time.Duration { return 5 * time.Second }, rsS, svcS)
	if len(got) != 2 || got[0] != ro.Status.CurrentPodHash || got[1] != old {
		t.Fatalf("active Service moves %v: want to the new version, then back to %s", got, old)
	}
}
