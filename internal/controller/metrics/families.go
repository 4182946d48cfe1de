package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Family describes one exported metric family.
type Family struct {
	Name string
	// Type is "gauge", "counter" or "histogram".
	Type   string
	Labels []string
	Help   string
}

func (f Family) desc() *prometheus.Desc { return prometheus.NewDesc(f.Name, f.Help, f.Labels, nil) }

const gauge, counter, histogram = "gauge", "counter", "histogram"

// reconcileBuckets are Argo's histogram buckets for the reconcile durations, in seconds.
var reconcileBuckets = []float64{0.01, 0.15, 0.25, 0.5, 1}

func labels(extra ...string) []string { return append([]string{"namespace", "name"}, extra...) }

// The families, with Argo's names, label names, types and help texts.
var (
	rolloutInfo        = Family{"rollout_info", gauge, labels("strategy", "traffic_router", "phase"), "Information about rollout."}
	rolloutAvailable   = Family{"rollout_info_replicas_available", gauge, labels(), "The number of available replicas per rollout."}
	rolloutUnavailable = Family{"rollout_info_replicas_unavailable", gauge, labels(), "The number of unavailable replicas per rollout."}
	rolloutDesired     = Family{"rollout_info_replicas_desired", gauge, labels(), "The number of desired replicas per rollout."}
	rolloutUpdated     = Family{"rollout_info_replicas_updated", gauge, labels(), "The number of updated replicas per rollout."}
	rolloutPhase       = Family{"rollout_phase", gauge, labels("strategy", "phase"), "Information on the state of the rollout (DEPRECATED - use rollout_info)"}
	rolloutReconcile   = Family{"rollout_reconcile", histogram, labels(), "Rollout reconciliation performance."}
	rolloutErrors      = Family{"rollout_reconcile_error", counter, labels(), "Error occurring during the rollout"}
	rolloutEvents      = Family{"rollout_events_total", counter, labels("type", "reason"), "Count of rollout events"}

	runInfo        = Family{"analysis_run_info", gauge, labels("phase"), "Information about analysis run."}
	runPhase       = Family{"analysis_run_phase", gauge, labels("phase"), "Information on the state of the Analysis Run (DEPRECATED - use analysis_run_info)"}
	runMetricType  = Family{"analysis_run_metric_type", gauge, labels("metric", "type"), "Information on the type of a specific metric in the Analysis Runs"}
	runMetricPhase = Family{"analysis_run_metric_phase", gauge, labels("metric", "type", "dry_run", "phase"), "Information on the duration of a specific metric in the Analysis Run"}
	runReconcile   = Family{"analysis_run_reconcile", histogram, labels(), "Analysis Run reconciliation performance."}
	runErrors      = Family{"analysis_run_reconcile_error", counter, labels(), "Error occurring during the analysis run"}

	experimentInfo      = Family{"experiment_info", gauge, labels("phase"), "Information about Experiment."}
	experimentPhase     = Family{"experiment_phase", gauge, labels("phase"), "Information on the state of the experiment (DEPRECATED - use experiment_info)"}
	experimentReconcile = Family{"experiment_reconcile", histogram, labels(), "Experiments reconciliation performance."}
	experimentErrors    = Family{"experiment_reconcile_error", counter, labels(), "Error occurring during the experiment"}

	controllerInfo = Family{"argo_rollouts_controller_info", gauge, []string{"version"}, "Running controller version (sluice's, under Argo's name)."}

	// canaryWeight is recorded by the Rollout controller (internal/controller/rollout).
	canaryWeight = Family{"sluice_rollout_canary_weight_percent", gauge, labels("kind"), "Canary weight of a Rollout in percent: requested (setWeight in force), routed (applied by the traffic routers), pods (share of available pods)."}
)

// Families are the metric families the controller exports beyond controller-runtime's own
// (controller_runtime_*, workqueue_*, rest_client_*, process and Go runtime metrics): Argo's,
// then sluice's canary weight.
func Families() []Family {
	return []Family{
		rolloutInfo, rolloutAvailable, rolloutUnavailable, rolloutDesired, rolloutUpdated, rolloutPhase,
		rolloutReconcile, rolloutErrors, rolloutEvents,
		runInfo, runPhase, runMetricType, runMetricPhase, runReconcile, runErrors,
		experimentInfo, experimentPhase, experimentReconcile, experimentErrors,
		controllerInfo, canaryWeight,
	}
}
