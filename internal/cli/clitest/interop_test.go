package clitest

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/client-go/util/retry"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// driver performs the user's actions on a Rollout.
type driver interface {
	setImage(name, image string)
	promote(name string, full bool)
	abort(name string)
	retry(name string)
	pause(name string)
}

// argoPlugin sends, with a plain client, exactly what `kubectl argo rollouts` sends
// (argo-compat.md §2.2): its promote reads the Rollout to pick the patches.
type argoPlugin struct{ e *env }

func (a argoPlugin) setImage(name, image string) {
	// set image: read, change the container's image, update (retried on conflict).
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ro := a.e.rollout(name)
		ro.Spec.Template.Spec.Containers[0].Image = image
		return a.e.c.Update(a.e.t.Context(), ro)
	})
	if err != nil {
		a.e.t.Fatal(err)
	}
}

func (a argoPlugin) promote(name string, full bool) {
	ro := a.e.rollout(name)
	var spec, status string
	if ro.Spec.Paused {
		spec = `{"spec":{"paused":false}}`
	}
	switch {
	case full:
		if ro.Status.CurrentPodHash != ro.Status.StableRS {
			status = `{"status":{"promoteFull":true}}`
		}
	case len(ro.Status.PauseConditions) > 0:
		status = `{"status":{"pauseConditions":null}}`
	default:
		i := int32(0)
		if ro.Status.CurrentStepIndex != nil {
			i = *ro.Status.CurrentStepIndex
		}
		if i < int32(len(ro.Spec.Strategy.Canary.Steps)) {
			i++
		}
		status = fmt.Sprintf(`{"status":{"pauseConditions":null, "currentStepIndex":%d}}`, i)
	}
	if status != "" {
		a.e.rawStatusPatch(name, status)
	}
	if spec != "" {
		a.e.rawSpecPatch(name, spec)
	}
}

func (a argoPlugin) abort(name string) { a.e.rawStatusPatch(name, `{"status":{"abort":true}}`) }
func (a argoPlugin) retry(name string) { a.e.rawStatusPatch(name, `{"status":{"abort":false}}`) }
func (a argoPlugin) pause(name string) { a.e.rawSpecPatch(name, `{"spec":{"paused":true}}`) }

// sluiceVerbs runs sluice's command line.
type sluiceVerbs struct{ e *env }

func (s sluiceVerbs) setImage(name, image string) { s.e.ok("set", "image", name, "my-app="+image) }
func (s sluiceVerbs) promote(name string, full bool) {
	if full {
		s.e.ok("promote", name, "--full")
		return
	}
	s.e.ok("promote", name)
}
func (s sluiceVerbs) abort(name string) { s.e.ok("abort", name) }
func (s sluiceVerbs) retry(name string) { s.e.ok("retry", name) }
func (s sluiceVerbs) pause(name string) { s.e.ok("pause", name) }

// scenario drives one Rollout through promote, abort, retry, a user pause, promote while
// paused, and promote --full, and returns the state reached after each action.
func scenario(e *env, d driver) []state {
	const name = "interop"
	e.create(name, 4, setWeight(25), pause(""), setWeight(50), pause(""), setWeight(100))
	var out []state
	out = append(out, e.waitState(name, healthy, 5, 0, 4))
	d.setImage(name, "nginx:1.26")
	out = append(out, e.waitState(name, paused, 1, 1, 3))
	d.promote(name, false) // clears the pause condition: the pause step completes
	out = append(out, e.waitState(name, paused, 3, 2, 2))
	d.abort(name)
	out = append(out, e.waitState(name, degraded, 0, 0, 4))
	d.retry(name)
	out = append(out, e.waitState(name, paused, 1, 1, 3))
	d.pause(name)
	e.waitFor(30e9, func() string {
		if s := e.state(name); s.Message != "manually paused" || !s.ObservedCurrent {
			return "not manually paused yet: " + s.String()
		}
		return ""
	})
	out = append(out, e.waitState(name, paused, 1, 1, 3))
	d.promote(name, false) // unpauses and clears the pause condition
	out = append(out, e.waitState(name, paused, 3, 2, 2))
	d.promote(name, true)
	out = append(out, e.waitState(name, healthy, 5, 0, 4))
	return out
}

// The same scenario driven by Argo's plugin patches and by sluice's verbs ends in the same
// states, step by step.
func TestInteropWithArgoPluginPatches(t *testing.T) {
	t.Parallel()
	var argo, sluice []state
	t.Run("drivers", func(t *testing.T) {
		t.Run("argo-plugin-patches", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, true)
			argo = scenario(e, argoPlugin{e})
		})
		t.Run("sluice-verbs", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, true)
			sluice = scenario(e, sluiceVerbs{e})
		})
	})
	if t.Failed() || argo == nil || sluice == nil { // failed, or skipped (SLUICE_SKIP_CLUSTER=1)
		return
	}
	if !slices.Equal(argo, sluice) {
		for i := range max(len(argo), len(sluice)) {
			var a, s state
			if i < len(argo) {
				a = argo[i]
			}
			if i < len(sluice) {
				s = sluice[i]
			}
			mark := "  "
			if a != s {
				mark = "≠ "
			}
			t.Errorf("%sargo:   %s\n  sluice: %s", mark, a, s)
		}
	}
	if argo[5].Message != "manually paused" || argo[5].PauseReasons != string(v1alpha1.PauseReasonCanaryPauseStep) {
		t.Errorf("the user pause was not observed with the pause condition kept: %s", argo[5])
	}
}
