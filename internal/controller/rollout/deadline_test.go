package rollout_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// A canary whose pods never become available exceeds progressDeadlineSeconds: Degraded with
// ProgressDeadlineExceeded, and with progressDeadlineAbort the update is aborted back to stable.
func TestProgressDeadline(t *testing.T) {
	t.Parallel()
	for _, abort := range []bool{false, true} {
		e := newEnv(t)
		ro := canaryRollout(t, "deadline", 3, setWeight(20), pauseFor(""), setWeight(100))
		ro.Spec.ProgressDeadlineSeconds = new(int32(4))
		ro.Spec.ProgressDeadlineAbort = abort
		e.create(ro)
		e.waitHealthy("deadline", time.Minute)
		cur := e.rollout("deadline")
		cur.Spec.Template.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/never"}}
		cur.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
		if err := e.c.Update(t.Context(), cur); err != nil {
			t.Fatal(err)
		}
		want := v1alpha1.ReasonProgressDeadlineExceeded
		if abort {
			want = v1alpha1.ReasonRolloutAborted
		}
		e.waitFor(time.Minute, func() string {
			ro = e.rollout("deadline")
			c := condition(ro, v1alpha1.RolloutProgressing)
			if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || c == nil || c.Reason != want {
				return "phase " + string(ro.Status.Phase) + ": " + ro.Status.Message
			}
			return ""
		})
		if abort {
			if !strings.Contains(ro.Status.Message, "progress deadline exceeded") || !ro.Status.Abort {
				t.Errorf("abort by deadline: abort=%v message %q", ro.Status.Abort, ro.Status.Message)
			}
			e.waitPods("deadline", 0, 3, v1alpha1.RolloutPhaseDegraded)
		}
	}
}
