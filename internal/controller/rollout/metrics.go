package rollout

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// canaryWeight reports, per Rollout, the canary weight the user asked for (requested), the one
// the routers were told (routed; only with trafficRouting) and the share of available pods the
// canary really has (pods: what a Service delivers without a router). Three series per
// Rollout, removed when the Rollout is deleted.
var canaryWeight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "sluice_rollout_canary_weight_percent",
	Help: "Canary weight of a Rollout in percent: requested (setWeight in force), routed (applied by the traffic routers), pods (share of available pods).",
}, []string{"namespace", "name", "kind"})

func init() {
	metrics.Registry.MustRegister(canaryWeight)
}

func recordWeights(ro *v1alpha1.Rollout, p *plan.Plan) {
	if p.Invalid {
		return
	}
	ns, name := ro.Namespace, ro.Name
	maxW := float64(max(p.MaxWeight, 1))
	canaryWeight.WithLabelValues(ns, name, "requested").Set(float64(p.RequestedWeight) * 100 / maxW)
	if p.Promoted {
		canaryWeight.WithLabelValues(ns, name, "pods").Set(0)
	} else {
		canaryWeight.WithLabelValues(ns, name, "pods").Set(p.EffectiveWeight())
	}
	if w := p.Status.Canary.Weights; p.Routed && w != nil {
		canaryWeight.WithLabelValues(ns, name, "routed").Set(float64(w.Canary.Weight) * 100 / maxW)
	}
}

func forgetWeights(namespace, name string) {
	canaryWeight.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
}
