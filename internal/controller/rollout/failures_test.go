package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
)

// These tests use the local cluster's failure and timing scenarios (docs/local-cluster.md):
// pods that crash-loop, start crashing after a while, and drain slowly (preStop).

// updateTemplate changes the Rollout's image and lets mutate change the rest of its template.
func (e *env) updateTemplate(name, image string, mutate func(*v1alpha1.PodTemplateSpec)) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if mutate != nil {
		mutate(&ro.Spec.Template)
	}
	if err := e.c.Patch(e.t.Context(), ro, patch); err != nil {
		e.t.Fatal(err)
	}
}

func annotate(key, value string) func(*v1alpha1.PodTemplateSpec) {
	return func(tpl *v1alpha1.PodTemplateSpec) {
		if tpl.Annotations == nil {
			tpl.Annotations = map[string]string{}
		}
		tpl.Annotations[key] = value
	}
}

// A new version that crash-loops (devcluster.sluice.dev/crash) never becomes available: the
// Rollout exceeds progressDeadlineSeconds and is Degraded (ProgressDeadlineExceeded), the stable
// untouched; with progressDeadlineAbort it is aborted back to the stable.
func TestCrashLoopingVersionExceedsProgressDeadline(t *testing.T) {
	t.Parallel()
	for _, abort := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort=%v", abort), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ro := canaryRollout(t, "crash", 3, setWeight(20), pauseFor(""), setWeight(100))
			ro.Spec.ProgressDeadlineSeconds = new(int32(6))
			ro.Spec.ProgressDeadlineAbort = abort
			e.create(ro)
			stable := e.waitHealthy("crash", time.Minute).Status.StableRS
			podS := e.watch(&corev1.PodList{})
			e.updateTemplate("crash", "nginx:1.26", annotate(devcluster.CrashAnnotation, ""))
			want := v1alpha1.ReasonProgressDeadlineExceeded
			if abort {
				want = v1alpha1.ReasonRolloutAborted
			}
			var canary string
			e.waitFor(time.Minute, func() string {
				ro = e.rollout("crash")
				canary = ro.Status.CurrentPodHash
				c := condition(ro, v1alpha1.RolloutProgressing)
				if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || c == nil || c.Reason != want {
					return "phase " + string(ro.Status.Phase) + ": " + ro.Status.Message
				}
				return ""
			})
			if canary == stable || !crashLooped(podS, canary) {
				t.Fatalf("the canary %s (stable %s) was never seen crash-looping", canary, stable)
			}
			if ptr.Deref(ro.Status.CurrentStepIndex, -1) != 0 {
				t.Errorf("step %v, want 0 (setWeight 20 never completes)", ro.Status.CurrentStepIndex)
			}
			if !abort {
				// Degraded, not aborted: the crashing canary stays, the stable keeps every pod.
				running, ready := e.pods(basicLabels)
				if running[canary] != 1 || ready[canary] != 0 || ready[stable] != 3 || ro.Status.Abort {
					t.Errorf("pods %s ready %s abort %v; want 1 crashing canary and 3 ready stable", counts(running), counts(ready), ro.Status.Abort)
				}
				return
			}
			if !strings.Contains(ro.Status.Message, "progress deadline exceeded") || !ro.Status.Abort {
				t.Errorf("abort by deadline: abort=%v message %q", ro.Status.Abort, ro.Status.Message)
			}
			e.waitPods("crash", 0, 3, v1alpha1.RolloutPhaseDegraded)
		})
	}
}

