package view_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli/view -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// loadRollout reads the repository's examples/rollout-basic.yaml.
func loadRollout(t *testing.T) *v1alpha1.Rollout {
	t.Helper()
	b, err := os.ReadFile("../../../examples/rollout-basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict(b, ro); err != nil {
		t.Fatal(err)
	}
	ro.Namespace = "default"
	ro.UID = "ro-uid"
	ro.Generation = 2
	ro.CreationTimestamp = ago(10 * time.Minute)
	return ro
}

type fixture struct {
	rss  []appsv1.ReplicaSet
	pods []corev1.Pod
}

// rs adds a ReplicaSet with spec replicas, available pods (all Running and ready) and
// unready pods.
func (f *fixture) rs(ro *v1alpha1.Rollout, hash string, rev int, image string, spec, avail, unready int32, age time.Duration) {
	uid := types.UID("uid-" + hash)
	r := appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: ro.Name + "-" + hash, Namespace: ro.Namespace, UID: uid, CreationTimestamp: ago(age),
			Labels:      map[string]string{"app": "my-app", v1alpha1.LabelPodTemplateHash: hash},
			Annotations: map[string]string{v1alpha1.AnnotationRevision: fmt.Sprint(rev)},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &spec},
		Status: appsv1.ReplicaSetStatus{
			Replicas: avail + unready, ReadyReplicas: avail, AvailableReplicas: avail,
		},
	}
	r.Spec.Template.Spec.Containers = []corev1.Container{{Name: "my-app", Image: image}}
	f.rss = append(f.rss, r)
	ctrl := true
	for i := range avail + unready {
		ready := i < avail
		p := corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-%c%c%c%c%c", r.Name, 'a'+i, 'b'+i, 'c'+i, 'd'+i, 'e'+i), Namespace: ro.Namespace,
				CreationTimestamp: ago(age),
				OwnerReferences:   []metav1.OwnerReference{{Kind: "ReplicaSet", Name: r.Name, UID: uid, Controller: &ctrl}},
			},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "my-app", Image: image}}},
			Status: corev1.PodStatus{
				Phase:             corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "my-app", Ready: ready}},
			},
		}
		if !ready {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		f.pods = append(f.pods, p)
	}
}

func cond(t v1alpha1.RolloutConditionType, s corev1.ConditionStatus, reason string) v1alpha1.RolloutCondition {
	return v1alpha1.RolloutCondition{Type: t, Status: s, Reason: reason}
}

// pausedAtStep1 is rollout-basic paused at its 20s pause (step index 1), 8s into it: 1 canary
// pod next to 3 stable ones.
func pausedAtStep1(t *testing.T) (*v1alpha1.Rollout, *fixture) {
	t.Helper()
	ro := loadRollout(t)
	ro.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	ro.Annotations = map[string]string{view.AnnotationEffectiveWeight: "25"}
	idx := int32(1)
	ro.Status = v1alpha1.RolloutStatus{
		ObservedGeneration: "2", Phase: v1alpha1.RolloutPhasePaused, Message: "CanaryPauseStep",
		CurrentPodHash: "6d4f8b9c7", StableRS: "5c7b9d8f6", CurrentStepIndex: &idx,
		PauseConditions: []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: ago(8 * time.Second)}},
		ControllerPause: true,
		Replicas:        4, UpdatedReplicas: 1, ReadyReplicas: 4, AvailableReplicas: 4,
	}
	f := &fixture{}
	f.rs(ro, "6d4f8b9c7", 2, "nginx:1.26", 1, 1, 0, 12*time.Second)
	f.rs(ro, "5c7b9d8f6", 1, "nginx:1.25", 3, 3, 0, 10*time.Minute)
	return ro, f
}

