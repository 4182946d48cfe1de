package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func canary(steps int) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "ro", Namespace: "ns"}}
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{}
	for range steps {
		ro.Spec.Strategy.Canary.Steps = append(ro.Spec.Strategy.Canary.Steps, v1alpha1.CanaryStep{SetWeight: new(int32(10))})
	}
	return ro
}

func bs(b []byte) string {
	if b == nil {
		return "<none>"
	}
	return string(b)
}

// The patches must be byte for byte those of Argo's kubectl plugin (cmd/promote getPatches):
// the literal strings below are copied from it.
func TestPromotePatchesAreArgos(t *testing.T) {
	idx := func(i int32) *int32 { return &i }
	for _, tc := range []struct {
		name                  string
		ro                    func() *v1alpha1.Rollout
		full                  bool
		spec, status, unified string
	}{
		{"controller pause", func() *v1alpha1.Rollout {
			ro := canary(3)
			ro.Status.CurrentStepIndex = idx(1)
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep}}
			return ro
		}, false, "<none>", `{"status":{"pauseConditions":null}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"user pause and controller pause", func() *v1alpha1.Rollout {
			ro := canary(3)
			ro.Spec.Paused = true
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep}}
			return ro
		}, false, `{"spec":{"paused":false}}`, `{"status":{"pauseConditions":null}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"no pause condition: skip the step", func() *v1alpha1.Rollout {
			ro := canary(3)
			ro.Status.CurrentStepIndex = idx(1)
			return ro
		}, false, "<none>", `{"status":{"pauseConditions":null, "currentStepIndex":2}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null, "currentStepIndex":2}}`},
		{"no index yet counts as 0", canaryWith(3, nil), false, "<none>", `{"status":{"pauseConditions":null, "currentStepIndex":1}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null, "currentStepIndex":1}}`},
		{"index at the end stays", canaryWith(3, idx(3)), false, "<none>", `{"status":{"pauseConditions":null, "currentStepIndex":3}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null, "currentStepIndex":3}}`},
		{"no steps: nothing to skip", canaryWith(0, nil), false, "<none>", "<none>", `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"inconclusive analysis", func() *v1alpha1.Rollout {
			ro := canary(3)
			ro.Status.CurrentStepIndex = idx(1)
			ro.Status.ControllerPause = true
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonInconclusiveAnalysis}}
			ro.Status.Canary.CurrentStepAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Status: v1alpha1.AnalysisPhaseInconclusive}
			return ro
		}, false, "<none>", `{"status":{"pauseConditions":null, "controllerPause":false, "currentStepIndex":2}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"full", func() *v1alpha1.Rollout {
			ro := canary(3)
			ro.Status.CurrentPodHash, ro.Status.StableRS = "b", "a"
			return ro
		}, true, "<none>", `{"status":{"promoteFull":true}}`, `{"status":{"promoteFull":true}}`},
		{"full while user-paused", func() *v1alpha1.Rollout {
			ro := canary(3)
			ro.Spec.Paused = true
			ro.Status.CurrentPodHash, ro.Status.StableRS = "b", "a"
			return ro
		}, true, `{"spec":{"paused":false}}`, `{"status":{"promoteFull":true}}`, `{"spec":{"paused":false},"status":{"promoteFull":true}}`},
		{"full when already stable", func() *v1alpha1.Rollout {
			ro := canary(3)
			ro.Status.CurrentPodHash, ro.Status.StableRS = "a", "a"
			return ro
		}, true, "<none>", "<none>", "<none>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PromotePatches(tc.ro(), tc.full)
			if bs(p.Spec) != tc.spec || bs(p.Status) != tc.status || bs(p.Unified) != tc.unified {
				t.Errorf("patches:\n spec    %s\n status  %s\n unified %s\nwant\n spec    %s\n status  %s\n unified %s",
					bs(p.Spec), bs(p.Status), bs(p.Unified), tc.spec, tc.status, tc.unified)
			}
		})
	}
}

func blueGreenRollout() *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "ro", Namespace: "ns"}}
	ro.Spec.Strategy.BlueGreen = &v1alpha1.BlueGreenStrategy{ActiveService: "active", PreviewService: "preview"}
	ro.Status.CurrentPodHash, ro.Status.StableRS = "b", "a"
	return ro
}

