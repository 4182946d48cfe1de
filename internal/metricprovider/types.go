package metricprovider

import (
	"slices"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Types lists the provider keys of a metric's provider block that are set, in the order of
// the API type (exactly one is valid).
func Types(p v1alpha1.MetricProvider) []string {
	var t []string
	add := func(set bool, name string) {
		if set {
			t = append(t, name)
		}
	}
	add(p.Prometheus != nil, "prometheus")
	add(p.Kayenta != nil, "kayenta")
	add(p.Web != nil, "web")
	add(p.Datadog != nil, "datadog")
	add(p.Wavefront != nil, "wavefront")
	add(p.NewRelic != nil, "newRelic")
	add(p.Job != nil, "job")
	add(p.CloudWatch != nil, "cloudWatch")
	add(p.Graphite != nil, "graphite")
	add(p.Influxdb != nil, "influxdb")
	add(p.SkyWalking != nil, "skywalking")
	if len(p.Plugin) > 0 {
		names := make([]string, 0, len(p.Plugin))
		for k := range p.Plugin {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			t = append(t, "plugin/"+k)
		}
	}
	return t
}
