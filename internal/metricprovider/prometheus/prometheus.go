package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

const (
	// DefaultTimeout is a query's timeout when the metric sets none (as in Argo Rollouts).
	DefaultTimeout = 30 * time.Second
	// AddressEnv is the address used when a metric has none (Argo Rollouts' variable).
	AddressEnv = "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS"
	// MetadataQuery is the measurement metadata key of the query as run (Argo Rollouts' name).
	MetadataQuery = "ResolvedPrometheusQuery"
	// MetadataWarnings is the measurement metadata key of Prometheus' warnings, each quoted
	// (Argo Rollouts' name and format).
	MetadataWarnings = "warnings"
)

// ErrSigV4 is returned for metrics that need AWS SigV4 signing.
var ErrSigV4 = errors.New("sigv4 authentication is not supported by sluice")

// Provider is the prometheus metric provider. It is safe for concurrent use.
type Provider struct {
	transports transports
}

var _ metricprovider.Provider = (*Provider)(nil)

// New returns the prometheus provider.
func New() *Provider { return &Provider{transports: newTransports()} }

// Type is "prometheus".
func (*Provider) Type() string { return "prometheus" }

// Measure runs the metric's query.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.Prometheus
	if m == nil {
		return metricprovider.Errorf(fmt.Errorf("metric %q has no prometheus provider", req.Metric.Name))
	}
	address, err := address(m)
	if err != nil {
		return metricprovider.Errorf(err)
	}
	if strings.TrimSpace(m.Query) == "" {
		return metricprovider.Errorf(errors.New("prometheus metric has no query"))
	}
	timeout := DefaultTimeout
	if m.Timeout != nil {
		if *m.Timeout < 0 {
			return metricprovider.Errorf(fmt.Errorf("prometheus timeout %d: must not be negative", *m.Timeout))
		}
		if *m.Timeout > 0 {
			timeout = time.Duration(*m.Timeout) * time.Second
		}
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	var rng *promv1.Range
	if m.RangeQuery != nil {
		r, err := queryRange(m.RangeQuery, now)
		if err != nil {
			return metricprovider.Errorf(err)
		}
		rng = &r
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := api.NewClient(api.Config{Address: address.String(), Client: p.transports.client(ctx, m)})
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("prometheus client for %s: %w", address.Redacted(), err))
	}
	papi := promv1.NewAPI(client)
	var value model.Value
	var warnings promv1.Warnings
	if rng != nil {
		value, warnings, err = papi.QueryRange(ctx, m.Query, *rng, promv1.WithTimeout(timeout))
	} else {
		value, warnings, err = papi.Query(ctx, m.Query, now, promv1.WithTimeout(timeout))
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return metricprovider.Errorf(fmt.Errorf("querying %s: %w", address.Redacted(), err))
	}
	r := result(value, m.Query)
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	r.Metadata[MetadataQuery] = m.Query
	if len(warnings) > 0 {
		quoted := make([]string, len(warnings))
		for i, w := range warnings {
			quoted[i] = fmt.Sprintf("%q", w)
		}
		r.Metadata[MetadataWarnings] = strings.Join(quoted, ", ")
		w := "prometheus warned: " + strings.Join(warnings, "; ")
		if r.Message == "" {
			r.Message = w
		} else {
			r.Message += "; " + w
		}
	}
	return r
}

// address is the server to query: the metric's, else $ARGO_ROLLOUTS_PROMETHEUS_ADDRESS.
func address(m *v1alpha1.PrometheusMetric) (*url.URL, error) {
	a := m.Address
	if a == "" {
		a = os.Getenv(AddressEnv)
	}
	if a == "" {
		return nil, fmt.Errorf("prometheus metric has no address (and $%s is not set)", AddressEnv)
	}
	u, err := url.Parse(a)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("prometheus address %q is not an http(s) URL", a)
	}
	// Argo Rollouts signs requests to Amazon Managed Prometheus workspaces.
	s := m.Authentication.Sigv4
	if strings.Contains(u.Host, "aps-workspaces") || s.Region != "" || s.Profile != "" || s.RoleARN != "" {
		return nil, ErrSigV4
	}
	return u, nil
}

// Resume has nothing to do: prometheus measurements finish in Measure.
func (*Provider) Resume(_ context.Context, _ metricprovider.Request, _ v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("prometheus measurements finish when they are taken; there is nothing to resume"))
}

// Terminate returns the measurement as it was: a prometheus measurement is never left
// running.
func (*Provider) Terminate(_ context.Context, _ metricprovider.Request, m v1alpha1.Measurement) metricprovider.Result {
	phase := m.Phase
	if phase == "" || phase == v1alpha1.AnalysisPhaseRunning || phase == v1alpha1.AnalysisPhasePending {
		phase = v1alpha1.AnalysisPhaseSuccessful
	}
	return metricprovider.Result{Display: m.Value, Phase: phase, Message: m.Message, Metadata: m.Metadata}
}

// GarbageCollect has nothing to collect.
func (*Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }
