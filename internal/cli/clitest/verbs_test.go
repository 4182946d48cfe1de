package clitest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli"
)

const (
	healthy  = v1alpha1.RolloutPhaseHealthy
	paused   = v1alpha1.RolloutPhasePaused
	degraded = v1alpha1.RolloutPhaseDegraded
)

// promote, abort, status (exit codes), retry and promote --full, with the controller reacting.
func TestPromoteAbortRetryPromoteFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.create("ppar", 4, setWeight(25), pause(""), setWeight(50), pause(""), setWeight(100))
	if out := e.ok("status", "ppar", "--timeout", "90s"); !strings.HasSuffix(out, "Healthy\n") {
		t.Fatalf("status printed %q, want it to end with Healthy", out)
	}
	if out := e.ok("set", "image", "ppar", "my-app=nginx:1.26"); out != "rollout \"ppar\" image updated\n" {
		t.Errorf("set image printed %q", out)
	}
	e.waitState("ppar", paused, 1, 1, 3)
	if _, errs, code := e.sluice("status", "ppar", "--watch=false"); code != cli.ExitTimeout ||
		errs != "Error: rollout 'ppar' is not Healthy yet: Paused - CanaryPauseStep\n" {
		t.Errorf("status --watch=false while paused: exit %d, stderr %q", code, errs)
	}

	if out := e.ok("promote", "ppar"); out != "rollout 'ppar' promoted\n" {
		t.Errorf("promote printed %q", out)
	}
	e.waitState("ppar", paused, 3, 2, 2)

	e.ok("abort", "ppar")
	s := e.waitState("ppar", degraded, 0, 0, 4)
	if !s.Abort {
		t.Errorf("abort flag not set: %s", s)
	}
	out, errs, code := e.sluice("status", "ppar", "--timeout", "30s")
	if code != cli.ExitDegraded || !strings.HasPrefix(errs, "Error: rollout 'ppar' is Degraded: RolloutAborted: ") ||
		strings.Count(errs, "\n") != 1 || !strings.HasPrefix(out, "Degraded - RolloutAborted") {
		t.Errorf("status of an aborted rollout: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	e.ok("retry", "rollout", "ppar") // Argo's spelling
	e.waitState("ppar", paused, 1, 1, 3)

	if out := e.ok("promote", "ppar", "--full"); out != "rollout 'ppar' fully promoted\n" {
		t.Errorf("promote --full printed %q", out)
	}
	e.ok("status", "ppar", "--timeout", "90s")
	if s := e.waitState("ppar", healthy, 5, 0, 4); !s.Promoted {
		t.Errorf("not promoted: %s", s)
	}
	if ro := e.rollout("ppar"); ro.Status.PromoteFull {
		t.Error("promoteFull still set after promotion")
	}
}

// pause holds the update where it is; resume goes on without skipping the setWeight step (where
// promote would skip it); a second resume ends the indefinite pause step. status times out
// with exit 3 while paused.
func TestPauseResumeAndStatusTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.create("pr", 4, setWeight(50), pause(""), setWeight(100))
	e.waitState("pr", healthy, 3, 0, 4)
	if out := e.ok("pause", "pr"); out != "rollout 'pr' paused\n" {
		t.Errorf("pause printed %q", out)
	}
	e.ok("set", "image", "pr", "*=nginx:1.26")
	s := e.waitState("pr", paused, 0, 0, 4)
	if s.Message != "manually paused" || !s.UserPaused {
		t.Fatalf("after pause + set image: %s", s)
	}
	time.Sleep(2 * time.Second) // a controller that ignored spec.paused would have scaled by now
	e.waitState("pr", paused, 0, 0, 4)

	if out := e.ok("resume", "pr"); out != "rollout 'pr' resumed\n" {
		t.Errorf("resume printed %q", out)
	}
	s = e.waitState("pr", paused, 1, 2, 2) // setWeight 50 ran (not skipped), now at the pause
	if s.UserPaused || s.PauseReasons != string(v1alpha1.PauseReasonCanaryPauseStep) {
		t.Fatalf("after resume: %s", s)
	}

	start := time.Now()
	_, errs, code := e.sluice("status", "pr", "--timeout", "2s")
	if code != cli.ExitTimeout || !strings.HasPrefix(errs, "Error: rollout 'pr' did not become Healthy within 2s (last status: Paused - CanaryPauseStep)") {
		t.Errorf("status --timeout 2s at an indefinite pause: exit %d, stderr %q", code, errs)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("status --timeout 2s took %s", took)
	}

	e.ok("resume", "pr")
	e.waitState("pr", healthy, 3, 0, 4)
}

