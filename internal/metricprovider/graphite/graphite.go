package graphite

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

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "graphite"

const timeout = 10 * time.Second

// Provider measures graphite metrics.
type Provider struct {
	http *http.Client
}

// New returns a graphite provider; it needs nothing from deps.
func New(metricprovider.Deps) *Provider { return &Provider{http: &http.Client{Timeout: timeout}} }

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

// series is one element of the render API's JSON answer.
type series struct {
	Target     string              `json:"target"`
	Datapoints [][]json.RawMessage `json:"datapoints"`
}

// Measure runs the render query once.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.Graphite
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no graphite provider"))
	}
	u, err := renderURL(m.Address, m.Query)
	if err != nil {
		return metricprovider.Errorf(err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("graphite: %w", err))
	}
	hreq.Header.Set("Accept", "application/json")
	resp, err := p.http.Do(hreq)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("graphite: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("graphite: reading the answer: %w", err))
	}
	if resp.StatusCode >= 300 {
		return metricprovider.Errorf(fmt.Errorf("graphite: render answered %s: %s", resp.Status, strings.TrimSpace(string(b))))
	}
	var all []series
	if err := json.Unmarshal(b, &all); err != nil {
		return metricprovider.Errorf(fmt.Errorf("graphite: decoding the answer: %w", err))
	}
	meta := map[string]string{"query": collapse(m.Query)}
	values := []float64{}
	if len(all) > 0 {
		meta["target"] = all[0].Target
		for _, dp := range all[0].Datapoints {
			if len(dp) < 1 {
				continue
			}
			if v, ok, err := number(dp[0]); err != nil {
				return metricprovider.Errorf(fmt.Errorf("graphite: datapoint %s: %w", dp[0], err))
			} else if ok {
				values = append(values, v)
			}
		}
	}
	if len(values) == 0 {
		return metricprovider.Result{
			Value: values, Display: "[]", Empty: true, Metadata: meta,
			Message: "the query returned no datapoints: " + collapse(m.Query),
		}
	}
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.FormatFloat(v, 'f', 6, 64)
	}
	return metricprovider.Result{Value: values, Display: "[" + strings.Join(s, ",") + "]", Metadata: meta}
}

// number decodes a datapoint value: a JSON number, a numeric string, or null (ok false).
func number(raw json.RawMessage) (float64, bool, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, err
	}
	switch v := v.(type) {
	case nil:
		return 0, false, nil
	case float64:
		return v, true, nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil, err
	default:
		return 0, false, fmt.Errorf("not a number")
	}
}

// renderURL builds <address>/render?<query>&format=json.
func renderURL(address, query string) (string, error) {
	base, err := url.Parse(strings.TrimSpace(address))
	if address == "" || err != nil || base.Scheme == "" || base.Host == "" {
		return "", fmt.Errorf("graphite: address %q is not a URL", address)
	}
	q := collapse(query)
	if q == "" {
		return "", errors.New("graphite metric has no query")
	}
	params, err := url.ParseQuery(q)
	if err != nil || !params.Has("target") {
		params = url.Values{"target": {q}}
	}
	params.Set("format", "json")
	base.Path = strings.TrimSuffix(base.Path, "/") + "/render"
	base.RawQuery = params.Encode()
	return base.String(), nil
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// Resume is never called: graphite measurements finish in Measure.
func (p *Provider) Resume(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("graphite measurements are never running"))
}

// Terminate records a running measurement as successful; graphite has none.
func (p *Provider) Terminate(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated"}
}

// GarbageCollect does nothing: graphite measurements leave nothing behind.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }
