package datadog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "datadog"

const (
	// DefaultSecretName is the Secret read when secretRef.name is empty.
	DefaultSecretName = "datadog"
	// DefaultAddress is used when the Secret has no address key.
	DefaultAddress  = "https://api.datadoghq.com"
	defaultInterval = 5 * time.Minute
	defaultTimeout  = 10 * time.Second
)

// Credentials are what a Datadog request needs besides the query.
type Credentials struct {
	// Address is the API's base URL, e.g. https://api.datadoghq.eu.
	Address string
	APIKey  string
	AppKey  string
}

// Provider measures datadog metrics.
type Provider struct {
	credentials func(ctx context.Context, req metricprovider.Request) (Credentials, error)
	transport   http.RoundTripper
}

// New returns a provider that reads its credentials from Secrets through deps.Client.
func New(deps metricprovider.Deps) *Provider {
	return &Provider{credentials: func(ctx context.Context, req metricprovider.Request) (Credentials, error) {
		return secretCredentials(ctx, deps, req)
	}}
}

// NewWithCredentials returns a provider that uses c for every measurement and reads no Secret.
func NewWithCredentials(c Credentials) *Provider {
	return &Provider{credentials: func(context.Context, metricprovider.Request) (Credentials, error) { return c, nil }}
}

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

// Measure runs the metric's query once.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.Datadog
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no datadog provider"))
	}
	creds, err := p.credentials(ctx, req)
	if err != nil {
		return metricprovider.Errorf(err)
	}
	interval := defaultInterval
	if m.Interval != "" {
		if interval, err = m.Interval.Duration(); err != nil {
			return metricprovider.Errorf(fmt.Errorf("datadog interval %q: %w", m.Interval, err))
		}
	}
	timeout := defaultTimeout
	if m.RequestTimeout != "" {
		if timeout, err = m.RequestTimeout.Duration(); err != nil {
			return metricprovider.Errorf(fmt.Errorf("datadog requestTimeout %q: %w", m.RequestTimeout, err))
		}
	}
	c := &apiClient{
		http:  &http.Client{Timeout: timeout, Transport: p.transport},
		creds: creds,
		from:  req.Now.Add(-interval),
		to:    req.Now,
	}
	switch cmp.Or(m.APIVersion, "v1") {
	case "v1":
		return c.v1(ctx, m)
	case "v2":
		return c.v2(ctx, m)
	default:
		return metricprovider.Errorf(fmt.Errorf("datadog apiVersion %q: want v1 or v2", m.APIVersion))
	}
}

// Resume is never called: datadog measurements finish in Measure.
func (p *Provider) Resume(_ context.Context, _ metricprovider.Request, _ v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("datadog measurements are never running"))
}

// Terminate records a running measurement as successful; datadog has none.
func (p *Provider) Terminate(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated"}
}

// GarbageCollect does nothing: datadog measurements leave nothing behind.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }

// secretCredentials reads the Secret secretRef names: in the run's namespace when namespaced,
// else in the controller's.
func secretCredentials(ctx context.Context, deps metricprovider.Deps, req metricprovider.Request) (Credentials, error) {
	ref := req.Metric.Provider.Datadog.SecretRef
	name := cmp.Or(ref.Name, DefaultSecretName)
	ns := deps.Namespace
	if ref.Namespaced && req.Run != nil {
		ns = req.Run.Namespace
	}
	if deps.Client == nil {
		return Credentials{}, errors.New("datadog: no Kubernetes client to read Secret " + ns + "/" + name)
	}
	var s corev1.Secret
	if err := deps.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		return Credentials{}, fmt.Errorf("datadog: reading Secret %s/%s: %w", ns, name, err)
	}
	c := Credentials{
		Address: strings.TrimSpace(string(s.Data["address"])),
		APIKey:  strings.TrimSpace(string(s.Data["api-key"])),
		AppKey:  strings.TrimSpace(string(s.Data["app-key"])),
	}
	if c.APIKey == "" || c.AppKey == "" {
		return Credentials{}, fmt.Errorf("datadog: Secret %s/%s needs the keys api-key and app-key", ns, name)
	}
	return c, nil
}