// undo to the stable revision is an immediate rollback; undo to an older revision after a
// promotion is a normal update that reuses the old ReplicaSet.
func TestUndo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.create("undo", 3, setWeight(25), pause(""), setWeight(100))
	e.waitState("undo", healthy, 3, 0, 3)
	v1 := e.rollout("undo").Status.StableRS
	e.ok("set", "image", "undo", "my-app=nginx:1.26")
	e.waitState("undo", paused, 1, 1, 3)
	v2 := e.rollout("undo").Status.CurrentPodHash

	if out := e.ok("undo", "undo"); out != "rollout 'undo' rolled back to revision 1\n" {
		t.Errorf("undo printed %q", out)
	}
	e.waitState("undo", healthy, 3, 0, 3)
	ro := e.rollout("undo")
	if ro.Status.StableRS != v1 || ro.Spec.Template.Spec.Containers[0].Image != "nginx:1.25" {
		t.Fatalf("after undo: stable %s (want %s), image %s", ro.Status.StableRS, v1, ro.Spec.Template.Spec.Containers[0].Image)
	}
	if _, ok := ro.Spec.Template.Labels[v1alpha1.LabelPodTemplateHash]; ok {
		t.Error("undo copied the rollouts-pod-template-hash label into spec.template")
	}

	e.ok("set", "image", "undo", "my-app=nginx:1.26")
	e.waitState("undo", paused, 1, 1, 3)
	e.ok("promote", "undo", "--full")
	e.waitState("undo", healthy, 3, 0, 3)
	if got := e.rollout("undo").Status.StableRS; got != v2 {
		t.Fatalf("stable after promote --full = %s, want %s", got, v2)
	}
	e.ok("undo", "undo") // back to nginx:1.25, which is not stable now: a normal update
	e.waitState("undo", paused, 1, 1, 3)
	if ro = e.rollout("undo"); ro.Status.CurrentPodHash != v1 {
		t.Errorf("undo to the old revision: current %s, want the old ReplicaSet %s reused", ro.Status.CurrentPodHash, v1)
	}
	var rss appsv1.ReplicaSetList
	if err := e.c.List(t.Context(), &rss, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d ReplicaSets, want 2 (undo must not create new ones)", len(rss.Items))
	}
	if _, errs, code := e.sluice("undo", "undo", "--to-revision", "42"); code != 1 || !strings.Contains(errs, "has no revision 42") {
		t.Errorf("undo to a missing revision: exit %d, %q", code, errs)
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	for _, args := range [][]string{
		{"promote", "nope"}, {"abort", "nope"}, {"retry", "nope"}, {"pause", "nope"}, {"resume", "nope"},
		{"restart", "nope"}, {"set", "image", "nope", "a=b"}, {"undo", "nope"}, {"status", "nope"},
		{"get", "rollout", "nope"},
	} {
		_, errs, code := e.sluice(args...)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "Error: ") || !strings.Contains(errs, "nope") {
			t.Errorf("sluice %s: exit %d, stderr %q; want exit 1 and one line", strings.Join(args, " "), code, errs)
		}
	}
}

// restart: the controller replaces every pod created before spec.restartAt and records
// status.restartedAt.
func TestRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.create("restart", 3, setWeight(50), pause(""), setWeight(100))
	e.waitState("restart", healthy, 3, 0, 3)
	old := map[string]bool{}
	var pods corev1.PodList
	if err := e.c.List(t.Context(), &pods, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		old[p.Name] = true
	}
	// restartAt has a resolution of one second (RFC 3339, as Argo writes it): a pod created in
	// the same second is not "created before" it.
	time.Sleep(1100 * time.Millisecond)
	if out := e.ok("restart", "restart"); out != "rollout 'restart' restarts\n" {
		t.Errorf("restart printed %q", out)
	}
	e.waitFor(90*time.Second, func() string {
		ro := e.rollout("restart")
		if ro.Spec.RestartAt == nil || ro.Status.RestartedAt == nil || !ro.Status.RestartedAt.Equal(ro.Spec.RestartAt) {
			return fmt.Sprintf("restartAt %v, restartedAt %v", ro.Spec.RestartAt, ro.Status.RestartedAt)
		}
		if err := e.c.List(t.Context(), &pods, client.InNamespace(e.ns)); err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if old[p.Name] && p.DeletionTimestamp == nil {
				return "old pod still running: " + p.Name
			}
		}
		return ""
	})
	e.waitState("restart", healthy, 3, 0, 3)
}