func TestTree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) (*v1alpha1.Rollout, *fixture)
	}{
		{"paused-at-step-1", pausedAtStep1},
		{"healthy", func(t *testing.T) (*v1alpha1.Rollout, *fixture) {
			t.Helper()
			ro := loadRollout(t)
			idx := int32(3)
			ro.Status = v1alpha1.RolloutStatus{
				ObservedGeneration: "2", Phase: v1alpha1.RolloutPhaseHealthy, CurrentPodHash: "5c7b9d8f6", StableRS: "5c7b9d8f6",
				CurrentStepIndex: &idx, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			}
			f := &fixture{}
			f.rs(ro, "5c7b9d8f6", 2, "nginx:1.25", 3, 3, 0, 10*time.Minute)
			f.rs(ro, "7f9c8d6b5", 1, "nginx:1.24", 0, 0, 0, 20*time.Minute)
			return ro, f
		}},
		{"scaling-up-unobserved", func(t *testing.T) (*v1alpha1.Rollout, *fixture) {
			t.Helper()
			ro, f := pausedAtStep1(t)
			ro.Generation = 3 // e.g. right after `set image`: status not trusted yet
			ro.Status.PauseConditions = nil
			f.rs(ro, "8b7c6d5f4", 3, "nginx:1.27", 1, 0, 1, 2*time.Second)
			return ro, f
		}},
		{"aborted", func(t *testing.T) (*v1alpha1.Rollout, *fixture) {
			t.Helper()
			ro, f := pausedAtStep1(t)
			idx := int32(0)
			ro.Status.Abort, ro.Status.CurrentStepIndex, ro.Status.PauseConditions = true, &idx, nil
			ro.Status.Phase, ro.Status.Message = v1alpha1.RolloutPhaseDegraded, "RolloutAborted: Rollout aborted update to revision 2"
			ro.Status.Conditions = []v1alpha1.RolloutCondition{cond(v1alpha1.RolloutProgressing, corev1.ConditionFalse, v1alpha1.ReasonRolloutAborted)}
			f.rss[0].Spec.Replicas = new(int32(0))
			f.rss[0].Status = appsv1.ReplicaSetStatus{}
			f.pods = f.pods[1:]
			return ro, f
		}},
		{"routed-nginx", func(t *testing.T) (*v1alpha1.Rollout, *fixture) {
			t.Helper()
			ro, f := pausedAtStep1(t)
			ro.Annotations = nil
			ro.Spec.Strategy.Canary.CanaryService, ro.Spec.Strategy.Canary.StableService = "my-app-canary", "my-app-stable"
			ro.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "my-app"}}
			ro.Status.Canary.Weights = &v1alpha1.TrafficWeights{
				Canary: v1alpha1.WeightDestination{Weight: 20, ServiceName: "my-app-canary", PodTemplateHash: "6d4f8b9c7"},
				Stable: v1alpha1.WeightDestination{Weight: 80, ServiceName: "my-app-stable", PodTemplateHash: "5c7b9d8f6"},
			}
			return ro, f
		}},
		{"indefinite-pause-user-paused", func(t *testing.T) (*v1alpha1.Rollout, *fixture) {
			t.Helper()
			ro, f := pausedAtStep1(t)
			ro.Spec.Strategy.Canary.Steps[1].Pause.Duration = nil
			ro.Spec.Paused = true
			ro.Status.Message = "manually paused"
			return ro, f
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro, f := tc.build(t)
			info := view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, Now: now})
			golden(t, "tree-"+tc.name+".txt", view.Tree(&info, view.Options{}))
		})
	}
}

func TestTreeFacts(t *testing.T) {
	ro, f := pausedAtStep1(t)
	info := view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, Now: now})
	if info.Step != "1/3" || *info.SetWeight != 20 || *info.ActualWeight != 25 || info.Traffic.Source != "pods" ||
		info.PauseLeft != "12s" || info.NextStep != "setWeight: 100" {
		b, _ := json.MarshalIndent(info, "", "  ")
		t.Fatalf("info:\n%s", b)
	}
	if c := info.Revisions[0].ReplicaSets[0]; c.Traffic != 25 || c.Tags[0] != "canary" {
		t.Errorf("canary row %+v", c)
	}
	if s := info.Revisions[1].ReplicaSets[0]; s.Traffic != 75 || s.Tags[0] != "stable" {
		t.Errorf("stable row %+v", s)
	}
	colored := view.Tree(&info, view.Options{Color: true})
	if !strings.Contains(colored, "\x1b[") {
		t.Error("Color: true printed no ANSI escape")
	}
	if strings.Contains(view.Tree(&info, view.Options{}), "\x1b[") {
		t.Error("Color: false printed ANSI escapes")
	}
}

