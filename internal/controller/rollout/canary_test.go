package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller/rollout"
)

var basicLabels = map[string]string{"app": "my-app"}

// The motivating case: 3 replicas, setWeight 20, pause 20s, setWeight 100, no router.
func TestRolloutBasicMotivatingCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(load(t, "examples/rollout-basic.yaml"))
	ro := e.waitHealthy("my-rollout", time.Minute)
	v1 := ro.Status.StableRS
	if running, _ := e.pods(basicLabels); running[v1] != 3 || len(running) != 1 {
		t.Fatalf("first deploy: pods %s, want 3 of %s", counts(running), v1)
	}

	e.setImage("my-rollout", "nginx:1.26")
	var v2 string
	e.waitFor(time.Minute, func() string {
		ro = e.rollout("my-rollout")
		v2 = ro.Status.CurrentPodHash
		running, _ := e.pods(basicLabels)
		if v2 == v1 || running[v2] != 1 || running[v1] != 3 || ro.Status.Phase != v1alpha1.RolloutPhasePaused ||
			ro.Status.Message != "CanaryPauseStep" || ptr.Deref(ro.Status.CurrentStepIndex, -1) != 1 {
			return fmt.Sprintf("want 1 canary + 3 stable pods, Paused at step 1: pods %s, phase %s %q, step %v",
				counts(running), ro.Status.Phase, ro.Status.Message, ro.Status.CurrentStepIndex)
		}
		return ""
	})
	// The honest report: 1 of 4 available pods is 25 %, not 20 %.
	if got := ro.Annotations[rollout.AnnotationEffectiveWeight]; got != "25" {
		t.Errorf("effective weight annotation = %q, want 25", got)
	}
	if got := weightMetric(t, e.ns, "my-rollout"); got["requested"] != 20 || got["pods"] != 25 {
		t.Errorf("sluice_rollout_canary_weight_percent = %v, want requested 20 and pods 25", got)
	}
	if len(ro.Status.PauseConditions) != 1 || ro.Status.PauseConditions[0].Reason != v1alpha1.PauseReasonCanaryPauseStep {
		t.Errorf("pauseConditions = %+v", ro.Status.PauseConditions)
	}
	pausedAt := time.Now()
	ro = e.waitHealthy("my-rollout", time.Minute)
	if waited := time.Since(pausedAt); waited < 15*time.Second {
		t.Errorf("the 20s pause ended after %s", waited)
	}
	running, _ := e.pods(basicLabels)
	if ro.Status.StableRS != v2 || running[v2] != 3 || running[v1] != 0 {
		t.Fatalf("after promotion: stable %s, pods %s; want 3 of %s", ro.Status.StableRS, counts(running), v2)
	}
	if _, ok := ro.Annotations[rollout.AnnotationEffectiveWeight]; ok {
		t.Errorf("effective weight annotation left after promotion")
	}
}

func canaryRollout(t *testing.T, name string, replicas int32, steps ...v1alpha1.CanaryStep) *v1alpha1.Rollout {
	t.Helper()
	ro := load(t, "examples/rollout-basic.yaml")
	ro.Name = name
	ro.Spec.Replicas = new(replicas)
	ro.Spec.Strategy.Canary.Steps = steps
	return ro
}

func setWeight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: new(w)} }
func pauseFor(d string) v1alpha1.CanaryStep {
	if d == "" {
		return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	}
	v := intstr.FromString(d)
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: &v}}
}

// waitPods waits for exactly the given Running pods per revision (canary, stable).
func (e *env) waitPods(name string, canary, stable int, phase v1alpha1.RolloutPhase) *v1alpha1.Rollout {
	e.t.Helper()
	var ro *v1alpha1.Rollout
	e.waitFor(time.Minute, func() string {
		ro = e.rollout(name)
		running, _ := e.pods(basicLabels)
		c, s := running[ro.Status.CurrentPodHash], running[ro.Status.StableRS]
		if ro.Status.CurrentPodHash == ro.Status.StableRS {
			s = 0
		}
		if c != canary || s != stable || len(running) > 2 || ro.Status.Phase != phase ||
			ro.Status.ObservedGeneration != fmt.Sprint(ro.Generation) {
			return fmt.Sprintf("want %d canary + %d stable, %s: pods %s (canary %s, stable %s), phase %s %q",
				canary, stable, phase, counts(running), ro.Status.CurrentPodHash, ro.Status.StableRS, ro.Status.Phase, ro.Status.Message)
		}
		return ""
	})
	return ro
}

