package prometheustest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/internal/metricprovider/prometheus/prometheustest"
)

// TestErrorRatioReachesPromQL is the path the analysis tests rely on: the test sets a
// canary's error ratio, and rate() over what Prometheus scraped shows it.
func TestErrorRatioReachesPromQL(t *testing.T) {
	s := prometheustest.Start(t)
	t.Logf("prometheus ready and scraped once after %s", s.Started)
	exp := s.Exporter()
	canary := exp.Requests(t, prometheustest.Requests{
		Labels: map[string]string{"service": "canary"}, Rate: 50,
		LatencyMetric: "http_request_duration_seconds", Latency: 30 * time.Millisecond,
	})
	stable := exp.Requests(t, prometheustest.Requests{Labels: map[string]string{"service": "stable"}, Rate: 50})
	if got := canary.Selector(); got != `http_requests_total{service="canary"}` {
		t.Errorf("Selector %s", got)
	}
	ratio := func(svc string) string {
		return fmt.Sprintf(`sum(rate(http_requests_total{service=%q,code="500"}[3s])) / sum(rate(http_requests_total{service=%q}[3s]))`, svc, svc)
	}
	start := time.Now()
	s.WaitForQuery(t, ratio("canary"), prometheustest.Near(0, 1e-9))
	canary.SetErrorRatio(0.2)
	s.WaitForQuery(t, ratio("canary"), prometheustest.Near(0.2, 1e-6))
	t.Logf("an error ratio of 0.2 showed in rate()[3s] after %s", time.Since(start))
	s.WaitForQuery(t, ratio("stable"), prometheustest.Near(0, 1e-9))
	s.WaitForQuery(t, `sum(rate(http_requests_total{service="stable"}[3s]))`, prometheustest.Near(50, 1))
	stable.SetRate(10)
	s.WaitForQuery(t, `sum(rate(http_requests_total{service="stable"}[2s]))`, prometheustest.Near(10, 1))
	s.WaitForQuery(t, `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{service="canary"}[3s])))`,
		func(v model.Value) bool { return prometheustest.Near(0.03, 0.03)(v) })

	exp.SetGauge(t, "queue_depth", map[string]string{"queue": "a"}, 7)
	s.WaitForQuery(t, `queue_depth{queue="a"}`, prometheustest.Near(7, 0))
	exp.Add(t, "jobs_total", nil, 3)
	s.WaitForQuery(t, `jobs_total`, prometheustest.Near(3, 0))
}

func TestMismatchedLabelsAreRefused(t *testing.T) {
	exp := prometheustest.NewExporter(t)
	exp.SetGauge(t, "g", map[string]string{"a": "1"}, 1)
	ft := &fatalRecorder{T: t}
	func() {
		defer func() { _ = recover() }()
		exp.SetGauge(ft, "g", map[string]string{"b": "1"}, 1)
	}()
	if !ft.fatal {
		t.Error("a gauge used with other label names must fail the test")
	}
}

type fatalRecorder struct {
	*testing.T
	fatal bool
}

func (f *fatalRecorder) Fatalf(string, ...any) { f.fatal = true; panic("fatal") }