// Blue-green has no steps: promote clears the BlueGreenPause (and spec.paused), never writes a
// currentStepIndex; an Inconclusive pre-promotion run is cleared like any pause (Argo's
// isInconclusive looks at the canary step run only); --full is promoteFull.
func TestPromotePatchesBlueGreen(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		ro                    func() *v1alpha1.Rollout
		full                  bool
		spec, status, unified string
	}{
		{"BlueGreenPause", func() *v1alpha1.Rollout {
			ro := blueGreenRollout()
			ro.Status.ControllerPause = true
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause}}
			return ro
		}, false, "<none>", `{"status":{"pauseConditions":null}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"BlueGreenPause and user pause", func() *v1alpha1.Rollout {
			ro := blueGreenRollout()
			ro.Spec.Paused = true
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause}}
			return ro
		}, false, `{"spec":{"paused":false}}`, `{"status":{"pauseConditions":null}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"user pause only: no step to skip", func() *v1alpha1.Rollout {
			ro := blueGreenRollout()
			ro.Spec.Paused = true
			return ro
		}, false, `{"spec":{"paused":false}}`, "<none>", `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"not paused: nothing", blueGreenRollout, false, "<none>", "<none>", `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"inconclusive pre-promotion analysis", func() *v1alpha1.Rollout {
			ro := blueGreenRollout()
			ro.Status.ControllerPause = true
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonInconclusiveAnalysis}}
			ro.Status.BlueGreen.PrePromotionAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Status: v1alpha1.AnalysisPhaseInconclusive}
			return ro
		}, false, "<none>", `{"status":{"pauseConditions":null}}`, `{"spec":{"paused":false},"status":{"pauseConditions":null}}`},
		{"full", func() *v1alpha1.Rollout {
			ro := blueGreenRollout()
			ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause}}
			return ro
		}, true, "<none>", `{"status":{"promoteFull":true}}`, `{"status":{"promoteFull":true}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PromotePatches(tc.ro(), tc.full)
			if bs(p.Spec) != tc.spec || bs(p.Status) != tc.status || bs(p.Unified) != tc.unified {
				t.Errorf("patches:\n spec    %s\n status  %s\n unified %s\nwant\n spec    %s\n status  %s\n unified %s",
					bs(p.Spec), bs(p.Status), bs(p.Unified), tc.spec, tc.status, tc.unified)
			}
		})
	}
}

func canaryWith(steps int, idx *int32) func() *v1alpha1.Rollout {
	return func() *v1alpha1.Rollout {
		ro := canary(steps)
		ro.Status.CurrentStepIndex = idx
		return ro
	}
}

func TestResumeNeverSkipsAStep(t *testing.T) {
	ro := canary(3)
	if p := ResumePatches(ro); p.Spec != nil || p.Status != nil {
		t.Errorf("resume of a running rollout patched %s %s", p.Spec, p.Status)
	}
	ro.Spec.Paused = true
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep}}
	p := ResumePatches(ro)
	if bs(p.Spec) != `{"spec":{"paused":false}}` || bs(p.Status) != `{"status":{"pauseConditions":null}}` {
		t.Errorf("resume patches %s %s", p.Spec, p.Status)
	}
}

func TestRestartPatch(t *testing.T) {
	at := metav1.Date(2026, 3, 1, 12, 0, 10, 0, mustLoc(t))
	if got := string(RestartPatch(at)); got != `{"spec":{"restartAt":"2026-03-01T11:00:10Z"}}` {
		t.Errorf("restart patch %s", got)
	}
}

// An API server without the status subresource answers NotFound: the unified patch then goes
// to the main resource (Argo's v0.9 fallback).
func TestApplyFallsBackToTheMainResource(t *testing.T) {
	ro := canary(3)
	ro.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep}}
	ro.Spec.Paused = true
	var mainPatches []string
	c := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(ro).WithInterceptorFuncs(interceptor.Funcs{
		SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
			return apierrors.NewNotFound(schema.GroupResource{Group: "argoproj.io", Resource: "rollouts/status"}, "ro")
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			b, _ := patch.Data(obj)
			mainPatches = append(mainPatches, string(b))
			return c.Patch(ctx, obj, patch, opts...)
		},
	}).Build()
	key := types.NamespacedName{Namespace: "ns", Name: "ro"}
	if err := Promote(t.Context(), c, key, false); err != nil {
		t.Fatal(err)
	}
	if strings.Join(mainPatches, "|") != `{"spec":{"paused":false},"status":{"pauseConditions":null}}` {
		t.Errorf("main-resource patches: %q", mainPatches)
	}
	got := &v1alpha1.Rollout{}
	if err := c.Get(t.Context(), key, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Paused || got.Status.PauseConditions != nil {
		t.Errorf("after fallback: paused %v, pauseConditions %v", got.Spec.Paused, got.Status.PauseConditions)
	}
	if err := Promote(t.Context(), c, types.NamespacedName{Namespace: "ns", Name: "nope"}, false); err == nil ||
		err.Error() != `rollout "nope" not found in namespace "ns"` {
		t.Errorf("missing rollout: %v", err)
	}
}

func mustLoc(t *testing.T) *time.Location {
	t.Helper()
	loc := time.FixedZone("CET", 3600)
	return loc
}
