package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
)

func gaugeOf(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, lv ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// The phases rollout_phase has a series for, and the one more rollout_info's phase label can
// take (InvalidSpec). They are Argo's metric phases, not status.phase (see rolloutMetricPhase).
const (
	phaseCompleted   = "Completed"
	phaseProgressing = "Progressing"
	phasePaused      = "Paused"
	phaseTimeout     = "Timeout"
	phaseError       = "Error"
	phaseAbort       = "Abort"
	phaseInvalidSpec = "InvalidSpec"
)

var rolloutPhases = []string{phaseCompleted, phaseProgressing, phasePaused, phaseTimeout, phaseError, phaseAbort}

func collectRollout(ch chan<- prometheus.Metric, ro *v1alpha1.Rollout) {
	ns, name := ro.Namespace, ro.Name
	strategy, router := strategyAndRouter(ro)
	phase := rolloutMetricPhase(&ro.Status)
	gaugeOf(ch, descRolloutInfo, 1, ns, name, strategy, router, phase)
	gaugeOf(ch, descRolloutAvailable, float64(ro.Status.AvailableReplicas), ns, name)
	gaugeOf(ch, descRolloutUnavailable, float64(ro.Status.Replicas-ro.Status.AvailableReplicas), ns, name)
	gaugeOf(ch, descRolloutDesired, float64(ptr.Deref(ro.Spec.Replicas, 1)), ns, name)
	gaugeOf(ch, descRolloutUpdated, float64(ro.Status.UpdatedReplicas), ns, name)
	for _, p := range rolloutPhases {
		gaugeOf(ch, descRolloutPhase, boolValue(p == phase), ns, name, strategy, p)
	}
}

// rolloutMetricPhase is the phase Argo's metrics report: from the reason of the Progressing
// condition (Completed, Paused, Error, Timeout, Abort; Progressing otherwise), InvalidSpec
// whenever that condition is present.
func rolloutMetricPhase(st *v1alpha1.RolloutStatus) string {
	phase := phaseProgressing
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.RolloutInvalidSpec {
			return phaseInvalidSpec
		}
		if c.Type != v1alpha1.RolloutProgressing {
			continue
		}
		switch c.Reason {
		case v1alpha1.ReasonNewReplicaSetAvailable:
			phase = phaseCompleted
		case v1alpha1.ReasonRolloutPaused:
			phase = phasePaused
		case v1alpha1.ReasonReplicaSetCreateError:
			phase = phaseError
		case v1alpha1.ReasonProgressDeadlineExceeded:
			phase = phaseTimeout
		case v1alpha1.ReasonRolloutAborted:
			phase = phaseAbort
		}
	}
	return phase
}

// strategyAndRouter are Argo's strategy ("canary", "blueGreen", "none") and traffic_router
// labels: ALB, Ambassador, Istio, Nginx, SMI or AppMesh (the last of these the spec sets), ""
// for none and for the routers Argo's metrics do not name (Traefik, Apisix, plugins such as
// the Gateway API).
func strategyAndRouter(ro *v1alpha1.Rollout) (strategy, router string) {
	s := ro.Spec.Strategy
	switch {
	case s.BlueGreen != nil:
		return "blueGreen", ""
	case s.Canary == nil:
		return "none", ""
	}
	tr := s.Canary.TrafficRouting
	if tr == nil {
		return "canary", ""
	}
	for _, r := range []struct {
		set  bool
		name string
	}{
		{tr.ALB != nil, "ALB"}, {tr.Ambassador != nil, "Ambassador"}, {tr.Istio != nil, "Istio"},
		{tr.Nginx != nil, "Nginx"}, {tr.SMI != nil, "SMI"}, {tr.AppMesh != nil, "AppMesh"},
	} {
		if r.set {
			router = r.name
		}
	}
	return "canary", router
}

var analysisPhases = []v1alpha1.AnalysisPhase{
	v1alpha1.AnalysisPhasePending, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseFailed,
	v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseRunning, v1alpha1.AnalysisPhaseInconclusive,
}

// isPhase: a run, metric or experiment without a phase yet counts as Pending, as in Argo.
func isPhase(got, want v1alpha1.AnalysisPhase) bool {
	return got == want || (got == "" && want == v1alpha1.AnalysisPhasePending)
}

func collectAnalysisRun(ch chan<- prometheus.Metric, run *v1alpha1.AnalysisRun) {
	ns, name, phase := run.Namespace, run.Name, run.Status.Phase
	gaugeOf(ch, descRunInfo, 1, ns, name, string(phase))
	for _, p := range analysisPhases {
		gaugeOf(ch, descRunPhase, boolValue(isPhase(phase, p)), ns, name, string(p))
	}
	dryRun := analysis.DryRunMetrics(run)
	for i := range run.Spec.Metrics {
		m := &run.Spec.Metrics[i]
		typ := providerType(&m.Provider)
		gaugeOf(ch, descRunMetricType, 1, ns, name, m.Name, typ)
		var mp v1alpha1.AnalysisPhase
		for _, r := range run.Status.MetricResults {
			if r.Name == m.Name {
				mp = r.Phase
			}
		}
		dry := strconv.FormatBool(dryRun[m.Name])
		for _, p := range analysisPhases {
			gaugeOf(ch, descRunMetricPhase, boolValue(isPhase(mp, p)), ns, name, m.Name, typ, dry, string(p))
		}
	}
}

// providerType is Argo's name of a metric's provider (metricproviders.Type): the first one set
// in Argo's order.
func providerType(p *v1alpha1.MetricProvider) string {
	switch {
	case p.Prometheus != nil:
		return "Prometheus"
	case p.Job != nil:
		return "Job"
	case p.Kayenta != nil:
		return "Kayenta"
	case p.Web != nil:
		return "Web"
	case p.Datadog != nil:
		return "Datadog"
	case p.Wavefront != nil:
		return "Wavefront"
	case p.NewRelic != nil:
		return "NewRelic"
	case p.CloudWatch != nil:
		return "CloudWatch"
	case p.Graphite != nil:
		return "Graphite"
	case p.Influxdb != nil:
		return "Influxdb"
	case p.SkyWalking != nil:
		return "skywalking"
	case p.Plugin != nil:
		return "RPCPlugin"
	}
	return "Unknown Provider"
}

// experimentPhases are the phases experiment_phase has a series for: Argo's list, which has no
// Failed (a Failed experiment shows in experiment_info only).
var experimentPhases = []v1alpha1.AnalysisPhase{
	v1alpha1.AnalysisPhasePending, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseSuccessful,
	v1alpha1.AnalysisPhaseRunning, v1alpha1.AnalysisPhaseInconclusive,
}

func collectExperiment(ch chan<- prometheus.Metric, ex *v1alpha1.Experiment) {
	ns, name, phase := ex.Namespace, ex.Name, ex.Status.Phase
	gaugeOf(ch, descExperimentInfo, 1, ns, name, string(phase))
	for _, p := range experimentPhases {
		gaugeOf(ch, descExperimentPhase, boolValue(isPhase(phase, p)), ns, name, string(p))
	}
}
