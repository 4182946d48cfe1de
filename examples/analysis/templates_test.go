// Package analysis_test checks the ClusterAnalysisTemplates of examples/analysis against a real
// Prometheus (prometheustest) that scrapes an exporter serving the series each template reads:
// a canary at a success rate of 1.0 and a fast p99 passes, one at 0.8 (or with a slow p99)
// fails, and one without data is Inconclusive and says so.
package analysis_test

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/prometheus"
	"github.com/sluicehq/sluice/internal/metricprovider/prometheus/prometheustest"
)

// templates reads the ClusterAnalysisTemplates of a file.
func templates(t *testing.T, file string) []v1alpha1.ClusterAnalysisTemplate {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	d := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []v1alpha1.ClusterAnalysisTemplate
	for {
		var tpl v1alpha1.ClusterAnalysisTemplate
		if err := d.Decode(&tpl); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if tpl.Kind != "ClusterAnalysisTemplate" {
			t.Fatalf("%s: a %s; the examples are ClusterAnalysisTemplates", file, tpl.Kind)
		}
		out = append(out, tpl)
	}
	return out
}

// measure takes one measurement of the template's single metric with the Rollout giving args,
// as the controller does: merge the arguments, resolve the placeholders, ask the provider,
// judge the value with the template's conditions.
func measure(t *testing.T, tpl *v1alpha1.ClusterAnalysisTemplate, args map[string]string) v1alpha1.Measurement {
	t.Helper()
	if len(tpl.Spec.Metrics) != 1 {
		t.Fatalf("%s: %d metrics, want 1", tpl.Name, len(tpl.Spec.Metrics))
	}
	var given []v1alpha1.AnalysisRunArgument
	for k, v := range args {
		given = append(given, v1alpha1.AnalysisRunArgument{Name: k, Value: v})
	}
	merged, err := analysis.MergeArgs(tpl.Spec.Args, analysis.RolloutArgs{Args: given})
	if err != nil {
		t.Fatalf("%s: %v", tpl.Name, err)
	}
	values, _, err := analysis.ArgValues(merged, nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", tpl.Name, err)
	}
	m, err := analysis.ResolveMetric(&tpl.Spec.Metrics[0], values)
	if err != nil {
		t.Fatalf("%s: %v", tpl.Name, err)
	}
	now := time.Now()
	r := prometheus.New().Measure(t.Context(), metricprovider.Request{Metric: m, Now: now})
	return analysis.Measurement(&m, r, now, now, nil)
}

// expect measures until the phase is want (the rate() windows need a few scrapes first).
func expect(t *testing.T, tpl *v1alpha1.ClusterAnalysisTemplate, args map[string]string, want v1alpha1.AnalysisPhase) v1alpha1.Measurement {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		m := measure(t, tpl, args)
		if m.Phase == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s with %v: %s (value %q, message %q), want %s", tpl.Name, args, m.Phase, m.Value, m.Message, want)
		}
		time.Sleep(time.Second)
	}
}

func TestExampleTemplatesAgainstPrometheus(t *testing.T) {
	srv := prometheustest.Start(t)
	exp := srv.Exporter()
	fast, slow := 100*time.Millisecond, 2*time.Second
	for _, tc := range []struct {
		file string
		// arg is the argument that names what is measured (a Service, an HTTPRoute);
		// labels are the exporter's labels for a value of it.
		arg     string
		streams func(name string, errorRatio float64, latency time.Duration)
	}{
		{"nginx-ingress.yaml", "service", func(name string, ratio float64, lat time.Duration) {
			exp.Requests(t, prometheustest.Requests{
				Metric: "nginx_ingress_controller_requests", CodeLabel: "status",
				Labels:        map[string]string{"namespace": "shop", "service": name, "ingress": "my-app-canary"},
				ErrorRatio:    ratio,
				LatencyMetric: "nginx_ingress_controller_request_duration_seconds", Latency: lat,
			})
		}},
		{"istio.yaml", "service", func(name string, ratio float64, lat time.Duration) {
			exp.Requests(t, prometheustest.Requests{
				Metric: "istio_requests_total", CodeLabel: "response_code",
				Labels:        map[string]string{"reporter": "destination", "destination_service_namespace": "shop", "destination_service_name": name},
				ErrorRatio:    ratio,
				LatencyMetric: "istio_request_duration_milliseconds", Latency: lat, LatencyUnit: time.Millisecond,
			})
		}},
		{"gateway-api-envoy-gateway.yaml", "route", func(name string, ratio float64, lat time.Duration) {
			cluster := map[string]string{"envoy_cluster_name": "httproute/shop/" + name + "/rule/0"}
			exp.Requests(t, prometheustest.Requests{
				Metric: "envoy_cluster_upstream_rq_xx", CodeLabel: "envoy_response_code_class", OKCode: "2", ErrorCode: "5",
				Labels: cluster, ErrorRatio: ratio,
				LatencyMetric: "envoy_cluster_upstream_rq_time", Latency: lat, LatencyUnit: time.Millisecond,
			})
			// Every request again in the total, as Envoy counts it.
			exp.Requests(t, prometheustest.Requests{
				Metric: "envoy_cluster_upstream_rq_total", CodeLabel: "envoy_response_code", Labels: cluster, ErrorRatio: ratio,
			})
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			prefix := strings.TrimSuffix(tc.file, ".yaml")
			good, bad, slowName := prefix+"-good", prefix+"-bad", prefix+"-slow"
			tc.streams(good, 0, fast)
			tc.streams(bad, 0.2, fast)
			tc.streams(slowName, 0, slow)
			tpls := templates(t, tc.file)
			if len(tpls) != 2 {
				t.Fatalf("%d templates, want success rate and latency", len(tpls))
			}
			for i := range tpls {
				tpl := &tpls[i]
				args := func(name string) map[string]string {
					return map[string]string{tc.arg: name, "namespace": "shop", "prometheus-address": srv.Address()}
				}
				t.Run(tpl.Name, func(t *testing.T) {
					ok := expect(t, tpl, args(good), v1alpha1.AnalysisPhaseSuccessful)
					failing := bad // a success rate of 0.8
					if strings.Contains(tpl.Name, "latency") {
						failing = slowName // a p99 of 2 s
					}
					failed := expect(t, tpl, args(failing), v1alpha1.AnalysisPhaseFailed)
					// Nothing matches: the canary must not pass, and the measurement says why. The
					// guarded conditions make it Inconclusive (a pause, not an abort).
					none := measure(t, tpl, args("nobody"))
					if none.Phase != v1alpha1.AnalysisPhaseInconclusive {
						t.Errorf("no data: %s, want Inconclusive", none.Phase)
					}
					if !strings.Contains(none.Message, "no data") && !strings.Contains(none.Message, "no samples") {
						t.Errorf("no data: message %q does not say so", none.Message)
					}
					t.Logf("good %s, %s %s, none: %s %s", ok.Value, failing, failed.Value, none.Phase, none.Message)
					if strings.Contains(tpl.Name, "success") && !strings.HasPrefix(failed.Value, "[0.8") && !strings.HasPrefix(failed.Value, "[0.79") {
						t.Errorf("success rate at 20 %% errors: %s", failed.Value)
					}
				})
			}
		})
	}
}