func TestList(t *testing.T) {
	a, _ := pausedAtStep1(t)
	b := loadRollout(t)
	b.Name, b.Namespace = "other", "team-b"
	idx := int32(3)
	b.Status = v1alpha1.RolloutStatus{
		ObservedGeneration: "2", Phase: v1alpha1.RolloutPhaseHealthy, CurrentPodHash: "x", StableRS: "x",
		CurrentStepIndex: &idx, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
	}
	golden(t, "list-all-namespaces.txt", view.List([]v1alpha1.Rollout{*a, *b}, true, view.Options{}))
	if got := view.List(nil, false, view.Options{}); got != "No Rollouts found.\n" {
		t.Errorf("empty list: %q", got)
	}
}

func TestPlanTable(t *testing.T) {
	basic := loadRollout(t).Spec.Strategy.Canary
	zero := intstr.FromInt32(0)
	for _, tc := range []struct {
		name     string
		replicas int32
		canary   func() *v1alpha1.CanaryStrategy
	}{
		{"rollout-basic", 3, func() *v1alpha1.CanaryStrategy { return basic.DeepCopy() }},
		{"rollout-basic-5-replicas", 5, func() *v1alpha1.CanaryStrategy { return basic.DeepCopy() }},
		{"rollout-basic-7-replicas-max-surge-0", 7, func() *v1alpha1.CanaryStrategy {
			c := basic.DeepCopy()
			c.MaxSurge = &zero
			return c
		}},
		{"rollout-basic-nginx", 3, func() *v1alpha1.CanaryStrategy {
			c := basic.DeepCopy()
			c.CanaryService, c.StableService = "my-app-canary", "my-app-stable"
			c.TrafficRouting = &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "my-app"}}
			return c
		}},
		{"weight-33-indefinite", 3, func() *v1alpha1.CanaryStrategy {
			c := basic.DeepCopy()
			c.Steps = []v1alpha1.CanaryStep{{SetWeight: new(int32(33))}, {Pause: &v1alpha1.RolloutPause{}}, {SetWeight: new(int32(67))}, {Pause: &v1alpha1.RolloutPause{}}}
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, "plan-"+tc.name+".txt", view.PlanTable(view.PlanInput{Name: "my-rollout", Replicas: tc.replicas, Canary: tc.canary()}, view.Options{}))
		})
	}
}

// loadBlueGreen reads the repository's examples/bluegreen/rollout.yaml (its Rollout).
func loadBlueGreen(t *testing.T) *v1alpha1.Rollout {
	t.Helper()
	b, err := os.ReadFile("../../../examples/bluegreen/rollout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(b), "\n---")
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict([]byte(doc), ro); err != nil {
		t.Fatal(err)
	}
	ro.Namespace = "default"
	ro.UID = "ro-uid"
	ro.Generation = 2
	ro.CreationTimestamp = ago(10 * time.Minute)
	return ro
}

func TestBlueGreenPlanTable(t *testing.T) {
	example := loadBlueGreen(t).Spec.Strategy.BlueGreen
	analysis := func(name string) *v1alpha1.RolloutAnalysis {
		return &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: name}}}
	}
	for _, tc := range []struct {
		name     string
		replicas int32
		bg       func() *v1alpha1.BlueGreenStrategy
	}{
		{"bluegreen-example", 3, func() *v1alpha1.BlueGreenStrategy { return example.DeepCopy() }},
		{"bluegreen-preview-1-analyses-timed", 4, func() *v1alpha1.BlueGreenStrategy {
			bg := example.DeepCopy()
			bg.AutoPromotionEnabled, bg.AutoPromotionSeconds = nil, 60
			bg.PreviewReplicaCount = new(int32(1))
			bg.PrePromotionAnalysis, bg.PostPromotionAnalysis = analysis("smoke-test"), analysis("success-rate")
			bg.ScaleDownDelaySeconds, bg.AbortScaleDownDelaySeconds = nil, new(int32(0))
			return bg
		}},
		{"bluegreen-auto-no-preview", 2, func() *v1alpha1.BlueGreenStrategy {
			return &v1alpha1.BlueGreenStrategy{ActiveService: "my-app", ScaleDownDelaySeconds: new(int32(0))}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, "plan-"+tc.name+".txt", view.BlueGreenPlanTable(view.BlueGreenPlanInput{Name: "my-app", Replicas: tc.replicas, BlueGreen: tc.bg()}, view.Options{}))
		})
	}
}

