// Package prometheustest runs a real Prometheus for tests: the `prometheus` binary (installed
// by hack/install-test-servers.sh, `make test-servers`) on a free loopback port, with a temp
// config and TSDB, scraping every second a real exporter whose series the test controls
// (request counters with a settable rate and error ratio per label set, latency histograms,
// gauges), so that PromQL such as rate() sees what the test made happen.
//
// Everything stops with the test (t.Cleanup; the child also dies with the test binary). When
// prometheus is not installed the test is skipped with a one-line hint, or fails under CI=true.
// It mocks nothing: providers and analysis tests talk HTTP to the real server.
package prometheustest