func TestMaxSurgeZero(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "surge0", 3, setWeight(20), pauseFor(""), setWeight(100))
	zero := intstr.FromInt32(0)
	ro.Spec.Strategy.Canary.MaxSurge = &zero
	e.create(ro)
	e.waitHealthy("surge0", time.Minute)
	e.setImage("surge0", "nginx:1.26")
	ro = e.waitPods("surge0", 1, 2, v1alpha1.RolloutPhasePaused)
	if got := ro.Annotations[rollout.AnnotationEffectiveWeight]; got != "33.3" {
		t.Errorf("effective weight %q, want 33.3", got)
	}
}

func TestTenReplicasWeight41(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "ten", 10, setWeight(41), pauseFor(""), setWeight(100)))
	e.waitHealthy("ten", time.Minute)
	e.setImage("ten", "nginx:1.26")
	ro := e.waitPods("ten", 4, 6, v1alpha1.RolloutPhasePaused)
	if got := ro.Annotations[rollout.AnnotationEffectiveWeight]; got != "40" {
		t.Errorf("effective weight %q, want 40", got)
	}
}

// Indefinite pause, promote (Argo's patch), abort (back to stable, Degraded), retry (steps
// restart), then promote --full.
func TestPausePromoteAbortRetryPromoteFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "ppar", 4, setWeight(25), pauseFor(""), setWeight(50), pauseFor(""), setWeight(100)))
	e.waitHealthy("ppar", time.Minute)
	e.setImage("ppar", "nginx:1.26")
	e.waitPods("ppar", 1, 3, v1alpha1.RolloutPhasePaused) // 4 replicas at 25 %: 1 + 3

	// kubectl argo rollouts promote: the controller paused, so clearing pauseConditions resumes.
	e.statusPatch("ppar", `{"status":{"pauseConditions":null}}`)
	ro := e.waitPods("ppar", 2, 2, v1alpha1.RolloutPhasePaused)
	if i := ptr.Deref(ro.Status.CurrentStepIndex, -1); i != 3 {
		t.Fatalf("after promote: step %d, want 3", i)
	}

	// kubectl argo rollouts abort.
	e.statusPatch("ppar", `{"status":{"abort":true}}`)
	ro = e.waitPods("ppar", 0, 4, v1alpha1.RolloutPhaseDegraded)
	if c := condition(ro, v1alpha1.RolloutProgressing); c == nil || c.Reason != v1alpha1.ReasonRolloutAborted {
		t.Fatalf("Progressing after abort: %+v", c)
	}
	if ro.Status.AbortedAt == nil || ptr.Deref(ro.Status.CurrentStepIndex, -1) != 0 {
		t.Fatalf("after abort: abortedAt %v step %v", ro.Status.AbortedAt, ro.Status.CurrentStepIndex)
	}

	// kubectl argo rollouts retry: steps start again.
	e.statusPatch("ppar", `{"status":{"abort":false}}`)
	ro = e.waitPods("ppar", 1, 3, v1alpha1.RolloutPhasePaused)
	if i := ptr.Deref(ro.Status.CurrentStepIndex, -1); i != 1 {
		t.Fatalf("after retry: step %d, want 1", i)
	}

	// kubectl argo rollouts promote --full.
	e.statusPatch("ppar", `{"status":{"promoteFull":true}}`)
	ro = e.waitHealthy("ppar", time.Minute)
	if ro.Status.PromoteFull {
		t.Error("promoteFull not cleared after promotion")
	}
	if c := condition(ro, v1alpha1.RolloutCompleted); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Completed condition: %+v", c)
	}
}

func condition(ro *v1alpha1.Rollout, t v1alpha1.RolloutConditionType) *v1alpha1.RolloutCondition {
	for i := range ro.Status.Conditions {
		if ro.Status.Conditions[i].Type == t {
			return &ro.Status.Conditions[i]
		}
	}
	return nil
}

// spec.paused holds the rollout where it is; unpausing continues.
func TestSpecPaused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "paused", 4, setWeight(50), pauseFor(""), setWeight(100)))
	e.waitHealthy("paused", time.Minute)
	e.specPatch("paused", `{"spec":{"paused":true}}`)
	rsS := e.watch(&appsv1.ReplicaSetList{})
	e.setImage("paused", "nginx:1.26")
	ro := e.waitPods("paused", 0, 4, v1alpha1.RolloutPhasePaused)
	if ro.Status.Message != "manually paused" {
		t.Fatalf("message %q, want manually paused", ro.Status.Message)
	}
	// Give a wrong controller time to scale anyway, then look at every state it wrote.
	time.Sleep(2 * time.Second)
	for _, ev := range rsS.all() {
		rs := ev.Obj.(*appsv1.ReplicaSet)
		want := int32(4)
		if rs.Labels[v1alpha1.LabelPodTemplateHash] != ro.Status.StableRS {
			want = 0
		}
		if n := ptr.Deref(rs.Spec.Replicas, 0); n != want {
			t.Fatalf("while paused, ReplicaSet %s was scaled to %d", rs.Name, n)
		}
	}
	e.specPatch("paused", `{"spec":{"paused":false}}`)
	e.waitPods("paused", 2, 2, v1alpha1.RolloutPhasePaused)
}