// blueGreenPaused is examples/bluegreen paused before the cut-over (BlueGreenPause): the new
// version's 3 pods behind the preview Service, the active Service on the old one.
func blueGreenPaused(t *testing.T) (*v1alpha1.Rollout, *fixture) {
	t.Helper()
	ro := loadBlueGreen(t)
	ro.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	ro.Status = v1alpha1.RolloutStatus{
		ObservedGeneration: "2", Phase: v1alpha1.RolloutPhasePaused, Message: "BlueGreenPause",
		CurrentPodHash: "6d4f8b9c7", StableRS: "5c7b9d8f6",
		PauseConditions: []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause, StartTime: ago(8 * time.Second)}},
		ControllerPause: true,
		BlueGreen:       v1alpha1.BlueGreenStatus{ActiveSelector: "5c7b9d8f6", PreviewSelector: "6d4f8b9c7"},
		Replicas:        6, UpdatedReplicas: 3, ReadyReplicas: 6, AvailableReplicas: 6,
	}
	f := &fixture{}
	f.rs(ro, "6d4f8b9c7", 2, "nginx:1.26", 3, 3, 0, 12*time.Second)
	f.rs(ro, "5c7b9d8f6", 1, "nginx:1.25", 3, 3, 0, 10*time.Minute)
	return ro, f
}

func bgRun(ro *v1alpha1.Rollout, name, typ string, phase v1alpha1.AnalysisPhase, age time.Duration) v1alpha1.AnalysisRun {
	return v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ro.Namespace, CreationTimestamp: ago(age),
			Labels:      map[string]string{v1alpha1.LabelRolloutType: typ, v1alpha1.LabelPodTemplateHash: ro.Status.CurrentPodHash},
			Annotations: map[string]string{v1alpha1.AnnotationRevision: "2"},
		},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{Name: "success-rate"}}},
		Status: v1alpha1.AnalysisRunStatus{Phase: phase, MetricResults: []v1alpha1.MetricResult{
			{Name: "success-rate", Phase: phase, Count: 1, Successful: 1, Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: "[0.99]"}}},
		}},
	}
}

