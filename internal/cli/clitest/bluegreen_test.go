package clitest

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

// squeeze collapses runs of spaces (the tree's columns depend on the hash lengths).
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// createBlueGreen creates the Rollout and the Services of examples/bluegreen/rollout.yaml.
func (e *env) createBlueGreen() {
	e.t.Helper()
	b, err := os.ReadFile("../../../examples/bluegreen/rollout.yaml")
	if err != nil {
		e.t.Fatal(err)
	}
	for doc := range strings.SplitSeq(string(b), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			e.t.Fatal(err)
		}
		var obj client.Object
		switch meta.Kind {
		case "Rollout":
			obj = &v1alpha1.Rollout{}
		case "Service":
			obj = &corev1.Service{}
		default:
			e.t.Fatalf("unexpected kind %q in the example", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			e.t.Fatal(err)
		}
		obj.SetNamespace(e.ns)
		if err := e.c.Create(e.t.Context(), obj); err != nil {
			e.t.Fatal(err)
		}
	}
}

// examples/bluegreen through pause → promote with the controller: at the BlueGreenPause, get
// rollout shows the active Service on the old version and the preview Service on the new one
// (tree tags active/preview, no canary weights); promote moves the active Service, and the old
// version keeps its pods for its scale-down delay (delay:… in the tree).
func TestBlueGreenPausePromote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.createBlueGreen()
	e.ok("status", "my-app", "--timeout", "90s")
	old := e.rollout("my-app").Status.StableRS
	if out := e.ok("get", "rollout", "my-app"); !strings.Contains(out, "  ActiveService:   my-app-active → "+old+" (revision 1)\n") ||
		!strings.Contains(squeeze(out), "my-app-"+old+" ReplicaSet ✔ Healthy") || !strings.Contains(out, "stable, active\n") {
		t.Errorf("get rollout after the first deploy:\n%s", out)
	}

	e.ok("set", "image", "my-app", "app=nginx:1.26")
	var ro *v1alpha1.Rollout
	e.waitFor(90*time.Second, func() string {
		ro = e.rollout("my-app")
		st := ro.Status
		if st.Phase != paused || len(st.PauseConditions) == 0 || st.PauseConditions[0].Reason != v1alpha1.PauseReasonBlueGreenPause ||
			st.ObservedGeneration != fmt.Sprint(ro.Generation) {
			return fmt.Sprintf("waiting for BlueGreenPause: %s %q %+v", st.Phase, st.Message, st.PauseConditions)
		}
		return ""
	})
	cur := ro.Status.CurrentPodHash
	tree := e.ok("get", "rollout", "my-app")
	for _, want := range []string{
		"Status:            ॥ Paused\n", "Message:           BlueGreenPause\n", "Strategy:          BlueGreen\n",
		"  Running:         pause before the cut-over (waits for 'promote')\n",
		"  Next:            cut-over: my-app-active → new version, once all 3 pods are available\n",
		"  ActiveService:   my-app-active → " + old + " (revision 1)\n",
		"  PreviewService:  my-app-preview → " + cur + " (revision 2)\n",
		"  Traffic:         100 % of users to the active version, revision 1 (" + old + "), through my-app-active; my-app-preview reaches revision 2 (" + cur + ")\n",
		"nginx:1.25 (active, stable)\n", "nginx:1.26 (preview)\n",
		"  preview\n", "  stable, active\n",
	} {
		if !strings.Contains(tree, want) {
			t.Errorf("get rollout at the pause lacks %q:\n%s", want, tree)
		}
	}
	for _, canaryOnly := range []string{"SetWeight", "ActualWeight", "Step:", "canary", "of pods"} {
		if strings.Contains(tree, canaryOnly) {
			t.Errorf("get rollout of a blue-green Rollout shows %q:\n%s", canaryOnly, tree)
		}
	}
	if path := os.Getenv("SLUICE_CLI_CAPTURE_BLUEGREEN"); path != "" { // the capture in docs/cli.md
		if err := os.WriteFile(path, []byte("$ sluice get rollout my-app\n"+tree), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var info view.RolloutInfo
	if err := json.Unmarshal([]byte(e.ok("get", "rollout", "my-app", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if bg := info.BlueGreen; bg == nil || bg.ActiveSelector != old || bg.PreviewSelector != cur || info.SetWeight != nil || info.Traffic.Source != "activeService" {
		t.Errorf("get -o json at the pause: %+v %+v", info.BlueGreen, info.Traffic)
	}

	if out := e.ok("promote", "my-app"); out != "rollout 'my-app' promoted\n" {
		t.Errorf("promote printed %q", out)
	}
	e.ok("status", "my-app", "--timeout", "90s")
	ro = e.rollout("my-app")
	if ro.Status.StableRS != cur || ro.Status.BlueGreen.ActiveSelector != cur {
		t.Fatalf("after promote: stable %s, active %s; want %s", ro.Status.StableRS, ro.Status.BlueGreen.ActiveSelector, cur)
	}
	tree = e.ok("get", "rollout", "my-app")
	if !strings.Contains(tree, "  ActiveService:   my-app-active → "+cur+" (revision 2)\n") || !strings.Contains(squeeze(tree), "my-app-"+cur+" ReplicaSet ✔ Healthy") ||
		!strings.Contains(squeeze(tree), "my-app-"+old+" ReplicaSet ✔ Healthy") || !strings.Contains(tree, " delay:") || strings.Contains(tree, "Running:") {
		t.Errorf("get rollout after promote:\n%s", tree)
	}
}
