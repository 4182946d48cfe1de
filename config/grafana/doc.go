// Package grafana holds sluice-rollouts.json, a Grafana dashboard (JSON model, the Prometheus
// data source as the ${DS_PROMETHEUS} input) over the metrics the controller exports
// (docs/metrics.md). Its test checks that every query names only those metrics and their
// labels.
package grafana
