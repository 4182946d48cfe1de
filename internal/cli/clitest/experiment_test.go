package clitest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// A canary at its experiment step, with the controller: `get rollout` shows the Experiment
// under the new revision with its ReplicaSets and pods, `get experiment` shows its templates,
// and an unknown name is an error.
func TestGetExperiment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.create("my-rollout", 2, setWeight(50), v1alpha1.CanaryStep{Experiment: &v1alpha1.RolloutExperimentStep{
		Duration: "1h",
		Templates: []v1alpha1.RolloutExperimentTemplate{
			{Name: "baseline", SpecRef: v1alpha1.StableSpecRef},
			{Name: "canary", SpecRef: v1alpha1.CanarySpecRef},
		},
	}}, setWeight(100))
	e.waitFor(time.Minute, func() string {
		if ro := e.rollout("my-rollout"); ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
			return "waiting for the first revision: " + string(ro.Status.Phase)
		}
		return ""
	})
	e.ok("set", "image", "my-rollout", "my-app=nginx:1.26")
	var name string
	e.waitFor(time.Minute, func() string {
		name = e.rollout("my-rollout").Status.Canary.CurrentExperiment
		if name == "" {
			return "no experiment yet"
		}
		if out := e.ok("get", "experiment", name); !strings.Contains(out, "Status:       ◌ Running") {
			return "experiment not running yet:\n" + out
		}
		return ""
	})
	out := e.ok("get", "experiment", name)
	for _, want := range []string{
		"Rollout:      my-rollout (step 2, revision 2)", "Duration:     1h (", "baseline ✔ Running", "canary ✔ Running",
		"Σ " + name, "├──⧉ " + name + "-baseline", "└──⧉ " + name + "-canary", "nginx:1.25", "nginx:1.26",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("get experiment lacks %q:\n%s", want, out)
		}
	}
	tree := e.ok("get", "rollout", "my-rollout")
	if !strings.Contains(tree, "└──Σ "+name) || !strings.Contains(tree, name+"-canary") {
		t.Errorf("get rollout does not show the experiment:\n%s", tree)
	}
	if _, errs, code := e.sluice("get", "experiment", "nope"); code != 1 || !strings.Contains(errs, `experiment "nope" not found`) {
		t.Errorf("get experiment nope: exit %d, %q", code, errs)
	}
	if j := e.ok("get", "exp", name, "-o", "json"); !strings.Contains(j, fmt.Sprintf(`"name": %q`, name+"-canary")) {
		t.Errorf("json lacks the canary ReplicaSet:\n%s", j)
	}
}
