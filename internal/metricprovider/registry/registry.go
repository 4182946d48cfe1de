package registry

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/cloudwatch"
	"github.com/sluicehq/sluice/internal/metricprovider/datadog"
	"github.com/sluicehq/sluice/internal/metricprovider/graphite"
	"github.com/sluicehq/sluice/internal/metricprovider/influxdb"
	"github.com/sluicehq/sluice/internal/metricprovider/job"
	"github.com/sluicehq/sluice/internal/metricprovider/kayenta"
	"github.com/sluicehq/sluice/internal/metricprovider/newrelic"
	"github.com/sluicehq/sluice/internal/metricprovider/prometheus"
	"github.com/sluicehq/sluice/internal/metricprovider/skywalking"
	"github.com/sluicehq/sluice/internal/metricprovider/wavefront"
	"github.com/sluicehq/sluice/internal/metricprovider/web"
)

// Registry holds one provider per provider key. It is read-only after New and safe for
// concurrent use.
type Registry struct {
	providers map[string]metricprovider.Provider
}

// New builds every provider sluice has, with deps.
func New(deps metricprovider.Deps) *Registry {
	r := &Registry{providers: map[string]metricprovider.Provider{}}
	for _, p := range []metricprovider.Provider{
		prometheus.New(),
		web.New(),
		job.New(deps),
		datadog.New(deps),
		newrelic.New(deps),
		cloudwatch.New(deps),
		wavefront.New(deps),
		graphite.New(deps),
		influxdb.New(deps),
		skywalking.New(deps),
		kayenta.New(deps),
	} {
		r.register(p)
	}
	return r
}

func (r *Registry) register(p metricprovider.Provider) { r.providers[p.Type()] = p }

// For returns the provider of m: the single provider block m sets.
func (r *Registry) For(m v1alpha1.Metric) (metricprovider.Provider, error) {
	types := metricprovider.Types(m.Provider)
	switch len(types) {
	case 0:
		return nil, fmt.Errorf("metric %q sets no provider", m.Name)
	case 1:
	default:
		return nil, fmt.Errorf("metric %q sets %d providers (%s); set exactly one", m.Name, len(types), strings.Join(types, ", "))
	}
	t := types[0]
	if name, ok := strings.CutPrefix(t, "plugin/"); ok {
		return nil, fmt.Errorf("metric provider plugins are not supported by sluice: metric %q uses plugin %q", m.Name, name)
	}
	p, ok := r.providers[t]
	if !ok {
		return nil, fmt.Errorf("metric %q: provider %s is not available in this build of sluice", m.Name, t)
	}
	return p, nil
}
