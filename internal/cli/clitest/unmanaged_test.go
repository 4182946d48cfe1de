package clitest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// unmanagedStatus is a status as a controller (Argo's or sluice's) would have written it:
// revision 2 paused at the pause step of rollout-basic.
func unmanagedStatus(ro *v1alpha1.Rollout) {
	idx := int32(1)
	ro.Status = v1alpha1.RolloutStatus{
		CurrentPodHash: "bbbbbbbbb", StableRS: "aaaaaaaaa", CurrentStepIndex: &idx, ObservedGeneration: "1",
		PauseConditions: []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}},
		ControllerPause: true, Phase: v1alpha1.RolloutPhasePaused, Message: "CanaryPauseStep",
	}
}

// twin creates the same Rollout twice (name-argo, name-sluice) with the same status, in a
// namespace no controller watches.
func (e *env) twin(name string, tweak func(ro *v1alpha1.Rollout)) {
	e.t.Helper()
	for _, suffix := range []string{"-argo", "-sluice"} {
		ro := loadBasic(e.t)
		ro.Name, ro.Namespace = name+suffix, e.ns
		if err := e.c.Create(e.t.Context(), ro); err != nil {
			e.t.Fatal(err)
		}
		tweak(ro)
		st := *ro.Status.DeepCopy()
		if err := e.c.Update(e.t.Context(), ro); err != nil {
			e.t.Fatal(err)
		}
		ro.Status = st
		if err := e.c.Status().Update(e.t.Context(), ro); err != nil {
			e.t.Fatal(err)
		}
	}
}

// specAndStatus is the part of a Rollout the verbs change.
func (e *env) specAndStatus(name string) string {
	e.t.Helper()
	ro := e.rollout(name)
	b, err := json.Marshal(map[string]any{"spec": ro.Spec, "status": ro.Status})
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// The verbs work on Rollouts no controller manages (they only patch), and each leaves the
// Rollout exactly as the patches of Argo's plugin leave its twin.
func TestVerbsOnUnmanagedRolloutsMatchArgoPatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	stepIdx := func(i int32) func(*v1alpha1.Rollout) {
		return func(ro *v1alpha1.Rollout) {
			unmanagedStatus(ro)
			ro.Status.CurrentStepIndex = &i
			ro.Status.PauseConditions, ro.Status.ControllerPause = nil, false
			ro.Status.Phase, ro.Status.Message = v1alpha1.RolloutPhaseProgressing, "more replicas need to be updated"
		}
	}
	for _, tc := range []struct {
		name  string
		tweak func(*v1alpha1.Rollout)
		argo  func(name string) // raw patches on the -argo twin
		verb  []string          // sluice verb on the -sluice twin
		check func(ro *v1alpha1.Rollout) string
	}{
		{
			"promote-controller-pause", unmanagedStatus,
			func(n string) { e.rawStatusPatch(n, `{"status":{"pauseConditions":null}}`) },
			[]string{"promote"},
			func(ro *v1alpha1.Rollout) string {
				if ro.Status.PauseConditions != nil || !ro.Status.ControllerPause || *ro.Status.CurrentStepIndex != 1 {
					return "want pauseConditions cleared, controllerPause and index kept"
				}
				return ""
			},
		},
		{
			"promote-skips-a-running-step", stepIdx(0),
			func(n string) { e.rawStatusPatch(n, `{"status":{"pauseConditions":null, "currentStepIndex":1}}`) },
			[]string{"promote"},
			func(ro *v1alpha1.Rollout) string {
				if *ro.Status.CurrentStepIndex != 1 {
					return "want currentStepIndex 1"
				}
				return ""
			},
		},
		{
			"promote-user-paused", func(ro *v1alpha1.Rollout) { unmanagedStatus(ro); ro.Spec.Paused = true },
			func(n string) {
				e.rawStatusPatch(n, `{"status":{"pauseConditions":null}}`)
				e.rawSpecPatch(n, `{"spec":{"paused":false}}`)
			},
			[]string{"promote"},
			func(ro *v1alpha1.Rollout) string {
				if ro.Spec.Paused || ro.Status.PauseConditions != nil {
					return "want spec.paused false and pauseConditions cleared"
				}
				return ""
			},
		},
		{
			"promote-full", unmanagedStatus,
			func(n string) { e.rawStatusPatch(n, `{"status":{"promoteFull":true}}`) },
			[]string{"promote", "--full"},
			func(ro *v1alpha1.Rollout) string {
				if !ro.Status.PromoteFull || ro.Status.PauseConditions == nil {
					return "want promoteFull set and nothing else changed"
				}
				return ""
			},
		},
		{
			"promote-full-already-stable", func(ro *v1alpha1.Rollout) { unmanagedStatus(ro); ro.Status.StableRS = ro.Status.CurrentPodHash },
			func(string) {},
			[]string{"promote", "--full"},
			func(ro *v1alpha1.Rollout) string {
				if ro.Status.PromoteFull {
					return "promoteFull must not be set when current == stable"
				}
				return ""
			},
		},
		{
			"abort", unmanagedStatus,
			func(n string) { e.rawStatusPatch(n, `{"status":{"abort":true}}`) },
			[]string{"abort"},
			func(ro *v1alpha1.Rollout) string {
				if !ro.Status.Abort {
					return "want abort true"
				}
				return ""
			},
		},
		{
			"retry", func(ro *v1alpha1.Rollout) { unmanagedStatus(ro); ro.Status.Abort = true },
			func(n string) { e.rawStatusPatch(n, `{"status":{"abort":false}}`) },
			[]string{"retry"},
			func(ro *v1alpha1.Rollout) string {
				if ro.Status.Abort {
					return "want abort false"
				}
				return ""
			},
		},
		{
			"pause", unmanagedStatus,
			func(n string) { e.rawSpecPatch(n, `{"spec":{"paused":true}}`) },
			[]string{"pause"},
			func(ro *v1alpha1.Rollout) string {
				if !ro.Spec.Paused {
					return "want spec.paused"
				}
				return ""
			},
		},
		{
			"resume-is-promote-without-skip", func(ro *v1alpha1.Rollout) { stepIdx(0)(ro); ro.Spec.Paused = true },
			func(n string) { e.rawSpecPatch(n, `{"spec":{"paused":false}}`) },
			[]string{"resume"},
			func(ro *v1alpha1.Rollout) string {
				if ro.Spec.Paused || *ro.Status.CurrentStepIndex != 0 {
					return "want spec.paused false and the step index kept"
				}
				return ""
			},
		},
		{
			"set-image", unmanagedStatus,
			func(n string) {
				e.rawSpecPatch(n, `{"spec":{"template":{"spec":{"containers":[{"name":"my-app","image":"nginx:1.27","ports":[{"containerPort":80}]}]}}}}`)
			},
			[]string{"set", "image", "", "my-app=nginx:1.27"},
			func(ro *v1alpha1.Rollout) string {
				if ro.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" {
					return "want image nginx:1.27"
				}
				return ""
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{t: t, ns: e.ns, c: e.c}
			e.twin(tc.name, tc.tweak)
			tc.argo(tc.name + "-argo")
			args := tc.verb
			if args[0] == "set" {
				args = []string{"set", "image", tc.name + "-sluice", args[3]}
			} else {
				args = append([]string{args[0], tc.name + "-sluice"}, args[1:]...)
			}
			e.ok(args...)
			a, s := e.specAndStatus(tc.name+"-argo"), e.specAndStatus(tc.name+"-sluice")
			if a != s {
				t.Errorf("Argo's patches and sluice %s differ:\nargo:   %s\nsluice: %s", strings.Join(args, " "), a, s)
			}
			if msg := tc.check(e.rollout(tc.name + "-sluice")); msg != "" {
				t.Errorf("%s: %s", msg, s)
			}
		})
	}
}

func TestRestartOnUnmanagedRollout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.twin("restart", unmanagedStatus)
	before := time.Now().Add(time.Hour).Truncate(time.Second)
	if out := e.ok("restart", "restart-sluice", "--in", "1h"); out != "rollout 'restart-sluice' restarts in 1h0m0s\n" {
		t.Errorf("restart printed %q", out)
	}
	after := time.Now().Add(time.Hour)
	ro := e.rollout("restart-sluice")
	if ro.Spec.RestartAt == nil || ro.Spec.RestartAt.Before(&metav1.Time{Time: before}) || ro.Spec.RestartAt.After(after) {
		t.Fatalf("restartAt = %v, want between %s and %s", ro.Spec.RestartAt, before, after)
	}
	// Argo's patch with the same time gives the same object.
	e.rawSpecPatch("restart-argo", fmt.Sprintf(`{"spec":{"restartAt":%q}}`, ro.Spec.RestartAt.UTC().Format(time.RFC3339)))
	if a, s := e.specAndStatus("restart-argo"), e.specAndStatus("restart-sluice"); a != s {
		t.Errorf("restart differs from Argo's patch:\nargo:   %s\nsluice: %s", a, s)
	}
}

// undo on an unmanaged Rollout with ReplicaSets of two revisions.
func TestUndoOnUnmanagedRollout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.twin("undo", unmanagedStatus)
	for _, suffix := range []string{"-argo", "-sluice"} {
		ro := e.rollout("undo" + suffix)
		for rev, img := range map[int]string{1: "nginx:1.24", 2: "nginx:1.25"} {
			e.replicaSet(ro, fmt.Sprintf("h%d", rev), rev, img)
		}
	}
	// Argo: JSON patch replace /spec/template with revision 1's template minus the hash label.
	rs := &appsv1.ReplicaSet{}
	if err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: "undo-argo-h1"}, rs); err != nil {
		t.Fatal(err)
	}
	tmpl := rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, v1alpha1.LabelPodTemplateHash)
	patch, _ := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/template", "value": tmpl}})
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "undo-argo"}}
	if err := e.c.Patch(t.Context(), ro, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		t.Fatal(err)
	}
	if out := e.ok("undo", "undo-sluice"); out != "rollout 'undo-sluice' rolled back to revision 1\n" {
		t.Errorf("undo printed %q", out)
	}
	if a, s := e.specAndStatus("undo-argo"), e.specAndStatus("undo-sluice"); a != s {
		t.Errorf("undo differs from Argo's patch:\nargo:   %s\nsluice: %s", a, s)
	}
	got := e.rollout("undo-sluice")
	if got.Spec.Template.Spec.Containers[0].Image != "nginx:1.24" || got.Spec.Template.Labels[v1alpha1.LabelPodTemplateHash] != "" {
		t.Errorf("after undo: image %s, labels %v", got.Spec.Template.Spec.Containers[0].Image, got.Spec.Template.Labels)
	}
	if out := e.ok("undo", "undo-sluice", "--to-revision", "1"); !strings.Contains(out, "skipped rollback") {
		t.Errorf("undo to the current template printed %q", out)
	}
}

// replicaSet creates a 0-replica ReplicaSet owned by ro, for a given revision and image.
func (e *env) replicaSet(ro *v1alpha1.Rollout, hash string, rev int, image string) {
	e.t.Helper()
	labels := map[string]string{"app": "my-app", v1alpha1.LabelPodTemplateHash: hash}
	ctrl := true
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: ro.Name + "-" + hash, Namespace: e.ns, Labels: labels,
			Annotations: map[string]string{v1alpha1.AnnotationRevision: fmt.Sprint(rev)},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout", Name: ro.Name, UID: ro.UID, Controller: &ctrl,
			}},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: new(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "my-app", Image: image}}},
			},
		},
	}
	if err := e.c.Create(e.t.Context(), rs); err != nil {
		e.t.Fatal(err)
	}
}