// A new template mid-rollout supersedes the canary; going back to the stable template is an
// immediate rollback without steps.
func TestNewTemplateMidRolloutAndRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "mid", 4, setWeight(25), pauseFor(""), setWeight(100)))
	v1 := e.waitHealthy("mid", time.Minute).Status.StableRS
	e.setImage("mid", "nginx:1.26")
	v2 := e.waitPods("mid", 1, 3, v1alpha1.RolloutPhasePaused).Status.CurrentPodHash
	e.setImage("mid", "nginx:1.27")
	ro := e.waitPods("mid", 1, 3, v1alpha1.RolloutPhasePaused)
	if v3 := ro.Status.CurrentPodHash; v3 == v2 || v3 == v1 || ro.Status.StableRS != v1 {
		t.Fatalf("superseding canary: current %s (v2 %s), stable %s (v1 %s)", v3, v2, ro.Status.StableRS, v1)
	}
	if running, _ := e.pods(basicLabels); running[v2] != 0 {
		t.Fatalf("superseded canary still has pods: %s", counts(running))
	}
	e.setImage("mid", "nginx:1.25") // the stable template
	ro = e.waitHealthy("mid", time.Minute)
	if ro.Status.StableRS != v1 || ptr.Deref(ro.Status.CurrentStepIndex, -1) != 3 {
		t.Fatalf("rollback: stable %s (want %s), step %v (want 3, steps skipped)", ro.Status.StableRS, v1, ro.Status.CurrentStepIndex)
	}
	if ro.Annotations[v1alpha1.AnnotationRevision] != "4" {
		t.Errorf("revision after rollback = %q, want 4", ro.Annotations[v1alpha1.AnnotationRevision])
	}
}

// Scaling while paused keeps the step's ratio at the new size.
func TestScaleWhilePaused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "scale", 3, setWeight(20), pauseFor(""), setWeight(100)))
	e.waitHealthy("scale", time.Minute)
	e.setImage("scale", "nginx:1.26")
	e.waitPods("scale", 1, 3, v1alpha1.RolloutPhasePaused)
	e.specPatch("scale", `{"spec":{"replicas":10}}`)
	e.waitPods("scale", 2, 8, v1alpha1.RolloutPhasePaused)
	e.waitFor(30*time.Second, func() string {
		ro := e.rollout("scale")
		if ro.Status.HPAReplicas != 10 || ro.Status.Selector != "app=my-app" {
			return fmt.Sprintf("scale subresource fields: HPAReplicas %d selector %q", ro.Status.HPAReplicas, ro.Status.Selector)
		}
		return ""
	})
}

// The controller killed mid-pause resumes with the remaining pause time and creates no
// duplicate ReplicaSet.
func TestControllerRestartMidPause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "restart", 3, setWeight(20), pauseFor("12s"), setWeight(100)))
	e.waitHealthy("restart", time.Minute)
	e.setImage("restart", "nginx:1.26")
	ro := e.waitPods("restart", 1, 3, v1alpha1.RolloutPhasePaused)
	start := ro.Status.PauseConditions[0].StartTime
	roS := e.watch(&v1alpha1.RolloutList{})
	e.stop()
	time.Sleep(6 * time.Second) // the controller is down for half the pause
	e.startController()
	e.waitHealthy("restart", time.Minute)
	// The pause keeps its start: a timer restarted by the new controller would end it 18 s
	// or more after the start. (Bounds: sluice ends a pause at least its duration after the
	// second its start is rounded to, and the next step takes a moment.)
	var ended time.Time
	for _, ev := range roS.all() {
		st := ev.Obj.(*v1alpha1.Rollout).Status
		for _, pc := range st.PauseConditions {
			if !pc.StartTime.Equal(&start) {
				t.Fatalf("the pause restarted: startTime %s, was %s", pc.StartTime, start)
			}
		}
		if ended.IsZero() && len(st.PauseConditions) == 0 && ptr.Deref(st.CurrentStepIndex, 0) >= 2 {
			ended = ev.At
		}
	}
	if took := ended.Sub(start.Time); took < 12*time.Second || took > 17*time.Second {
		t.Errorf("the 12s pause ended %s after it began, around a 6s controller outage", took.Round(time.Millisecond))
	}
	if n := e.replicaSetCount(); n != 2 {
		t.Errorf("%d ReplicaSets, want 2 (no duplicates)", n)
	}
}

