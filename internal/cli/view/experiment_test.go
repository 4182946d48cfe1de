package view_test

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

// stepExperiment is the Experiment of rollout-basic's step 2 (index 1) at revision 2, 10 s
// into its 1m duration: a baseline (stable image) and a canary template, each with one ready
// pod, and a Running required analysis.
func stepExperiment(ro *v1alpha1.Rollout) view.ExperimentInput {
	ctrl := true
	ex := &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{
			Name: "my-rollout-6d4f8b9c7-2-1", Namespace: ro.Namespace, UID: "ex-uid", CreationTimestamp: ago(20 * time.Second),
			Labels:          map[string]string{v1alpha1.LabelStepIndex: "1"},
			Annotations:     map[string]string{v1alpha1.AnnotationRevision: "2"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Rollout", Name: ro.Name, UID: ro.UID, Controller: &ctrl}},
		},
		Spec: v1alpha1.ExperimentSpec{Duration: "1m"},
		Status: v1alpha1.ExperimentStatus{
			Phase: v1alpha1.AnalysisPhaseRunning, AvailableAt: new(ago(10 * time.Second)),
			AnalysisRuns: []v1alpha1.ExperimentAnalysisRunStatus{{Name: "compare", AnalysisRun: "my-rollout-6d4f8b9c7-2-1-compare", Phase: v1alpha1.AnalysisPhaseRunning}},
		},
	}
	in := view.ExperimentInput{Experiment: ex, Now: now}
	for i, name := range []string{"baseline", "canary"} {
		image := []string{"nginx:1.25", "nginx:1.26"}[i]
		ex.Spec.Templates = append(ex.Spec.Templates, v1alpha1.TemplateSpec{Name: name, Template: v1alpha1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "my-app", Image: image}}},
		}})
		ts := v1alpha1.TemplateStatus{Name: name, Status: v1alpha1.TemplateStatusRunning, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		if name == "canary" {
			ts.ServiceName = ex.Name + "-canary"
		}
		ex.Status.TemplateStatuses = append(ex.Status.TemplateStatuses, ts)
		one := int32(1)
		rs := appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: ex.Name + "-" + name, Namespace: ro.Namespace, UID: types.UID("rs-" + name), CreationTimestamp: ago(20 * time.Second),
				Labels:          map[string]string{v1alpha1.LabelPodTemplateHash: "h" + name},
				Annotations:     map[string]string{v1alpha1.AnnotationExperimentName: ex.Name, v1alpha1.AnnotationExperimentTemplateName: name},
				OwnerReferences: []metav1.OwnerReference{{Kind: "Experiment", Name: ex.Name, UID: ex.UID, Controller: &ctrl}},
			},
			Spec:   appsv1.ReplicaSetSpec{Replicas: &one},
			Status: appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1},
		}
		in.ReplicaSets = append(in.ReplicaSets, rs)
		in.Pods = append(in.Pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: rs.Name + "-xyz12", Namespace: ro.Namespace, CreationTimestamp: ago(20 * time.Second),
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &ctrl}},
			},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "my-app", Image: image}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "my-app", Ready: true}}},
		})
	}
	in.AnalysisRuns = []v1alpha1.AnalysisRun{{
		ObjectMeta: metav1.ObjectMeta{Name: "my-rollout-6d4f8b9c7-2-1-compare", Namespace: ro.Namespace, CreationTimestamp: ago(9 * time.Second)},
		Spec:       v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{Name: "error-rate"}}},
		Status:     v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseRunning},
	}}
	return in
}

func TestExperimentDetail(t *testing.T) {
	ro, _ := pausedAtStep1(t)
	info := view.BuildExperiment(stepExperiment(ro))
	if info.Rollout != "my-rollout" || info.Remaining != "50s" || len(info.Templates) != 2 || info.Templates[1].ReplicaSet == nil ||
		len(info.Templates[1].ReplicaSet.Pods) != 1 || info.Templates[1].Service != "my-rollout-6d4f8b9c7-2-1-canary" {
		t.Fatalf("info %+v", info)
	}
	golden(t, "experiment-running.txt", view.ExperimentDetail(&info, view.Options{}))
}

func TestTreeWithExperiment(t *testing.T) {
	ro, f := pausedAtStep1(t)
	ro.Status.PauseConditions, ro.Status.ControllerPause, ro.Status.Phase, ro.Status.Message = nil, false, v1alpha1.RolloutPhaseProgressing, ""
	ro.Spec.Strategy.Canary.Steps[1] = v1alpha1.CanaryStep{Experiment: &v1alpha1.RolloutExperimentStep{Duration: "1m"}}
	ro.Status.Canary.CurrentExperiment = "my-rollout-6d4f8b9c7-2-1"
	info := view.Build(view.Input{Rollout: ro, ReplicaSets: f.rss, Pods: f.pods, Experiments: []view.ExperimentInput{stepExperiment(ro)}, Now: now})
	if len(info.Revisions) != 2 || len(info.Revisions[0].Experiments) != 1 || info.Revisions[0].Number != 2 {
		t.Fatalf("revisions %+v", info.Revisions)
	}
	out := view.Tree(&info, view.Options{})
	if !strings.Contains(out, "└──Σ my-rollout-6d4f8b9c7-2-1") {
		t.Errorf("the experiment is not the last item of revision 2:\n%s", out)
	}
	golden(t, "tree-experiment.txt", out)
}
