// Package metrics exports Argo Rollouts' controller metrics on the controller's metrics
// endpoint (controller-runtime's registry, --metrics-bind-address), with Argo's names, label
// names, types and histogram buckets, so dashboards and alerts written for Argo's controller
// keep working:
//
//   - the state gauges (rollout_info, rollout_info_replicas_*, rollout_phase,
//     analysis_run_info, analysis_run_phase, analysis_run_metric_type,
//     analysis_run_metric_phase, experiment_info, experiment_phase) are computed at scrape time
//     from the manager's informer cache, as Argo computes them from its listers: a series exists
//     exactly as long as its object is in the cache, so none goes stale. Collecting reads the
//     cache only (no API request) and only on the elected leader (a standby replica has no
//     series, so two replicas never double a count);
//   - rollout_reconcile, analysis_run_reconcile and experiment_reconcile (histograms) and their
//     *_reconcile_error counters are observed around every pass (Instrument);
//   - rollout_events_total counts the Events the Rollout controller records (CountEvents);
//   - argo_rollouts_controller_info carries the running version.
//
// The per-object counters and histograms of an object are removed 65 s after it is gone from
// the cache (Argo's delay: the last values still reach a scrape every 60 s).
//
// Families lists every family with its type and labels; docs/metrics.md and the Grafana
// dashboard (config/grafana) are checked against it.
//
// Experiments are listed only with Options{Experiments: true}, which the manager sets because
// it runs the Experiment controller (whose informer the collector reads): without one, listing
// them would start an informer, a list and a watch on the API server, for the metrics alone.
package metrics
