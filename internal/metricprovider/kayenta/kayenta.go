package kayenta

import (
	"bytes"
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
const Type = "kayenta"

const (
	// ExecutionIDKey is the measurement metadata key holding Kayenta's canaryExecutionId.
	ExecutionIDKey = "canaryExecutionId"
	resumeDelay    = 15 * time.Second
	timeout        = 15 * time.Second
)

// Provider runs kayenta judgements.
type Provider struct {
	http *http.Client
}

// New returns a kayenta provider; it needs nothing from deps.
func New(metricprovider.Deps) *Provider { return &Provider{http: &http.Client{Timeout: timeout}} }

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

type scope struct {
	Scope  string `json:"scope"`
	Region string `json:"region"`
	Step   int64  `json:"step"`
	Start  string `json:"start,omitempty"`
	End    string `json:"end,omitempty"`
}

type scopePair struct {
	ControlScope    scope `json:"controlScope"`
	ExperimentScope scope `json:"experimentScope"`
}

type execution struct {
	Scopes     map[string]scopePair `json:"scopes"`
	Thresholds struct {
		Pass     int64 `json:"pass"`
		Marginal int64 `json:"marginal"`
	} `json:"thresholds"`
}

// Measure starts a canary judgement and returns it Running.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.Kayenta
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no kayenta provider"))
	}
	base := strings.TrimSuffix(m.Address, "/")
	q := url.Values{"application": {m.Application}, "configurationAccountName": {m.ConfigurationAccountName}}
	var configs []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := p.do(ctx, http.MethodGet, base+"/canaryConfig?"+q.Encode(), nil, &configs); err != nil {
		return metricprovider.Errorf(err)
	}
	configID := ""
	for _, c := range configs {
		if c.Name == m.CanaryConfigName {
			configID = c.ID
		}
	}
	if configID == "" {
		return metricprovider.Errorf(fmt.Errorf("kayenta: no canary config named %q for application %q", m.CanaryConfigName, m.Application))
	}
	body, err := p.execution(req)
	if err != nil {
		return metricprovider.Errorf(err)
	}
	q = url.Values{
		"application":              {m.Application},
		"metricsAccountName":       {m.MetricsAccountName},
		"configurationAccountName": {m.ConfigurationAccountName},
		"storageAccountName":       {m.StorageAccountName},
	}
	var started struct {
		CanaryExecutionID string `json:"canaryExecutionId"`
	}
	if err := p.do(ctx, http.MethodPost, base+"/canary/"+url.PathEscape(configID)+"?"+q.Encode(), body, &started); err != nil {
		return metricprovider.Errorf(err)
	}
	if started.CanaryExecutionID == "" {
		return metricprovider.Errorf(errors.New("kayenta: the answer has no canaryExecutionId"))
	}
	return metricprovider.Result{
		Phase:    v1alpha1.AnalysisPhaseRunning,
		ResumeAt: req.Now.Add(resumeDelay),
		Message:  "canary judgement " + started.CanaryExecutionID + " started",
		Metadata: map[string]string{ExecutionIDKey: started.CanaryExecutionID, "canaryConfigId": configID},
	}
}

// execution builds the POST body, filling in the scopes' missing start and end.
func (p *Provider) execution(req metricprovider.Request) (execution, error) {
	m := req.Metric.Provider.Kayenta
	var e execution
	e.Thresholds.Pass, e.Thresholds.Marginal = m.Threshold.Pass, m.Threshold.Marginal
	e.Scopes = map[string]scopePair{}
	start := ""
	if m.Lookback && req.Run != nil && req.Run.Status.StartedAt != nil {
		start = req.Run.Status.StartedAt.UTC().Format(time.RFC3339)
	} else if req.Metric.Interval != "" {
		d, err := req.Metric.Interval.Duration()
		if err != nil {
			return e, fmt.Errorf("kayenta: metric interval %q: %w", req.Metric.Interval, err)
		}
		start = req.Now.Add(-d).UTC().Format(time.RFC3339)
	}
	end := req.Now.UTC().Format(time.RFC3339)
	fill := func(d v1alpha1.ScopeDetail) scope {
		s := scope{Scope: d.Scope, Region: d.Region, Step: d.Step, Start: d.Start, End: d.End}
		if s.Start == "" {
			s.Start = start
		}
		if s.End == "" {
			s.End = end
		}
		return s
	}
	for _, s := range m.Scopes {
		e.Scopes[s.Name] = scopePair{ControlScope: fill(s.ControlScope), ExperimentScope: fill(s.ExperimentScope)}
	}
	return e, nil
}

// Resume looks at the judgement again: Running until Kayenta says it is complete.
func (p *Provider) Resume(ctx context.Context, req metricprovider.Request, ms v1alpha1.Measurement) metricprovider.Result {
	m := req.Metric.Provider.Kayenta
	id := ms.Metadata[ExecutionIDKey]
	if m == nil || id == "" {
		return metricprovider.Errorf(errors.New("kayenta: the measurement has no canaryExecutionId"))
	}
	var out struct {
		Complete *bool `json:"complete"`
		Result   struct {
			JudgeResult struct {
				Score struct {
					Score *float64 `json:"score"`
				} `json:"score"`
			} `json:"judgeResult"`
		} `json:"result"`
	}
	if err := p.do(ctx, http.MethodGet, strings.TrimSuffix(m.Address, "/")+"/canary/"+url.PathEscape(id), nil, &out); err != nil {
		r := metricprovider.Errorf(err)
		r.Metadata = ms.Metadata
		return r
	}
	switch {
	case out.Complete == nil:
		return metricprovider.Result{Err: errors.New("kayenta: the answer has no complete field"), Message: "kayenta: the answer has no complete field", Metadata: ms.Metadata}
	case !*out.Complete:
		return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseRunning, ResumeAt: req.Now.Add(resumeDelay), Metadata: ms.Metadata, Message: "canary judgement " + id + " is running"}
	case out.Result.JudgeResult.Score.Score == nil:
		return metricprovider.Result{Err: errors.New("kayenta: the judgement is complete but has no score"), Message: "kayenta: the judgement is complete but has no score", Metadata: ms.Metadata}
	}
	score := int64(*out.Result.JudgeResult.Score.Score)
	phase, msg := v1alpha1.AnalysisPhaseFailed, "below the marginal threshold"
	switch {
	case score >= m.Threshold.Pass:
		phase, msg = v1alpha1.AnalysisPhaseSuccessful, "at or above the pass threshold"
	case score >= m.Threshold.Marginal:
		phase, msg = v1alpha1.AnalysisPhaseInconclusive, "between the marginal and pass thresholds"
	}
	return metricprovider.Result{
		Value: float64(score), Display: strconv.FormatInt(score, 10), Phase: phase, Metadata: ms.Metadata,
		Message: fmt.Sprintf("score %d is %s (pass %d, marginal %d)", score, msg, m.Threshold.Pass, m.Threshold.Marginal),
	}
}

// Terminate leaves the judgement to finish in Kayenta and records the measurement as successful.
func (p *Provider) Terminate(_ context.Context, _ metricprovider.Request, ms v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated", Metadata: ms.Metadata}
}

// GarbageCollect does nothing: judgements stay in Kayenta's storage.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }

func (p *Provider) do(ctx context.Context, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("kayenta: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("kayenta: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("kayenta: reading the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("kayenta: %s %s answered %s: %s", method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("kayenta: decoding the answer of %s: %w", req.URL.Path, err)
	}
	return nil
}
