package cli

import (
	"context"
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Patches are the JSON merge patches a verb sends, byte for byte what Argo Rollouts' kubectl
// plugin sends (argo-compat.md §2.2). Status is applied first, to the status subresource; if
// the API server has no status subresource for Rollouts (NotFound, Argo v0.9 CRDs), Unified is
// applied to the main resource instead of Spec. Then Spec, to the main resource. A nil patch
// is not sent.
type Patches struct {
	Spec, Status, Unified []byte
}

// The patches, as literal strings in Argo's plugin (cmd/promote, abort, retry, pause).
const (
	patchUnpause                            = `{"spec":{"paused":false}}`
	patchPause                              = `{"spec":{"paused":true}}`
	patchClearPauseConditions               = `{"status":{"pauseConditions":null}}`
	patchUnpauseAndClearPauseConditions     = `{"spec":{"paused":false},"status":{"pauseConditions":null}}`
	patchClearPauseConditionsWithStep       = `{"status":{"pauseConditions":null, "currentStepIndex":%d}}`
	patchUnpauseAndClearPauseConditionsStep = `{"spec":{"paused":false},"status":{"pauseConditions":null, "currentStepIndex":%d}}`
	patchClearPauseAndControllerPause       = `{"status":{"pauseConditions":null, "controllerPause":false, "currentStepIndex":%d}}`
	patchPromoteFull                        = `{"status":{"promoteFull":true}}`
	patchAbort                              = `{"status":{"abort":true}}`
	patchRetry                              = `{"status":{"abort":false}}`
	patchRestart                            = `{"spec":{"restartAt":"%s"}}`
)

// PromotePatches are the patches of `promote` (Argo's getPatches):
//   - full: spec.paused false if paused; status.promoteFull true unless the current template is
//     already the stable one;
//   - otherwise spec.paused false if paused, then, in the status: when the current step
//     analysis is Inconclusive and the controller paused, clear the pauses and controllerPause
//     and move to the next step; else when there are pauseConditions, clear them (the
//     controller completes the pause step); else, for a canary with steps, clear them and skip
//     the current step (currentStepIndex+1, at most len(steps)).
func PromotePatches(ro *v1alpha1.Rollout, full bool) Patches {
	var p Patches
	if ro.Spec.Paused {
		p.Spec = []byte(patchUnpause)
	}
	if full {
		if ro.Status.CurrentPodHash != ro.Status.StableRS {
			p.Status = []byte(patchPromoteFull)
		}
		p.Unified = unify(p.Spec, p.Status)
		return p
	}
	p.Unified = []byte(patchUnpauseAndClearPauseConditions)
	c := ro.Spec.Strategy.Canary
	nextStep := func() (int32, bool) {
		if c == nil || len(c.Steps) == 0 {
			return 0, false
		}
		i := int32(0)
		if ro.Status.CurrentStepIndex != nil {
			i = *ro.Status.CurrentStepIndex
		}
		if i < int32(len(c.Steps)) {
			i++
		}
		return i, true
	}
	switch {
	case inconclusive(ro) && len(ro.Status.PauseConditions) > 0 && ro.Status.ControllerPause:
		if i, ok := nextStep(); ok {
			p.Status = fmt.Appendf(nil, patchClearPauseAndControllerPause, i)
		}
	case len(ro.Status.PauseConditions) > 0:
		p.Status = []byte(patchClearPauseConditions)
	case c != nil:
		if i, ok := nextStep(); ok {
			p.Status = fmt.Appendf(nil, patchClearPauseConditionsWithStep, i)
			p.Unified = fmt.Appendf(nil, patchUnpauseAndClearPauseConditionsStep, i)
		}
	}
	return p
}

func inconclusive(ro *v1alpha1.Rollout) bool {
	s := ro.Status.Canary.CurrentStepAnalysisRunStatus
	return ro.Spec.Strategy.Canary != nil && s != nil && s.Status == v1alpha1.AnalysisPhaseInconclusive
}

// ResumePatches are promote's first case only: spec.paused false if paused, pauseConditions
// cleared if any. Unlike promote, resume never skips a step.
func ResumePatches(ro *v1alpha1.Rollout) Patches {
	var p Patches
	if ro.Spec.Paused {
		p.Spec = []byte(patchUnpause)
	}
	if len(ro.Status.PauseConditions) > 0 {
		p.Status = []byte(patchClearPauseConditions)
	}
	p.Unified = unify(p.Spec, p.Status)
	return p
}

// unify merges a spec and a status merge patch into one for the main resource.
func unify(spec, status []byte) []byte {
	switch {
	case spec == nil:
		return status
	case status == nil:
		return spec
	}
	b, err := jsonpatch.MergeMergePatches(spec, status)
	if err != nil {
		return nil
	}
	return b
}

// Apply sends the patches to a Rollout: the status patch to the status subresource (the main
// resource with Unified on NotFound), then the spec patch.
func Apply(ctx context.Context, c client.Client, key types.NamespacedName, p Patches) error {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	spec := p.Spec
	if p.Status != nil {
		err := c.Status().Patch(ctx, ro, client.RawPatch(types.MergePatchType, p.Status))
		switch {
		case apierrors.IsNotFound(err):
			// No status subresource (or no Rollout: the next patch says which).
			spec = p.Unified
		case err != nil:
			return fmt.Errorf("patching the status of rollout %q: %w", key.Name, err)
		}
	}
	if spec != nil {
		if err := c.Patch(ctx, ro, client.RawPatch(types.MergePatchType, spec)); err != nil {
			return fmt.Errorf("patching rollout %q: %w", key.Name, err)
		}
	}
	return nil
}

// getRollout reads a Rollout, with a one-line error when it does not exist.
func getRollout(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.Rollout, error) {
	ro := &v1alpha1.Rollout{}
	if err := c.Get(ctx, key, ro); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("rollout %q not found in namespace %q", key.Name, key.Namespace)
		}
		return nil, fmt.Errorf("reading rollout %q: %w", key.Name, err)
	}
	return ro, nil
}

