package clitest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/cli/view"
	"github.com/sluicehq/sluice/internal/controller/rollout"
)

// The tree and the list of rollout-basic paused at step 1: 1 canary pod next to 3 stable ones
// is 25 % of requests for a requested 20 %. With SLUICE_CLI_CAPTURE=FILE the tree is written
// to FILE (the capture in docs/cli.md).
func TestGetAndListMidRollout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	ro := loadBasic(t)
	ro.Namespace = e.ns
	if err := e.c.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	e.waitState("my-rollout", healthy, 3, 0, 3)
	e.ok("set", "image", "my-rollout", "my-app=nginx:1.26")
	e.waitState("my-rollout", paused, 1, 1, 3)

	tree := e.ok("get", "rollout", "my-rollout")
	for _, want := range []string{
		"Status:          ॥ Paused\n", "  Step:          1/3\n", "  Running:       pause: {duration: 20s} (",
		"  Next:          setWeight: 100\n", "  SetWeight:     20\n", "  ActualWeight:  25\n",
		"  Traffic:       canary 25 % of requests (1 of 4 available pods), not the 20 % requested\n",
		"nginx:1.25 (stable)\n", "nginx:1.26 (canary)\n", "canary, traffic 25 % of pods\n", "stable, traffic 75 % of pods\n",
	} {
		if !strings.Contains(tree, want) {
			t.Errorf("get rollout lacks %q:\n%s", want, tree)
		}
	}
	if strings.Contains(tree, "\x1b[") {
		t.Error("colors in a non-terminal output")
	}
	if path := os.Getenv("SLUICE_CLI_CAPTURE"); path != "" {
		if err := os.WriteFile(path, []byte("$ sluice get rollout my-rollout\n"+tree), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var info view.RolloutInfo
	if err := json.Unmarshal([]byte(e.ok("get", "ro", "my-rollout", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if *info.ActualWeight != 25 || *info.SetWeight != 20 || info.Traffic.Source != "pods" || len(info.Revisions) != 2 ||
		len(info.Revisions[1].ReplicaSets[0].Pods) != 3 {
		t.Errorf("get -o json: %+v", info)
	}
	// The controller's annotation and the view agree (list reads the annotation).
	if got := e.rollout("my-rollout").Annotations[rollout.AnnotationEffectiveWeight]; view.AnnotationEffectiveWeight != rollout.AnnotationEffectiveWeight || got != "25" {
		t.Errorf("effective weight annotation %q (key %q)", got, view.AnnotationEffectiveWeight)
	}

	list := e.ok("list", "rollouts")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME ") || strings.Join(strings.Fields(lines[1]), " ") != "my-rollout Canary ॥ Paused 1/3 20 25 4/3 3 1 4" {
		t.Errorf("list rollouts:\n%s", list)
	}
	if all := e.ok("list", "rollouts", "-A"); !strings.Contains(all, e.ns+"  ") {
		t.Errorf("list rollouts -A lacks the namespace column:\n%s", all)
	}

	// --watch without a terminal prints plain frames until the timeout; the pause ends within
	// it, so there is more than one frame.
	watched, errs, code := e.sluice("get", "rollout", "my-rollout", "--watch", "--timeout", "25s")
	if code != 0 || strings.Contains(watched, "\x1b[") || strings.Count(watched, "Name:            my-rollout") < 2 ||
		!strings.Contains(watched, "✔ Healthy") {
		t.Errorf("get --watch (no terminal): exit %d, stderr %q, output:\n%s", code, errs, watched)
	}
}
