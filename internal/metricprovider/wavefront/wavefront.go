package wavefront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "wavefront"

// SecretName is the Secret, in the controller's namespace, that maps addresses to API tokens.
const SecretName = "wavefront-api-tokens"

const timeout = 10 * time.Second

// Provider measures wavefront metrics.
type Provider struct {
	token func(ctx context.Context, address string) (string, error)
	http  *http.Client
}

// New returns a provider that reads tokens from the Secret wavefront-api-tokens.
func New(deps metricprovider.Deps) *Provider {
	return &Provider{http: &http.Client{Timeout: timeout}, token: func(ctx context.Context, address string) (string, error) {
		return secretToken(ctx, deps, address)
	}}
}

// NewWithTokens returns a provider that takes tokens from a map keyed by address.
func NewWithTokens(tokens map[string]string) *Provider {
	return &Provider{http: &http.Client{Timeout: timeout}, token: func(_ context.Context, address string) (string, error) {
		if t, ok := tokens[address]; ok {
			return t, nil
		}
		return "", fmt.Errorf("wavefront: no API token for %s", address)
	}}
}

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

type chartResponse struct {
	Timeseries []struct {
		Label string         `json:"label"`
		Data  [][]*float64   `json:"data"`
		Tags  map[string]any `json:"tags"`
	} `json:"timeseries"`
	Warnings string `json:"warnings"`
}

// Measure runs the chart query once.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.Wavefront
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no wavefront provider"))
	}
	if strings.TrimSpace(m.Query) == "" || m.Address == "" {
		return metricprovider.Errorf(errors.New("wavefront metric needs an address and a query"))
	}
	token, err := p.token(ctx, m.Address)
	if err != nil {
		return metricprovider.Errorf(err)
	}
	base := m.Address
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	q := url.Values{}
	q.Set("q", m.Query)
	q.Set("s", strconv.FormatInt(req.Now.UnixMilli(), 10))
	q.Set("g", "s")
	q.Set("p", "1")
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/api/v2/chart/api?"+q.Encode(), nil)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("wavefront: %w", err))
	}
	hreq.Header.Set("Authorization", "Bearer "+token)
	hreq.Header.Set("Accept", "application/json")
	resp, err := p.http.Do(hreq)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("wavefront: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("wavefront: reading the answer: %w", err))
	}
	if resp.StatusCode >= 300 {
		return metricprovider.Errorf(fmt.Errorf("wavefront: chart API answered %s: %s", resp.Status, strings.TrimSpace(string(b))))
	}
	var body chartResponse
	if err := json.Unmarshal(b, &body); err != nil {
		return metricprovider.Errorf(fmt.Errorf("wavefront: decoding the answer: %w", err))
	}
	meta := map[string]string{"query": strings.TrimSpace(m.Query)}
	if body.Warnings != "" {
		meta["warnings"] = body.Warnings
	}
	values := []float64{}
	for _, s := range body.Timeseries {
		if len(s.Data) > 0 && len(s.Data[0]) == 2 && s.Data[0][1] != nil {
			values = append(values, *s.Data[0][1])
		}
	}
	switch {
	case len(values) == 0:
		return metricprovider.Result{Empty: true, Metadata: meta, Message: "the query returned no time series: " + strings.TrimSpace(m.Query)}
	case len(body.Timeseries) == 1:
		return metricprovider.Result{Value: values[0], Display: fmt.Sprintf("%.2f", values[0]), Metadata: meta}
	default:
		s := make([]string, len(values))
		for i, v := range values {
			s[i] = fmt.Sprintf("%.2f", v)
		}
		return metricprovider.Result{Value: values, Display: "[" + strings.Join(s, ",") + "]", Metadata: meta}
	}
}

// secretToken reads the token for address from the Secret wavefront-api-tokens.
func secretToken(ctx context.Context, deps metricprovider.Deps, address string) (string, error) {
	if deps.Client == nil {
		return "", errors.New("wavefront: no Kubernetes client to read Secret " + deps.Namespace + "/" + SecretName)
	}
	var s corev1.Secret
	if err := deps.Client.Get(ctx, client.ObjectKey{Namespace: deps.Namespace, Name: SecretName}, &s); err != nil {
		return "", fmt.Errorf("wavefront: reading Secret %s/%s: %w", deps.Namespace, SecretName, err)
	}
	t, ok := s.Data[address]
	if !ok || len(t) == 0 {
		return "", fmt.Errorf("wavefront: Secret %s/%s has no token for %s", deps.Namespace, SecretName, address)
	}
	return strings.TrimSpace(string(t)), nil
}

// Resume is never called: wavefront measurements finish in Measure.
func (p *Provider) Resume(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("wavefront measurements are never running"))
}

// Terminate records a running measurement as successful; wavefront has none.
func (p *Provider) Terminate(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated"}
}

// GarbageCollect does nothing: wavefront measurements leave nothing behind.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }
