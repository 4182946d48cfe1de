package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Hot pure paths of every reconcile pass, with allocations:
//
//	go test -run '^$' -bench . -benchmem ./internal/plan/

// midRollout is a 10-replica Rollout with the benchmark's steps (setWeight 20, pause 5s,
// setWeight 60, pause 5s, setWeight 100), paused at step 1 of a new revision with 2 canary pods
// up: the state most passes of a rollout see.
func midRollout() (Input, *v1alpha1.Rollout) {
	d := intstr.FromString("5s")
	steps := []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](20)},
		{Pause: &v1alpha1.RolloutPause{Duration: &d}},
		{SetWeight: ptr.To[int32](60)},
		{Pause: &v1alpha1.RolloutPause{Duration: new(d)}},
		{SetWeight: ptr.To[int32](100)},
	}
	labels := map[string]string{"app": "bench"}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default", Generation: 2},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To[int32](10),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1alpha1.PodTemplateSpec{
				PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "example.com/app:v2",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					Env:   []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
				}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: steps}},
		},
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	newHash := PodTemplateHash(&ro.Spec.Template, nil)
	start := metav1.NewTime(now.Add(-2 * time.Second))
	ro.Status = v1alpha1.RolloutStatus{
		ObservedGeneration: "2",
		CurrentPodHash:     newHash,
		CurrentStepHash:    StepsHash(steps),
		CurrentStepIndex:   ptr.To[int32](1),
		StableRS:           "stable",
		PauseConditions:    []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: start}},
		ControllerPause:    true,
		Replicas:           12, UpdatedReplicas: 2, ReadyReplicas: 12, AvailableReplicas: 12,
		Phase: v1alpha1.RolloutPhasePaused,
	}
	in := Input{
		Rollout: ro, NewHash: newHash, Revision: 2, Now: now,
		ReplicaSets: []ReplicaSet{
			{Name: "bench-stable", Hash: "stable", Revision: 1, Spec: 10, Replicas: 10, Ready: 10, Available: 10},
			{Name: "bench-" + newHash, Hash: newHash, Revision: 2, Spec: 2, Replicas: 2, Ready: 2, Available: 2},
		},
	}
	return in, ro
}

func BenchmarkCompute(b *testing.B) {
	in, _ := midRollout()
	// The controller plans once to write the status, then again on the next event with it.
	first := Compute(in)
	if first.Invalid {
		b.Fatalf("the benchmark's Rollout is invalid: %+v", first.Status.Conditions)
	}
	in.Rollout = in.Rollout.DeepCopy()
	in.Rollout.Status = first.Status
	b.ReportAllocs()
	for b.Loop() {
		p := Compute(in)
		if p.Invalid {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkPodTemplateHash(b *testing.B) {
	_, ro := midRollout()
	b.ReportAllocs()
	for b.Loop() {
		if PodTemplateHash(&ro.Spec.Template, nil) == "" {
			b.Fatal("empty hash")
		}
	}
}

// BenchmarkBasicCanaryCounts is one call, cycling through weights 0..100.
func BenchmarkBasicCanaryCounts(b *testing.B) {
	b.ReportAllocs()
	var sink, w int32
	for b.Loop() {
		c, s := BasicCanaryCounts(10, w, 100, 3)
		sink += c + s
		w = (w + 7) % 101
	}
	if sink == 0 {
		b.Fatal("no counts")
	}
}