// A version that starts crashing 3 s after it started (crash "after=3s"), behind SMI: its
// first pod is Ready, gets 20 % of the traffic and completes step 0; then it crash-loops
// during the 6 s pause (a paused Rollout has no progress deadline, as in Argo). At setWeight 60
// the new canary pods are Ready for 3 s only, never all 3 at once, so the step never
// completes; the planner takes the weight away from a canary without available pods, and
// progressDeadlineAbort aborts the update: the canary keeps its pods for
// abortScaleDownDelaySeconds after its traffic left, and the stable ends with every pod.
func TestRoutedVersionCrashingAfterFirstStepAborts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const delay = 8
	steps := []any{
		map[string]any{"setWeight": int64(20)}, map[string]any{"pause": map[string]any{"duration": "6s"}},
		map[string]any{"setWeight": int64(60)}, map[string]any{"pause": map[string]any{}},
	}
	rsS, svcS, splitS := smiRollout(t, e, 5, steps, map[string]any{"abortScaleDownDelaySeconds": int64(delay)})
	podS := e.watch(&corev1.PodList{})
	e.specPatch("my-rollout", `{"spec":{"progressDeadlineSeconds":5,"progressDeadlineAbort":true}}`)
	stable := e.rollout("my-rollout").Status.StableRS

	e.updateTemplate("my-rollout", "nginx:1.26", annotate(devcluster.CrashAnnotation, "after=3s"))
	e.waitFor(time.Minute, func() string {
		if st := e.rollout("my-rollout").Status; st.Canary.Weights == nil || st.Canary.Weights.Canary.Weight != 20 {
			return fmt.Sprintf("waiting for 20%% to the canary: %s %q", st.Phase, st.Message)
		}
		return ""
	})
	canary := e.rollout("my-rollout").Status.CurrentPodHash
	var ro *v1alpha1.Rollout
	e.waitFor(2*time.Minute, func() string {
		ro = e.rollout("my-rollout")
		running, _ := e.pods(map[string]string{"app": "my-app"})
		if !ro.Status.Abort || running[canary] > 0 || running[stable] != 5 {
			return fmt.Sprintf("waiting for the abort to finish: abort %v %s %q, pods %s", ro.Status.Abort, ro.Status.Phase, ro.Status.Message, counts(running))
		}
		return ""
	})
	if !strings.Contains(ro.Status.Message, "progress deadline exceeded") {
		t.Errorf("aborted with message %q, want the progress deadline", ro.Status.Message)
	}
	if !crashLooped(podS, canary) {
		t.Errorf("the canary %s was never seen crash-looping", canary)
	}

	// Replay: the controller never gives a version more traffic than its available pods carry;
	// when the canary's pods crash under their weight (not the controller's doing) the weight
	// is taken away within 2 s. The canary keeps its pods for the delay after its weight went
	// to 0 for the last time.
	w := &replay{rs: map[string]*appsv1.ReplicaSet{}, selector: map[string]string{}, canary: -1}
	var left, shrunk *seen
	var crashed *seen
	for _, ev := range timeline(rsS, svcS, splitS) {
		had := w.canary
		w.apply(ev)
		switch o := w.overloaded(5); {
		case o == "":
			if crashed != nil {
				t.Logf("the weight left the crashed canary %s after its pods crashed", ev.At.Sub(crashed.At).Round(time.Millisecond))
			}
			crashed = nil
		case crashed == nil && isReplicaSet(ev.Obj):
			crashed = &ev // pods crashed under their weight
		case crashed == nil:
			t.Fatalf("at resourceVersion %d the controller wrote %T %s: %s", rv(ev), ev.Obj, ev.Obj.GetName(), o)
		case ev.At.Sub(crashed.At) > 2*time.Second:
			t.Fatalf("at resourceVersion %d, %s after the canary's pods crashed: %s", rv(ev), ev.At.Sub(crashed.At).Round(time.Millisecond), o)
		}
		if had > 0 && w.canary == 0 {
			left, shrunk = &ev, nil
		}
		if rs := w.rs[canary]; shrunk == nil && left != nil && rs != nil && ptr.Deref(rs.Spec.Replicas, 0) == 0 {
			shrunk = &ev
		}
		if w.canary > 0 && w.rs[canary] != nil && ptr.Deref(w.rs[canary].Spec.Replicas, 0) == 0 {
			t.Fatalf("the canary scaled to 0 while it has weight %d", w.canary)
		}
	}
	if left == nil || shrunk == nil {
		t.Fatalf("incomplete: weight left the canary %v, canary scaled down %v", left != nil, shrunk != nil)
	}
	kept := shrunk.At.Sub(left.At)
	t.Logf("canary kept %s after its traffic left (abortScaleDownDelaySeconds %d)", kept.Round(time.Millisecond), delay)
	if kept < (delay-1)*time.Second {
		t.Fatalf("the canary was scaled down %s after its traffic left; abortScaleDownDelaySeconds is %d", kept.Round(time.Millisecond), delay)
	}
}

func isReplicaSet(o client.Object) bool { _, ok := o.(*appsv1.ReplicaSet); return ok }

// crashLooped says whether a pod of the hash was seen with a restart.
func crashLooped(podS *stream, hash string) bool {
	for _, ev := range podS.all() {
		pod := ev.Obj.(*corev1.Pod)
		if pod.Labels[v1alpha1.LabelPodTemplateHash] == hash && len(pod.Status.ContainerStatuses) > 0 &&
			pod.Status.ContainerStatuses[0].RestartCount > 0 {
			return true
		}
	}
	return false
}

// slowDrain gives the pod template a preStop hook of `sleep n` (a slow drain).
func slowDrain(n int) func(*v1alpha1.PodTemplateSpec) {
	return func(tpl *v1alpha1.PodTemplateSpec) {
		tpl.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Exec: &corev1.ExecAction{Command: []string{"sh", "-c", fmt.Sprintf("sleep %d", n)}}}}
	}
}