// Promote promotes a Rollout like `kubectl argo rollouts promote [--full]`.
func Promote(ctx context.Context, c client.Client, key types.NamespacedName, full bool) error {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return err
	}
	return Apply(ctx, c, key, PromotePatches(ro, full))
}

// Resume clears a user pause (spec.paused) and the controller's pause conditions.
func Resume(ctx context.Context, c client.Client, key types.NamespacedName) error {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return err
	}
	return Apply(ctx, c, key, ResumePatches(ro))
}

// Abort sets status.abort (the controller goes back to the stable version).
func Abort(ctx context.Context, c client.Client, key types.NamespacedName) error {
	return Apply(ctx, c, key, Patches{Status: []byte(patchAbort), Unified: []byte(patchAbort)})
}

// Retry clears status.abort (the controller restarts the steps).
func Retry(ctx context.Context, c client.Client, key types.NamespacedName) error {
	return Apply(ctx, c, key, Patches{Status: []byte(patchRetry), Unified: []byte(patchRetry)})
}

// Pause sets spec.paused.
func Pause(ctx context.Context, c client.Client, key types.NamespacedName) error {
	return Apply(ctx, c, key, Patches{Spec: []byte(patchPause)})
}

// RestartPatch is the patch of `restart`: spec.restartAt, RFC 3339 in UTC.
func RestartPatch(at metav1.Time) []byte {
	return fmt.Appendf(nil, patchRestart, at.UTC().Format("2006-01-02T15:04:05Z07:00"))
}

// Restart sets spec.restartAt: pods created before that time are to be replaced.
func Restart(ctx context.Context, c client.Client, key types.NamespacedName, at metav1.Time) error {
	return Apply(ctx, c, key, Patches{Spec: RestartPatch(at)})
}

// mustJSON marshals v (which cannot fail for the maps and structs passed here).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
