package rollout_test

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// A changed spec.minReadySeconds reaches the ReplicaSets already running, the canary and the
// stable, mid-canary, without new pods or a new ReplicaSet and without leaving the step.
func TestMinReadySecondsKeptInSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(canaryRollout(t, "mrs", 3, setWeight(20), pauseFor(""), setWeight(100)))
	e.waitHealthy("mrs", time.Minute)
	e.setImage("mrs", "nginx:1.26")
	ro := e.waitPods("mrs", 1, 3, v1alpha1.RolloutPhasePaused)
	canary, stable := ro.Status.CurrentPodHash, ro.Status.StableRS
	pods := e.watch(&corev1.PodList{})
	start := time.Now()

	e.specPatch("mrs", `{"spec":{"minReadySeconds":7}}`)
	e.waitFor(30*time.Second, func() string {
		var list appsv1.ReplicaSetList
		if err := e.c.List(t.Context(), &list, client.InNamespace(e.ns)); err != nil {
			t.Fatal(err)
		}
		got := map[string]int32{}
		for _, rs := range list.Items {
			got[rs.Labels[v1alpha1.LabelPodTemplateHash]] = rs.Spec.MinReadySeconds
		}
		if len(got) != 2 || got[canary] != 7 || got[stable] != 7 {
			return fmt.Sprintf("minReadySeconds by ReplicaSet hash: %v; want 7 on canary %s and stable %s", got, canary, stable)
		}
		return ""
	})
	ro = e.waitPods("mrs", 1, 3, v1alpha1.RolloutPhasePaused)
	if ptr.Deref(ro.Status.CurrentStepIndex, -1) != 1 || ro.Status.CurrentPodHash != canary || ro.Status.StableRS != stable {
		t.Errorf("after the change: step %v, canary %s, stable %s", ro.Status.CurrentStepIndex, ro.Status.CurrentPodHash, ro.Status.StableRS)
	}
	for _, ev := range pods.since(start) {
		if ev.Type != watch.Modified {
			t.Errorf("pod %s %s after the minReadySeconds change", ev.Obj.GetName(), ev.Type)
		}
	}
}