func TestTreeBlueGreen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) (*v1alpha1.Rollout, *fixture, []v1alpha1.AnalysisRun)
	}{
		{"paused", func(t *testing.T) (*v1alpha1.Rollout, *fixture, []v1alpha1.AnalysisRun) {
			t.Helper()
			ro, f := blueGreenPaused(t)
			return ro, f, nil
		}},
		// Cut over, the post-promotion analysis running after a successful pre-promotion one.
		{"post-promotion-analysis", func(t *testing.T) (*v1alpha1.Rollout, *fixture, []v1alpha1.AnalysisRun) {
			t.Helper()
			ro, f := blueGreenPaused(t)
			bg := ro.Spec.Strategy.BlueGreen
			bg.PrePromotionAnalysis = &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "smoke-test"}}}
			bg.PostPromotionAnalysis = &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "success-rate"}}}
			st := &ro.Status
			st.Phase, st.Message, st.PauseConditions, st.ControllerPause = v1alpha1.RolloutPhaseProgressing, "", nil, false
			st.BlueGreen.ActiveSelector, st.BlueGreen.ScaleUpPreviewCheckPoint = "6d4f8b9c7", true
			st.BlueGreen.PrePromotionAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "my-app-6d4f8b9c7-2-pre", Status: v1alpha1.AnalysisPhaseSuccessful}
			st.BlueGreen.PostPromotionAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "my-app-6d4f8b9c7-2-post", Status: v1alpha1.AnalysisPhaseRunning}
			runs := []v1alpha1.AnalysisRun{
				bgRun(ro, "my-app-6d4f8b9c7-2-pre", v1alpha1.RolloutTypePrePromotion, v1alpha1.AnalysisPhaseSuccessful, time.Minute),
				bgRun(ro, "my-app-6d4f8b9c7-2-post", v1alpha1.RolloutTypePostPromotion, v1alpha1.AnalysisPhaseRunning, 10*time.Second),
			}
			return ro, f, runs
		}},
		// Promoted: the old version waits for its scale-down deadline.
		{"promoted-delay", func(t *testing.T) (*v1alpha1.Rollout, *fixture, []v1alpha1.AnalysisRun) {
			t.Helper()
			ro, f := blueGreenPaused(t)
			st := &ro.Status
			st.Phase, st.Message, st.PauseConditions, st.ControllerPause = v1alpha1.RolloutPhaseHealthy, "", nil, false
			st.StableRS = st.CurrentPodHash
			st.BlueGreen = v1alpha1.BlueGreenStatus{ActiveSelector: "6d4f8b9c7", PreviewSelector: "6d4f8b9c7", ScaleUpPreviewCheckPoint: true}
			f.rss[1].Annotations[v1alpha1.AnnotationScaleDownDeadline] = now.Add(7 * time.Second).Format(time.RFC3339)
			return ro, f, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro, f, runs := tc.build(t)
			info := view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, AnalysisRuns: runs, Now: now})
			out := view.Tree(&info, view.Options{})
			for _, canaryOnly := range []string{"SetWeight", "ActualWeight", "canary", "of pods", "Step:"} {
				if strings.Contains(out, canaryOnly) {
					t.Errorf("a blue-green Rollout shows %q:\n%s", canaryOnly, out)
				}
			}
			golden(t, "tree-bluegreen-"+tc.name+".txt", out)
		})
	}
}

func TestTreeBlueGreenFacts(t *testing.T) {
	ro, f := blueGreenPaused(t)
	info := view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, Now: now})
	if info.Strategy != "BlueGreen" || info.SetWeight != nil || info.ActualWeight != nil || info.Step != "" ||
		info.BlueGreen == nil || info.BlueGreen.ActiveSelector != "5c7b9d8f6" || info.BlueGreen.PreviewSelector != "6d4f8b9c7" ||
		info.PauseLeft != "until promoted" || info.Traffic.Source != "activeService" {
		b, _ := json.MarshalIndent(info, "", "  ")
		t.Fatalf("info:\n%s", b)
	}
	if p, a := info.Revisions[0].ReplicaSets[0], info.Revisions[1].ReplicaSets[0]; strings.Join(p.Tags, ",") != "preview" || p.Traffic != 0 ||
		strings.Join(a.Tags, ",") != "stable,active" || a.Traffic != 100 {
		t.Errorf("rows: preview %+v, active %+v", p, a)
	}
	if got := fmt.Sprint(info.Images); got != "[{nginx:1.25 [active stable]} {nginx:1.26 [preview]}]" {
		t.Errorf("images %s", got)
	}
	// autoPromotionSeconds: the time left.
	ro.Spec.Strategy.BlueGreen.AutoPromotionEnabled, ro.Spec.Strategy.BlueGreen.AutoPromotionSeconds = nil, 30
	info = view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, Now: now})
	if info.PauseLeft != "22s" {
		t.Errorf("pause left %q, want 22s", info.PauseLeft)
	}
}
