package rollout_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// restartAt replaces every pod created before it, through the Eviction API (so a
// PodDisruptionBudget holds it back), one unavailable pod at a time.
func TestRestartAtEvictsPodsWithinBudgetAndPDB(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "restart-at", 3, setWeight(50), pauseFor(""), setWeight(100)))
	e.waitHealthy("restart-at", time.Minute)
	before := e.podNames()

	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "all", Namespace: e.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: new(intstr.FromInt32(3)),
			Selector:     &metav1.LabelSelector{MatchLabels: basicLabels},
		},
	}
	if err := e.c.Create(t.Context(), pdb); err != nil {
		t.Fatal(err)
	}
	at := metav1.NewTime(time.Now().Truncate(time.Second).Add(time.Second))
	podS := e.watch(&corev1.PodList{})
	e.specPatch("restart-at", fmt.Sprintf(`{"spec":{"restartAt":%q}}`, at.UTC().Format(time.RFC3339)))
	time.Sleep(4 * time.Second)
	ro := e.rollout("restart-at")
	if ro.Status.RestartedAt != nil || ro.Status.Message != "rollout is restarting" {
		t.Fatalf("with a PDB forbidding evictions: restartedAt %v, message %q", ro.Status.RestartedAt, ro.Status.Message)
	}
	for _, ev := range podS.all() { // every pod state while the PDB forbade evictions
		if ev.Type == watch.Deleted || ev.Obj.GetDeletionTimestamp() != nil || !before[ev.Obj.GetName()] {
			t.Fatalf("pods changed despite the PDB: %s %s", ev.Type, ev.Obj.GetName())
		}
	}

	if err := e.c.Delete(t.Context(), pdb); err != nil {
		t.Fatal(err)
	}
	e.waitFor(time.Minute, func() string {
		ro = e.rollout("restart-at")
		if ro.Status.RestartedAt == nil || !ro.Status.RestartedAt.Equal(&at) {
			return fmt.Sprintf("restartedAt %v", ro.Status.RestartedAt)
		}
		return ""
	})
	after := e.podNames()
	for name := range before {
		if after[name] {
			t.Errorf("pod %s created before restartAt survived", name)
		}
	}
	// Replay every pod state: never more than maxUnavailable (1 with 3 replicas) down at once.
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
			t.Fatalf("%d ready pods after %s %s: more than maxUnavailable (1 with 3 replicas) at once", n, ev.Type, pod.Name)
		}
	}
	e.waitHealthy("restart-at", time.Minute)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podNames lists the names of the Running pods of the basic example.
func (e *env) podNames() map[string]bool {
	e.t.Helper()
	var list corev1.PodList
	if err := e.c.List(e.t.Context(), &list, client.InNamespace(e.ns), client.MatchingLabels(basicLabels)); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = true
		}
	}
	return out
}
