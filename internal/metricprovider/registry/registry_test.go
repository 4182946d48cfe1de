package registry_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/registry"
)

func TestFor(t *testing.T) {
	r := registry.New(metricprovider.Deps{Namespace: "sluice"})
	for key, p := range map[string]v1alpha1.MetricProvider{
		"datadog":    {Datadog: &v1alpha1.DatadogMetric{}},
		"newRelic":   {NewRelic: &v1alpha1.NewRelicMetric{}},
		"cloudWatch": {CloudWatch: &v1alpha1.CloudWatchMetric{}},
		"wavefront":  {Wavefront: &v1alpha1.WavefrontMetric{}},
		"graphite":   {Graphite: &v1alpha1.GraphiteMetric{}},
		"influxdb":   {Influxdb: &v1alpha1.InfluxdbMetric{}},
		"skywalking": {SkyWalking: &v1alpha1.SkyWalkingMetric{}},
		"kayenta":    {Kayenta: &v1alpha1.KayentaMetric{}},
	} {
		got, err := r.For(v1alpha1.Metric{Name: "m", Provider: p})
		if err != nil || got.Type() != key {
			t.Errorf("%s: got %v, %v", key, got, err)
		}
	}
}

func TestForErrors(t *testing.T) {
	r := registry.New(metricprovider.Deps{})
	for name, tc := range map[string]struct {
		p    v1alpha1.MetricProvider
		want string
	}{
		"none":    {v1alpha1.MetricProvider{}, `metric "m" sets no provider`},
		"several": {v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{}, Graphite: &v1alpha1.GraphiteMetric{}}, "sets 2 providers (datadog, graphite)"},
		"plugin": {v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{"argoproj-labs/sample": []byte(`{}`)}},
			`metric provider plugins are not supported by sluice: metric "m" uses plugin "argoproj-labs/sample"`},
	} {
		p, err := r.For(v1alpha1.Metric{Name: "m", Provider: tc.p})
		if err == nil || p != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, %v; want error %q", name, p, err, tc.want)
		}
	}
	// A provider whose package is not registered (yet) is reported, not a panic.
	for _, p := range []v1alpha1.MetricProvider{{Prometheus: &v1alpha1.PrometheusMetric{}}, {Web: &v1alpha1.WebMetric{}}, {Job: &v1alpha1.JobMetric{}}} {
		got, err := r.For(v1alpha1.Metric{Name: "m", Provider: p})
		if got == nil && (err == nil || !strings.Contains(err.Error(), "is not available")) {
			t.Errorf("%v: got %v, want not available", metricprovider.Types(p), err)
		}
	}
}