// terminatingFor is, per pod, how long it was seen listed with a deletionTimestamp.
func terminatingFor(evs []seen) map[string]time.Duration {
	since, out := map[string]time.Time{}, map[string]time.Duration{}
	for _, ev := range evs {
		name := ev.Obj.GetName()
		if _, ok := since[name]; !ok && ev.Obj.GetDeletionTimestamp() != nil && ev.Type != watch.Deleted {
			since[name] = ev.At
		}
		if ev.Type == watch.Deleted {
			if s, ok := since[name]; ok {
				out[name] = ev.At.Sub(s)
			}
		}
	}
	return out
}

// restartAt with pods that drain for 3 s (preStop) and a PodDisruptionBudget allowing one
// disruption: on every pod state the API server wrote, at least 2 of 3 pods are ready and
// not terminating (maxUnavailable 1), although each evicted pod stays Terminating for 3 s.
func TestRestartAtWithSlowDrainAndPDB(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "drain", 3, setWeight(50), pauseFor(""), setWeight(100))
	slowDrain(3)(&ro.Spec.Template)
	e.create(ro)
	e.waitHealthy("drain", time.Minute)
	before := e.podNames()
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "two", Namespace: e.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: new(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: basicLabels},
		},
	}
	if err := e.c.Create(t.Context(), pdb); err != nil {
		t.Fatal(err)
	}
	podS := e.watch(&corev1.PodList{})
	at := metav1.NewTime(time.Now().Truncate(time.Second).Add(time.Second))
	start := time.Now()
	e.specPatch("drain", fmt.Sprintf(`{"spec":{"restartAt":%q}}`, at.UTC().Format(time.RFC3339)))
	e.waitFor(2*time.Minute, func() string {
		ro = e.rollout("drain")
		if ro.Status.RestartedAt == nil || !ro.Status.RestartedAt.Equal(&at) {
			return fmt.Sprintf("restartedAt %v, %q", ro.Status.RestartedAt, ro.Status.Message)
		}
		return ""
	})
	e.waitHealthy("drain", time.Minute)
	e.waitFor(30*time.Second, func() string {
		if d := terminatingFor(podS.all()); len(d) < 3 {
			return fmt.Sprintf("%d old pods gone", len(d))
		}
		return ""
	})
	t.Logf("restart of 3 pods with a 3 s drain took %s", time.Since(start).Round(time.Millisecond))
	for name := range before {
		if e.podNames()[name] {
			t.Errorf("pod %s created before restartAt survived", name)
		}
	}
	ready := map[string]bool{}
	for _, ev := range podS.all() {
		pod := ev.Obj.(*corev1.Pod)
		ready[pod.Name] = ev.Type != watch.Deleted && pod.DeletionTimestamp == nil && podReady(pod)
		n := 0
		for _, r := range ready {
			if r {
				n++
			}
		}
		if n < 2 && ev.Type != listed {
			t.Fatalf("%d ready pods after %s %s: more than maxUnavailable (1 of 3) down at once", n, ev.Type, pod.Name)
		}
	}
	for name, d := range terminatingFor(podS.all()) {
		if d < 2500*time.Millisecond {
			t.Errorf("pod %s was Terminating for %s, want its 3 s preStop", name, d.Round(time.Millisecond))
		}
	}
}

// Scaling spec.replicas during an update, while replaced pods are still Terminating (a 5 s
// preStop): terminating pods are not counted, the sizes follow the new replicas at once and
// the update completes at the new size.
func TestScaleDuringUpdateWithTerminatingPods(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "scale", 4, setWeight(50), pauseFor(""), setWeight(100))
	slowDrain(5)(&ro.Spec.Template)
	e.create(ro)
	e.waitHealthy("scale", time.Minute)
	terminating := func() int {
		var list corev1.PodList
		if err := e.c.List(t.Context(), &list, client.InNamespace(e.ns), client.MatchingLabels(basicLabels)); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				n++
			}
		}
		return n
	}

	e.setImage("scale", "nginx:1.26")
	e.waitPods("scale", 2, 2, v1alpha1.RolloutPhasePaused) // 50 % of 4; 2 old pods draining
	if n := terminating(); n == 0 {
		t.Fatal("no stable pod is Terminating right after the step: the slow drain is not played")
	}
	e.specPatch("scale", `{"spec":{"replicas":6}}`)
	e.waitPods("scale", 3, 3, v1alpha1.RolloutPhasePaused)
	e.specPatch("scale", `{"spec":{"replicas":2}}`)
	e.waitPods("scale", 1, 1, v1alpha1.RolloutPhasePaused)
	if n := terminating(); n == 0 {
		t.Error("no pod Terminating right after scaling down to 2")
	}
	e.statusPatch("scale", `{"status":{"pauseConditions":null}}`)
	ro = e.waitHealthy("scale", time.Minute)
	e.waitFor(30*time.Second, func() string {
		if running, _ := e.pods(basicLabels); running[ro.Status.StableRS] != 2 || len(running) != 1 {
			return "pods " + counts(running)
		}
		return ""
	})
}
