package metrics

import (
	"encoding/json"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Argo's metric phase of every Progressing reason (the local-cluster test sees Completed and
// Paused only).
func TestRolloutMetricPhase(t *testing.T) {
	progressing := func(reason string) v1alpha1.RolloutCondition {
		return v1alpha1.RolloutCondition{Type: v1alpha1.RolloutProgressing, Status: corev1.ConditionTrue, Reason: reason}
	}
	invalid := v1alpha1.RolloutCondition{Type: v1alpha1.RolloutInvalidSpec, Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonInvalidSpec}
	for _, tc := range []struct {
		conditions []v1alpha1.RolloutCondition
		want       string
	}{
		{nil, "Progressing"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonNewReplicaSetAvailable)}, "Completed"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonRolloutPaused)}, "Paused"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonReplicaSetCreateError)}, "Error"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonProgressDeadlineExceeded)}, "Timeout"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonRolloutAborted)}, "Abort"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonReplicaSetUpdated)}, "Progressing"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonRolloutResumed)}, "Progressing"},
		{[]v1alpha1.RolloutCondition{progressing(v1alpha1.ReasonRolloutPaused), invalid}, "InvalidSpec"},
		{[]v1alpha1.RolloutCondition{invalid, progressing(v1alpha1.ReasonNewReplicaSetAvailable)}, "InvalidSpec"},
	} {
		if got := rolloutMetricPhase(&v1alpha1.RolloutStatus{Conditions: tc.conditions}); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.conditions, got, tc.want)
		}
	}
}

func TestStrategyAndRouter(t *testing.T) {
	canary := func(tr *v1alpha1.RolloutTrafficRouting) v1alpha1.RolloutStrategy {
		return v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{TrafficRouting: tr}}
	}
	for _, tc := range []struct {
		strategy       v1alpha1.RolloutStrategy
		want, wantRout string
	}{
		{v1alpha1.RolloutStrategy{}, "none", ""},
		{v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}}, "blueGreen", ""},
		{canary(nil), "canary", ""},
		{canary(&v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{}}), "canary", "Nginx"},
		{canary(&v1alpha1.RolloutTrafficRouting{Istio: &v1alpha1.IstioTrafficRouting{}}), "canary", "Istio"},
		{canary(&v1alpha1.RolloutTrafficRouting{SMI: &v1alpha1.SMITrafficRouting{}}), "canary", "SMI"},
		{canary(&v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{}}), "canary", "ALB"},
		// The last in Argo's order wins.
		{canary(&v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{}, Istio: &v1alpha1.IstioTrafficRouting{}}), "canary", "Istio"},
		// Routers Argo's metrics do not name.
		{canary(&v1alpha1.RolloutTrafficRouting{Plugins: map[string]json.RawMessage{"argoproj-labs/gatewayAPI": json.RawMessage("{}")}}), "canary", ""},
		{canary(&v1alpha1.RolloutTrafficRouting{Traefik: &v1alpha1.TraefikTrafficRouting{}}), "canary", ""},
	} {
		s, r := strategyAndRouter(&v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: tc.strategy}})
		if s != tc.want || r != tc.wantRout {
			t.Errorf("%+v: %q %q, want %q %q", tc.strategy, s, r, tc.want, tc.wantRout)
		}
	}
}

func TestProviderType(t *testing.T) {
	for _, tc := range []struct {
		p    v1alpha1.MetricProvider
		want string
	}{
		{v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{}}, "Prometheus"},
		{v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}, "Job"},
		{v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}, "Web"},
		{v1alpha1.MetricProvider{NewRelic: &v1alpha1.NewRelicMetric{}}, "NewRelic"},
		{v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{}}, "CloudWatch"},
		{v1alpha1.MetricProvider{Influxdb: &v1alpha1.InfluxdbMetric{}}, "Influxdb"},
		{v1alpha1.MetricProvider{SkyWalking: &v1alpha1.SkyWalkingMetric{}}, "skywalking"},
		{v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{"x": nil}}, "RPCPlugin"},
		{v1alpha1.MetricProvider{}, "Unknown Provider"},
	} {
		if got := providerType(&tc.p); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.p, got, tc.want)
		}
	}
}

// The CPU a scrape spends on the state gauges, per Rollout with one AnalysisRun of two metrics
// (the cache list itself is a slice of pointers, not copied).
func BenchmarkCollect(b *testing.B) {
	replicas := int32(5)
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ro"},
		Spec:       v1alpha1.RolloutSpec{Replicas: &replicas, Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}}},
		Status: v1alpha1.RolloutStatus{Replicas: 5, AvailableReplicas: 5, UpdatedReplicas: 1, Conditions: []v1alpha1.RolloutCondition{
			{Type: v1alpha1.RolloutProgressing, Reason: v1alpha1.ReasonRolloutPaused},
		}},
	}
	run := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "run"},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{
			{Name: "a", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}},
			{Name: "b", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{}}},
		}},
		Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseRunning},
	}
	ch := make(chan prometheus.Metric, 64)
	done := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		done <- n
	}()
	b.ResetTimer()
	for range b.N {
		collectRollout(ch, ro)
		collectAnalysisRun(ch, run)
	}
	close(ch)
	b.ReportMetric(float64(<-done)/float64(b.N), "series/op")
}
