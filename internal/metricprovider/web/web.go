package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

const (
	// DefaultTimeout is the request timeout when timeoutSeconds is not set.
	DefaultTimeout = 10 * time.Second
	// DefaultJSONPath selects the whole response.
	DefaultJSONPath = "{$}"
	// maxBody bounds how much of a response is read.
	maxBody = 16 << 20
)

// Provider is the web metric provider. It is safe for concurrent use.
type Provider struct {
	transports transports
}

var _ metricprovider.Provider = (*Provider)(nil)

// New returns the web provider.
func New() *Provider { return &Provider{transports: newTransports()} }

// Type is "web".
func (*Provider) Type() string { return "web" }

// Measure sends the metric's request and reads the value at its jsonPath.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	w := req.Metric.Provider.Web
	if w == nil {
		return metricprovider.Errorf(fmt.Errorf("metric %q has no web provider", req.Metric.Name))
	}
	httpReq, desc, err := newRequest(ctx, w)
	if err != nil {
		return metricprovider.Errorf(err)
	}
	timeout := DefaultTimeout
	if w.TimeoutSeconds > 0 {
		timeout = time.Duration(w.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	httpReq = httpReq.WithContext(ctx)

	resp, err := p.transports.client(ctx, w.Insecure, w.Authentication).Do(httpReq)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return metricprovider.Errorf(fmt.Errorf("%s: %w", desc, err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("%s: reading the response: %w", desc, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return metricprovider.Errorf(fmt.Errorf("%s: HTTP %s: %s", desc, resp.Status, snippet(body)))
	}
	path := w.JSONPath
	if path == "" {
		path = DefaultJSONPath
	}
	return parse(body, path, desc)
}

// newRequest builds the request of a web metric and how messages name it ("GET url").
func newRequest(ctx context.Context, w *v1alpha1.WebMetric) (*http.Request, string, error) {
	method := w.Method
	if method == "" {
		method = v1alpha1.WebMetricMethodGet
	}
	switch method {
	case v1alpha1.WebMetricMethodGet, v1alpha1.WebMetricMethodPost, v1alpha1.WebMetricMethodPut:
	default:
		return nil, "", fmt.Errorf("web metric method %q: want GET, POST or PUT", method)
	}
	if w.URL == "" {
		return nil, "", errors.New("web metric has no url")
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return nil, "", fmt.Errorf("web metric url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", fmt.Errorf("web metric url %s: the scheme must be http or https", redactURL(u))
	}
	desc := fmt.Sprintf("%s %s", method, redactURL(u))
	hasJSON := len(bytes.TrimSpace(w.JSONBody)) > 0 && string(bytes.TrimSpace(w.JSONBody)) != "null"
	// Argo Rollouts refuses both bodies at once, and a body on a GET: so do we, rather than
	// drop one silently.
	if w.Body != "" && hasJSON {
		return nil, "", fmt.Errorf("%s: set body or jsonBody, not both", desc)
	}
	if (w.Body != "" || hasJSON) && method == v1alpha1.WebMetricMethodGet {
		return nil, "", fmt.Errorf("%s: body and jsonBody need method POST or PUT", desc)
	}
	var body io.Reader
	switch {
	case hasJSON:
		body = bytes.NewReader(w.JSONBody)
	case w.Body != "":
		body = strings.NewReader(w.Body)
	}
	r, err := http.NewRequestWithContext(ctx, string(method), u.String(), body)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", desc, err)
	}
	for _, h := range w.Headers {
		r.Header.Set(h.Key, h.Value)
	}
	if hasJSON {
		r.Header.Set("Content-Type", "application/json")
	}
	setBasicAuth(r, w.Authentication.BasicAuth)
	return r, desc, nil
}

// snippet is the start of a body for an error message.
func snippet(b []byte) string {
	const n = 512
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// Resume has nothing to do: web measurements finish in Measure.
func (*Provider) Resume(_ context.Context, _ metricprovider.Request, _ v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("web measurements finish when they are taken; there is nothing to resume"))
}

// Terminate returns the measurement as it was: a web measurement is never left running.
func (*Provider) Terminate(_ context.Context, _ metricprovider.Request, m v1alpha1.Measurement) metricprovider.Result {
	return finished(m)
}

// GarbageCollect has nothing to collect.
func (*Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }

func finished(m v1alpha1.Measurement) metricprovider.Result {
	phase := m.Phase
	if phase == "" || phase == v1alpha1.AnalysisPhaseRunning || phase == v1alpha1.AnalysisPhasePending {
		phase = v1alpha1.AnalysisPhaseSuccessful
	}
	return metricprovider.Result{Display: m.Value, Phase: phase, Message: m.Message, Metadata: m.Metadata}
}
