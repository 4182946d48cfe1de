package influxdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "influxdb"

// DefaultProfile is the Secret read when the metric names no profile.
const DefaultProfile = "influxdb"

const timeout = 30 * time.Second

// Credentials are an InfluxDB profile.
type Credentials struct {
	Address   string
	AuthToken string
	Org       string
}

// Provider measures influxdb metrics.
type Provider struct {
	credentials func(ctx context.Context, profile string) (Credentials, error)
}

// New returns a provider that reads profiles from Secrets in deps.Namespace.
func New(deps metricprovider.Deps) *Provider {
	return &Provider{credentials: func(ctx context.Context, profile string) (Credentials, error) {
		return secretCredentials(ctx, deps, profile)
	}}
}

// NewWithCredentials returns a provider that uses c for every profile and reads no Secret.
func NewWithCredentials(c Credentials) *Provider {
	return &Provider{credentials: func(context.Context, string) (Credentials, error) { return c, nil }}
}

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

// Measure runs the Flux query once.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.Influxdb
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no influxdb provider"))
	}
	if strings.TrimSpace(m.Query) == "" {
		return metricprovider.Errorf(errors.New("influxdb metric has no query"))
	}
	creds, err := p.credentials(ctx, cmp.Or(m.Profile, DefaultProfile))
	if err != nil {
		return metricprovider.Errorf(err)
	}
	c := influxdb2.NewClientWithOptions(creds.Address, creds.AuthToken,
		influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(timeout/time.Second)))
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	table, err := c.QueryAPI(creds.Org).Query(ctx, m.Query)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("influxdb: %w", err))
	}
	defer func() { _ = table.Close() }()
	values := []any{}
	for table.Next() {
		values = append(values, table.Record().Value())
	}
	if err := table.Err(); err != nil {
		return metricprovider.Errorf(fmt.Errorf("influxdb: reading the answer: %w", err))
	}
	query := strings.Join(strings.Fields(m.Query), " ")
	meta := map[string]string{"query": query}
	if len(values) == 0 {
		return metricprovider.Result{Value: values, Display: "[]", Empty: true, Metadata: meta, Message: "the query returned no records: " + query}
	}
	return metricprovider.Result{Value: values, Display: fmt.Sprint(values), Metadata: meta}
}

// secretCredentials reads the profile Secret in the controller's namespace.
func secretCredentials(ctx context.Context, deps metricprovider.Deps, profile string) (Credentials, error) {
	if deps.Client == nil {
		return Credentials{}, errors.New("influxdb: no Kubernetes client to read Secret " + deps.Namespace + "/" + profile)
	}
	var s corev1.Secret
	if err := deps.Client.Get(ctx, client.ObjectKey{Namespace: deps.Namespace, Name: profile}, &s); err != nil {
		return Credentials{}, fmt.Errorf("influxdb: reading Secret %s/%s: %w", deps.Namespace, profile, err)
	}
	c := Credentials{
		Address:   strings.TrimSpace(string(s.Data["address"])),
		AuthToken: strings.TrimSpace(string(s.Data["authToken"])),
		Org:       strings.TrimSpace(string(s.Data["org"])),
	}
	if c.Address == "" || c.AuthToken == "" || c.Org == "" {
		return Credentials{}, fmt.Errorf("influxdb: Secret %s/%s needs address, authToken and org", deps.Namespace, profile)
	}
	return c, nil
}

// Resume is never called: influxdb measurements finish in Measure.
func (p *Provider) Resume(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("influxdb measurements are never running"))
}

// Terminate records a running measurement as successful; influxdb has none.
func (p *Provider) Terminate(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated"}
}

// GarbageCollect does nothing: influxdb measurements leave nothing behind.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }
