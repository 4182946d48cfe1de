package plan

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/sequences golden files")

func (w *world) snapshot() string {
	var parts []string
	for _, rs := range w.rss {
		if rs.Spec == 0 && rs.Replicas == 0 {
			continue
		}
		role := "old"
		switch rs.Hash {
		case w.ro.Status.StableRS:
			role = "stable"
		case w.hash():
			role = "canary"
		}
		parts = append(parts, fmt.Sprintf("%s %s %d/%d", role, rs.Hash, rs.Available, rs.Spec))
	}
	idx := "-"
	if i := w.ro.Status.CurrentStepIndex; i != nil {
		idx = fmt.Sprint(*i)
	}
	weights := ""
	if ws := w.ro.Status.Canary.Weights; ws != nil {
		weights = fmt.Sprintf(" | weight canary %d stable %d", ws.Canary.Weight, ws.Stable.Weight)
	}
	for _, r := range w.runs {
		weights += fmt.Sprintf(" | run %s %s", r.Name, r.Phase)
	}
	for _, e := range w.exps {
		weights += fmt.Sprintf(" | experiment %s %s", e.Name, e.Phase)
	}
	return fmt.Sprintf("step %s %s %q | %s%s", idx, w.ro.Status.Phase, w.ro.Status.Message, strings.Join(parts, ", "), weights)
}

// run reconciles until nothing changes; then time jumps to the next requeue, up to limit.
func (w *world) run(limit time.Duration) {
	w.t.Helper()
	end := w.now.Add(limit)
	last := ""
	for range 500 {
		p := w.reconcile()
		w.settle()
		snap := w.snapshot()
		if snap != last {
			w.logf("%s", snap)
			last = snap
			w.now = w.now.Add(time.Second)
			continue
		}
		if p.RequeueAfter == 0 || w.now.Add(p.RequeueAfter).After(end) {
			return
		}
		w.now = w.now.Add(p.RequeueAfter)
	}
	w.t.Fatal("no fixed point after 500 passes")
}

func (w *world) setImage(img string) {
	w.ro.Spec.Template.Spec.Containers[0].Image = img
	w.ro.Generation++
	w.logf("user: set image %s", img)
}

func (w *world) golden(name string) {
	w.t.Helper()
	path := filepath.Join("testdata", "sequences", name+".txt")
	got := w.log.String()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			w.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatalf("%v (run go test ./internal/plan -run %s -update)", err, w.t.Name())
	}
	if got != string(want) {
		w.t.Errorf("sequence differs from %s (rerun with -update to accept):\n--- got\n%s", path, got)
	}
}

func rollout(replicas int32, steps ...v1alpha1.CanaryStep) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "ro", Namespace: "default", Generation: 1},
		Spec: v1alpha1.RolloutSpec{
			Replicas: new(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "demo"}},
			Template: v1alpha1.PodTemplateSpec{
				PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: map[string]string{"app": "demo"}},
				Spec:                corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:v1"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: steps}},
		},
	}
}

func setWeight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: new(w)} }
func pause(d string) v1alpha1.CanaryStep {
	if d == "" {
		return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	}
	v := intstr.FromString(d)
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: &v}}
}

func basicSteps() []v1alpha1.CanaryStep {
	return []v1alpha1.CanaryStep{setWeight(20), pause("20s"), setWeight(100)}
}

func TestSequenceRolloutBasic(t *testing.T) {
	w := newWorld(t, rollout(3, basicSteps()...))
	w.run(time.Minute)
	w.setImage("app:v2")
	w.run(2 * time.Minute)
	w.golden("rollout-basic")
	if w.ro.Status.StableRS != w.hash() || w.ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
		t.Fatalf("not promoted: %s", w.snapshot())
	}
}

func TestSequenceMaxSurgeZero(t *testing.T) {
	ro := rollout(3, basicSteps()...)
	zero := intstr.FromInt32(0)
	ro.Spec.Strategy.Canary.MaxSurge = &zero
	w := newWorld(t, ro)
	w.readyDelay = 1
	w.run(time.Minute)
	w.setImage("app:v2")
	w.run(2 * time.Minute)
	w.golden("max-surge-zero")
}

func TestSequenceTenReplicasWeight41(t *testing.T) {
	w := newWorld(t, rollout(10, setWeight(41), pause(""), setWeight(100)))
	w.run(time.Minute)
	w.setImage("app:v2")
	w.run(time.Minute)
	if w.ro.Status.Phase != v1alpha1.RolloutPhasePaused {
		t.Fatalf("want Paused at the indefinite pause: %s", w.snapshot())
	}
	w.logf("user: promote (pauseConditions: null)")
	w.ro.Status.PauseConditions = nil
	w.run(time.Minute)
	w.golden("ten-replicas-weight-41-promote")
}

