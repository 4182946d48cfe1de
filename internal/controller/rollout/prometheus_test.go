package rollout_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider/prometheus/prometheustest"
)

// successRateQuery is the share of non-5xx requests of a service over the last 5 s.
const successRateQuery = `sum(rate(http_requests_total{service="{{args.service}}",code!~"5.."}[5s])) / sum(rate(http_requests_total{service="{{args.service}}"}[5s]))`

func successRateTemplate(address string, count int32) *v1alpha1.AnalysisTemplate {
	m := v1alpha1.Metric{
		Name: "success-rate", Interval: "2s",
		SuccessCondition: "len(result) > 0 && result[0] >= 0.95",
		Provider:         v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: address, Query: successRateQuery}},
	}
	if count > 0 {
		m.Count = new(intstr.FromInt32(count))
	}
	return &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "success-rate"},
		Spec:       v1alpha1.AnalysisTemplateSpec{Args: []v1alpha1.Argument{{Name: "service"}}, Metrics: []v1alpha1.Metric{m}},
	}
}

func successRateRef(service string) map[string]any {
	return map[string]any{
		"templates": []any{map[string]any{"templateName": "success-rate"}},
		"args":      []any{map[string]any{"name": "service", "value": service}},
	}
}

// The canary's analysis through a real Prometheus that scrapes a real exporter whose error
// ratio the test sets: the Rollout sees it only through PromQL.
func TestPrometheusAnalysis(t *testing.T) {
	t.Parallel()
	prom := prometheustest.Start(t)
	exp := prom.Exporter()
	stream := func(t *testing.T, service string) *prometheustest.Stream {
		t.Helper()
		s := exp.Requests(t, prometheustest.Requests{Labels: map[string]string{"service": service}, Rate: 50})
		prom.WaitForQuery(t, strings.ReplaceAll(successRateQuery, "{{args.service}}", service), prometheustest.Near(1, 1e-9))
		return s
	}
	waitRatio := func(t *testing.T, service string, ratio float64) {
		t.Helper()
		prom.WaitForQuery(t, strings.ReplaceAll(successRateQuery, "{{args.service}}", service), prometheustest.Near(ratio, 0.02))
	}

	t.Run("a healthy canary passes, one at 20% errors aborts", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := stream(t, "step")
		e.createObj(successRateTemplate(prom.Address(), 3))
		steps := []any{map[string]any{"setWeight": int64(20)}, map[string]any{"analysis": successRateRef("step")}, map[string]any{"setWeight": int64(60)}}
		rsS, svcS, splitS := smiRollout(t, e, 5, steps, nil)
		e.setImage("my-rollout", "nginx:1.26")
		e.waitHealthy("my-rollout", 2*time.Minute)
		e.expectRun("my-rollout", "Step", v1alpha1.AnalysisPhaseSuccessful)

		s.SetErrorRatio(0.2)
		waitRatio(t, "step", 0.8)
		e.setImage("my-rollout", "nginx:1.27")
		e.waitFor(2*time.Minute, func() string {
			ro := e.rollout("my-rollout")
			running, _ := e.pods(map[string]string{"app": "my-app"})
			if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || running[ro.Status.CurrentPodHash] > 0 {
				return fmt.Sprintf("waiting for the abort: %s %q, pods %s", ro.Status.Phase, ro.Status.Message, counts(running))
			}
			return ""
		})
		msg := e.rollout("my-rollout").Status.Message
		if !strings.Contains(msg, `Metric "success-rate" assessed Failed`) || !strings.Contains(msg, "last value [0.8") {
			t.Fatalf("Degraded message %q does not name the metric and the measured value", msg)
		}
		noOverload(t, 5, rsS, svcS, splitS)
		t.Logf("Degraded: %s", msg)
	})

	t.Run("background analysis that turns bad after step 2 aborts", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		s := stream(t, "background")
		e.createObj(successRateTemplate(prom.Address(), 0))
		bg := successRateRef("background")
		bg["startingStep"] = int64(2)
		steps := []any{
			map[string]any{"setWeight": int64(20)}, map[string]any{"pause": map[string]any{"duration": "1s"}},
			map[string]any{"setWeight": int64(40)}, map[string]any{"pause": map[string]any{}},
		}
		rsS, svcS, splitS := smiRollout(t, e, 5, steps, map[string]any{"analysis": bg})
		e.setImage("my-rollout", "nginx:1.26")
		e.waitFor(time.Minute, func() string {
			st := e.rollout("my-rollout").Status
			s := st.Canary.CurrentBackgroundAnalysisRunStatus
			if ptr.Deref(st.CurrentStepIndex, 0) != 3 || s == nil || s.Status != v1alpha1.AnalysisPhaseRunning {
				return fmt.Sprintf("waiting for the pause at 40%% with the background run going: step %d, %+v", ptr.Deref(st.CurrentStepIndex, 0), s)
			}
			return ""
		})
		s.SetErrorRatio(0.2)
		e.waitFor(time.Minute, func() string {
			ro := e.rollout("my-rollout")
			running, _ := e.pods(map[string]string{"app": "my-app"})
			if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || running[ro.Status.CurrentPodHash] > 0 {
				return fmt.Sprintf("waiting for the abort: %s %q, pods %s", ro.Status.Phase, ro.Status.Message, counts(running))
			}
			return ""
		})
		noOverload(t, 5, rsS, svcS, splitS)
	})

	t.Run("no samples is said as such", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		tpl := successRateTemplate(prom.Address(), 1)
		tpl.Spec.Metrics[0].SuccessCondition = "result[0] >= 0.95" // unguarded, as people write it
		tpl.Spec.Metrics[0].ConsecutiveErrorLimit = new(intstr.FromInt32(0))
		e.createObj(tpl)
		steps := []any{map[string]any{"setWeight": int64(20)}, map[string]any{"analysis": successRateRef("chekout")}} // a typo
		smiRollout(t, e, 3, steps, nil)
		e.setImage("my-rollout", "nginx:1.26")
		e.waitFor(time.Minute, func() string {
			if st := e.rollout("my-rollout").Status; st.Phase != v1alpha1.RolloutPhaseDegraded {
				return fmt.Sprintf("waiting for the abort: %s %q", st.Phase, st.Message)
			}
			return ""
		})
		var m v1alpha1.Measurement
		for _, r := range e.runs() {
			if len(r.Status.MetricResults) > 0 && len(r.Status.MetricResults[0].Measurements) > 0 {
				m = r.Status.MetricResults[0].Measurements[0]
			}
		}
		if m.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(m.Message, "no samples") || !strings.Contains(m.Message, `service="chekout"`) {
			t.Fatalf("measurement %+v: want an Error that says the query returned no samples, with the query", m)
		}
		t.Logf("measurement message: %s", m.Message)
	})
}