// A step waits for the canary pods to be available: readiness-gated pods hold it.
func TestStepWaitsForAvailability(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "gated", 3, setWeight(20), pauseFor(""), setWeight(100))
	e.create(ro)
	e.waitHealthy("gated", time.Minute)
	// The new template carries a readiness gate nothing sets: its pods run but are not Ready.
	cur := e.rollout("gated")
	patched := cur.DeepCopy()
	patched.Spec.Template.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/warm"}}
	patched.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	if err := e.c.Update(t.Context(), patched); err != nil {
		t.Fatal(err)
	}
	e.waitFor(time.Minute, func() string {
		running, ready := e.pods(basicLabels)
		ro = e.rollout("gated")
		if running[ro.Status.CurrentPodHash] != 1 || ready[ro.Status.CurrentPodHash] != 0 {
			return "want 1 running, unready canary pod: " + counts(running)
		}
		return ""
	})
	roS := e.watch(&v1alpha1.RolloutList{})
	time.Sleep(2 * time.Second)
	for _, ev := range roS.all() { // every state written while the canary was unavailable
		if st := ev.Obj.(*v1alpha1.Rollout).Status; ptr.Deref(st.CurrentStepIndex, -1) != 0 || st.Phase != v1alpha1.RolloutPhaseProgressing {
			t.Fatalf("with the canary unavailable the rollout moved on: step %v phase %s", st.CurrentStepIndex, st.Phase)
		}
	}
	ro = e.rollout("gated")
	// Set the gate on the canary pod: the step completes and the rollout pauses at step 1.
	var pods corev1.PodList
	if err := e.c.List(t.Context(), &pods, client.InNamespace(e.ns), client.MatchingLabels{v1alpha1.LabelPodTemplateHash: ro.Status.CurrentPodHash}); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		setPodCondition(t, e, &pods.Items[i], "example.com/warm")
	}
	e.waitPods("gated", 1, 3, v1alpha1.RolloutPhasePaused)
}

func TestUnsupportedFieldsAreInvalidSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "routed", 3, setWeight(20))
	ro.Spec.Strategy.Canary.CanaryService, ro.Spec.Strategy.Canary.StableService = "c", "s"
	ro.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{
		Ambassador: &v1alpha1.AmbassadorTrafficRouting{Mappings: []string{"m"}},
	}
	e.create(ro)
	e.waitFor(30*time.Second, func() string {
		ro = e.rollout("routed")
		c := condition(ro, v1alpha1.RolloutInvalidSpec)
		if c == nil || ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
			return "no InvalidSpec yet"
		}
		if want := "trafficRouting.ambassador is not supported by sluice yet"; !strings.Contains(c.Message, want) {
			return "message: " + c.Message
		}
		return ""
	})
	if running, _ := e.pods(basicLabels); len(running) != 0 {
		t.Fatalf("an invalid Rollout got pods: %s", counts(running))
	}
}

// setPodCondition sets a readiness-gate condition to True through pods/status.
func setPodCondition(t *testing.T, e *env, pod *corev1.Pod, gate string) {
	t.Helper()
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":%q,"status":"True"}]}}`, gate)
	if err := e.c.Status().Patch(t.Context(), pod, client.RawPatch(types.StrategicMergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// weightMetric reads sluice_rollout_canary_weight_percent for one Rollout, by kind.
func weightMetric(t *testing.T, ns, name string) map[string]float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_rollout_canary_weight_percent" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["namespace"] == ns && l["name"] == name {
				out[l["kind"]] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// Argo's instance-id semantics: a controller without --instance-id leaves alone the Rollouts
// labelled for another instance.
func TestInstanceIDLabelIsRespected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := canaryRollout(t, "other-instance", 3, setWeight(20), pauseFor(""), setWeight(100))
	other.Labels = map[string]string{v1alpha1.LabelControllerInstanceID: "blue"}
	e.create(other)
	mine := canaryRollout(t, "mine", 3, setWeight(20), pauseFor(""), setWeight(100))
	mine.Spec.Selector.MatchLabels = map[string]string{"app": "mine"}
	mine.Spec.Template.Labels = map[string]string{"app": "mine"}
	e.create(mine)
	e.waitHealthy("mine", time.Minute)
	if ro := e.rollout("other-instance"); ro.Status.ObservedGeneration != "" || ro.Status.Phase != "" {
		t.Fatalf("the Rollout of instance blue was reconciled: %+v", ro.Status)
	}
	if running, _ := e.pods(basicLabels); len(running) != 0 {
		t.Fatalf("pods for the other instance's Rollout: %s", counts(running))
	}
}