func TestSequenceAbortRetry(t *testing.T) {
	w := newWorld(t, rollout(3, basicSteps()...))
	w.run(time.Minute)
	w.setImage("app:v2")
	w.run(5 * time.Second)
	w.logf("user: abort")
	w.ro.Status.Abort = true
	w.run(time.Minute)
	if w.ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
		t.Fatalf("want Degraded after abort: %s", w.snapshot())
	}
	w.logf("user: retry")
	w.ro.Status.Abort = false
	w.run(2 * time.Minute)
	w.golden("abort-retry")
}

func TestSequenceNewTemplateMidRolloutAndRollback(t *testing.T) {
	w := newWorld(t, rollout(4, setWeight(50), pause(""), setWeight(100)))
	w.run(time.Minute)
	w.setImage("app:v2")
	w.run(time.Minute)
	w.setImage("app:v3") // supersedes the v2 canary
	w.run(time.Minute)
	w.setImage("app:v1") // back to stable: no steps
	w.run(time.Minute)
	w.golden("new-template-and-rollback")
}

func TestSequencePromoteFullAndUserPause(t *testing.T) {
	w := newWorld(t, rollout(5, setWeight(20), pause(""), setWeight(60), pause(""), setWeight(100)))
	w.run(time.Minute)
	w.setImage("app:v2")
	w.logf("user: pause (spec.paused)")
	w.ro.Spec.Paused = true
	w.run(time.Minute)
	w.logf("user: resume (spec.paused false)")
	w.ro.Spec.Paused = false
	w.run(time.Minute)
	w.logf("user: promote --full")
	w.ro.Status.PromoteFull = true
	w.run(time.Minute)
	w.golden("promote-full-user-pause")
}

func routedRollout(replicas int32, steps ...v1alpha1.CanaryStep) *v1alpha1.Rollout {
	ro := rollout(replicas, steps...)
	c := ro.Spec.Strategy.Canary
	c.CanaryService, c.StableService = "canary", "stable"
	c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}}
	return ro
}

// With a router the canary is scaled first and the weight follows; the replaced stable stays
// up for scaleDownDelaySeconds (30s) after promotion.
func TestSequenceTrafficRouted(t *testing.T) {
	w := newWorld(t, routedRollout(3, setWeight(20), pause("10s"), setWeight(60), pause("10s"), setWeight(100)))
	w.readyDelay = 1
	w.run(time.Minute)
	w.setImage("app:v2")
	w.run(3 * time.Minute)
	w.golden("traffic-routed")
	if w.ro.Status.StableRS != w.hash() || w.ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
		t.Fatalf("not promoted: %s", w.snapshot())
	}
}

// Abort with a router: traffic back to stable first, the canary scaled down 30s later.
func TestSequenceTrafficRoutedAbort(t *testing.T) {
	w := newWorld(t, routedRollout(4, setWeight(50), pause(""), setWeight(100)))
	w.run(time.Minute)
	w.setImage("app:v2")
	w.run(time.Minute)
	w.logf("user: abort")
	w.ro.Status.Abort = true
	w.run(2 * time.Minute)
	w.golden("traffic-routed-abort")
}

// rollbackWindow: a rollback to one of the last revisions skips the steps (Argo's fast-track);
// an older one goes through them.
func TestRollbackWindow(t *testing.T) {
	ro := rollout(4, setWeight(25), pause(""))
	ro.Spec.RollbackWindow = &v1alpha1.RollbackWindowSpec{Revisions: 1}
	w := newWorld(t, ro)
	w.run(time.Minute)
	promoteTo := func(img string) {
		w.setImage(img)
		w.run(time.Minute)
		w.ro.Status.PauseConditions = nil
		w.run(time.Minute)
		if !w.healthyOnCurrent() {
			t.Fatalf("%s not promoted: %s", img, w.snapshot())
		}
	}
	for _, img := range []string{"app:v2", "app:v3", "app:v4"} {
		promoteTo(img)
	}
	w.setImage("app:v3") // one revision back: within the window
	w.run(time.Minute)
	if !w.healthyOnCurrent() || !strings.Contains(w.log.String(), "Rollback within the rollbackWindow") {
		t.Fatalf("rollback to v3 within the window went through the steps: %s\n%s", w.snapshot(), w.log.String())
	}
	w.setImage("app:v1") // v2 was created between v1 and the stable v3: outside a window of 1
	w.run(time.Minute)
	if w.healthyOnCurrent() || w.ro.Status.Phase != v1alpha1.RolloutPhasePaused {
		t.Fatalf("rollback to v1, outside the window, skipped the steps: %s", w.snapshot())
	}
}
