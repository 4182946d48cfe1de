package skywalking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "skywalking"

const (
	timeout         = 30 * time.Second
	defaultInterval = 5 * time.Minute
	// timeFormat is SkyWalking's minute-step Duration format.
	timeFormat = "2006-01-02 1504"
)

// Provider measures skywalking metrics.
type Provider struct {
	http *http.Client
}

// New returns a skywalking provider; it needs nothing from deps.
func New(metricprovider.Deps) *Provider { return &Provider{http: &http.Client{Timeout: timeout}} }

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

type duration struct {
	Start string `json:"start"`
	End   string `json:"end"`
	Step  string `json:"step"`
}

type graphqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
}

type graphqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// Measure runs the GraphQL query once.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.SkyWalking
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no skywalking provider"))
	}
	if m.Address == "" || strings.TrimSpace(m.Query) == "" {
		return metricprovider.Errorf(errors.New("skywalking metric needs an address and a query"))
	}
	interval := defaultInterval
	if m.Interval != "" {
		var err error
		if interval, err = m.Interval.Duration(); err != nil {
			return metricprovider.Errorf(fmt.Errorf("skywalking interval %q: %w", m.Interval, err))
		}
	}
	now := req.Now.UTC()
	body, err := json.Marshal(graphqlRequest{Query: m.Query, Variables: map[string]any{
		"duration": duration{Start: now.Add(-interval).Format(timeFormat), End: now.Format(timeFormat), Step: "MINUTE"},
	}})
	if err != nil {
		return metricprovider.Errorf(err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(m.Address, "/")+"/graphql", bytes.NewReader(body))
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("skywalking: %w", err))
	}
	hreq.Header.Set("Content-Type", "application/json; charset=utf-8")
	hreq.Header.Set("Accept", "application/json; charset=utf-8")
	resp, err := p.http.Do(hreq)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("skywalking: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("skywalking: reading the answer: %w", err))
	}
	var out graphqlResponse
	decodeErr := json.Unmarshal(b, &out)
	if len(out.Errors) > 0 {
		msgs := make([]string, len(out.Errors))
		for i, e := range out.Errors {
			msgs[i] = e.Message
		}
		return metricprovider.Errorf(fmt.Errorf("skywalking: %s", strings.Join(msgs, "; ")))
	}
	if resp.StatusCode >= 300 {
		return metricprovider.Errorf(fmt.Errorf("skywalking: /graphql answered %s: %s", resp.Status, strings.TrimSpace(string(b))))
	}
	if decodeErr != nil {
		return metricprovider.Errorf(fmt.Errorf("skywalking: decoding the answer: %w", decodeErr))
	}
	if len(out.Data) == 0 {
		return metricprovider.Result{Empty: true, Message: "the query returned no data: " + strings.Join(strings.Fields(m.Query), " ")}
	}
	display, _ := json.Marshal(out.Data)
	return metricprovider.Result{Value: out.Data, Display: string(display)}
}

// Resume is never called: skywalking measurements finish in Measure.
func (p *Provider) Resume(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("skywalking measurements are never running"))
}

// Terminate records a running measurement as successful; skywalking has none.
func (p *Provider) Terminate(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated"}
}

// GarbageCollect does nothing: skywalking measurements leave nothing behind.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }
