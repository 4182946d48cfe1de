package clitest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

// An AnalysisRun as the controller leaves it (written through the status subresource, no
// controller running): `get rollout` shows it under its revision with its metrics, `get
// analysisrun` every measurement, the secretKeyRef argument as secret:NAME/KEY.
func TestGetAnalysisRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ro := loadBasic(t)
	ro.Namespace = e.ns
	ro.Spec.Strategy.Canary.Steps[1] = v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "nginx-ingress-success-rate", ClusterScope: true}},
	}}
	if err := e.c.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	idx := int32(1)
	ro.Status = v1alpha1.RolloutStatus{
		ObservedGeneration: "1", Phase: v1alpha1.RolloutPhaseDegraded, Abort: true, CurrentStepIndex: &idx,
		CurrentPodHash: "bbbbbbbbb", StableRS: "aaaaaaaaa",
		Message: `RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)`,
	}
	ro.Status.Canary.CurrentStepAnalysisRunStatus = &v1alpha1.RolloutAnalysisRunStatus{Name: "my-rollout-bbbbbbbbb-2-1", Status: v1alpha1.AnalysisPhaseFailed}
	if err := e.c.Status().Update(t.Context(), ro); err != nil {
		t.Fatal(err)
	}

	ctrl, one, five := true, intstr.FromInt32(1), intstr.FromInt32(5)
	at := func(s int) *metav1.Time {
		v := metav1.NewTime(time.Now().Add(time.Duration(s) * time.Second).Truncate(time.Second))
		return &v
	}
	run := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{
			Name: "my-rollout-bbbbbbbbb-2-1", Namespace: e.ns,
			Labels: map[string]string{
				v1alpha1.LabelRolloutType: v1alpha1.RolloutTypeStep, v1alpha1.LabelStepIndex: "1", v1alpha1.LabelPodTemplateHash: "bbbbbbbbb",
			},
			Annotations:     map[string]string{v1alpha1.AnnotationRevision: "2"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout", Name: ro.Name, UID: ro.UID, Controller: &ctrl}},
		},
		Spec: v1alpha1.AnalysisRunSpec{
			Args: []v1alpha1.Argument{
				{Name: "service", Value: new("my-app-canary")},
				{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "prometheus", Key: "token"}}},
			},
			Metrics: []v1alpha1.Metric{{
				Name: "success-rate", Interval: "1m", Count: &five, FailureLimit: &one,
				SuccessCondition: "len(result) > 0 && result[0] >= 0.99",
				Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
					Address: "http://prometheus:9090", Query: `sum(rate(requests{service="{{args.service}}",code!~"5.."}[2m])) / sum(rate(requests{service="{{args.service}}"}[2m]))`,
				}},
			}},
		},
	}
	if err := e.c.Create(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	run.Status = v1alpha1.AnalysisRunStatus{
		Phase: v1alpha1.AnalysisPhaseFailed, Message: `Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)`,
		StartedAt: at(-180), CompletedAt: at(-60), RunSummary: v1alpha1.RunSummary{Count: 1, Failed: 1},
		MetricResults: []v1alpha1.MetricResult{{
			Name: "success-rate", Phase: v1alpha1.AnalysisPhaseFailed, Count: 3, Successful: 1, Failed: 2,
			Measurements: []v1alpha1.Measurement{
				{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: "[1]", StartedAt: at(-180), FinishedAt: at(-180)},
				{Phase: v1alpha1.AnalysisPhaseFailed, Value: "[0.8]", StartedAt: at(-120), FinishedAt: at(-120)},
				{Phase: v1alpha1.AnalysisPhaseFailed, Value: "[0.79]", StartedAt: at(-60), FinishedAt: at(-60)},
			},
		}},
	}
	if err := e.c.Status().Update(t.Context(), run); err != nil {
		t.Fatal(err)
	}

	tree := e.ok("get", "rollout", "my-rollout")
	for _, want := range []string{
		"  Analysis:      my-rollout-bbbbbbbbb-2-1 (step) ✖ Failed\n",
		"└──# revision:2\n",
		"└──α my-rollout-bbbbbbbbb-2-1  AnalysisRun  ✖ Failed",
		"step, ✔ 1 ✖ 2\n",
		"└──success-rate",
		"✔ 1 ✖ 2, last [0.79]\n",
	} {
		if !strings.Contains(tree, want) {
			t.Errorf("get rollout lacks %q:\n%s", want, tree)
		}
	}
	var info view.RolloutInfo
	if err := json.Unmarshal([]byte(e.ok("get", "rollout", "my-rollout", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Revisions) != 1 || len(info.Revisions[0].AnalysisRuns) != 1 || info.Revisions[0].AnalysisRuns[0].Metrics[0].Last.Value != "[0.79]" {
		t.Errorf("get rollout -o json: %+v", info.Revisions)
	}

	out := e.ok("get", "analysisrun", "my-rollout-bbbbbbbbb-2-1")
	for _, want := range []string{
		"Status:       ✖ Failed\n",
		`Message:      Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)` + "\n",
		"Rollout:      my-rollout (step analysis, step index 1, revision 2)\n",
		"Args:         service: my-app-canary\n", "              token: secret:prometheus/token\n",
		"Run summary:  1 metric(s), 1 failed\n",
		"Metric success-rate: ✖ Failed\n", "  Success:   len(result) > 0 && result[0] >= 0.99\n",
		"  Schedule:  5 measurements, every 1m\n", "  Limits:    failureLimit 1, inconclusiveLimit 0 (default), consecutiveErrorLimit 4 (default)\n",
		"  Measured:  3 measurement(s): ✔ 1 ✖ 2\n", "✔ Successful  [1]", "✖ Failed      [0.8]", "✖ Failed      [0.79]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("get analysisrun lacks %q:\n%s", want, out)
		}
	}
	var ar view.AnalysisRunInfo
	if err := json.Unmarshal([]byte(e.ok("get", "ar", "my-rollout-bbbbbbbbb-2-1", "-o", "json")), &ar); err != nil {
		t.Fatal(err)
	}
	if ar.Phase != "Failed" || len(ar.Metrics) != 1 || len(ar.Metrics[0].Measurements) != 3 || ar.Args[1].Value != "secret:prometheus/token" {
		t.Errorf("get ar -o json: %+v", ar)
	}
	if _, errs, code := e.sluice("get", "analysisrun", "nope"); code != 1 || !strings.Contains(errs, `analysisrun "nope" not found`) {
		t.Errorf("get analysisrun nope: exit %d, %q", code, errs)
	}
}

// Every ClusterAnalysisTemplate of examples/analysis is accepted by the API server and reads
// back unchanged.
func TestExampleAnalysisTemplatesRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	files, err := filepath.Glob("../../../examples/analysis/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		d := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			var tpl v1alpha1.ClusterAnalysisTemplate
			if err := d.Decode(&tpl); err != nil {
				break
			}
			// Cluster scoped: a name per test namespace, so parallel runs do not collide.
			want := tpl.Spec
			tpl.Name = e.ns + "-" + tpl.Name
			if err := e.c.Create(t.Context(), &tpl); err != nil {
				t.Errorf("%s: %s: %v", file, tpl.Name, err)
				continue
			}
			t.Cleanup(func() { _ = e.c.Delete(context.Background(), &tpl) })
			var got v1alpha1.ClusterAnalysisTemplate
			if err := e.c.Get(t.Context(), types.NamespacedName{Name: tpl.Name}, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Spec, want) {
				a, _ := json.Marshal(want)
				b, _ := json.Marshal(got.Spec)
				t.Errorf("%s: %s reads back changed:\n%s\n%s", file, tpl.Name, a, b)
			}
		}
		_ = f.Close()
	}
}
