package newrelic

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "newRelic"

// DefaultProfile is the Secret read when the metric names no profile.
const DefaultProfile = "newrelic"

const defaultTimeout = 5 // seconds, the NRQL default

// timeoutGrace is how long past the NRQL timeout the HTTP client waits for NerdGraph to answer
// (with its own timeout error, when the query ran out of time) before giving up itself.
const timeoutGrace = 3 * time.Second

var regionURLs = map[string]string{
	"us": "https://api.newrelic.com/graphql",
	"eu": "https://api.eu.newrelic.com/graphql",
}

// Credentials are a New Relic profile.
type Credentials struct {
	APIKey    string
	AccountID int
	// NerdGraphURL is the full GraphQL endpoint.
	NerdGraphURL string
}

// Provider measures newRelic metrics.
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

const nrqlQuery = `query($accountId: Int!, $query: Nrql!, $timeout: Seconds) {
  actor { account(id: $accountId) { nrql(query: $query, timeout: $timeout) { results } } }
}`

type nerdGraphResponse struct {
	Data struct {
		Actor struct {
			Account struct {
				NRQL *struct {
					Results []map[string]any `json:"results"`
				} `json:"nrql"`
			} `json:"account"`
		} `json:"actor"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// Measure runs the NRQL query once.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.NewRelic
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no newRelic provider"))
	}
	if strings.TrimSpace(m.Query) == "" {
		return metricprovider.Errorf(errors.New("newRelic metric has no query"))
	}
	creds, err := p.credentials(ctx, cmp.Or(m.Profile, DefaultProfile))
	if err != nil {
		return metricprovider.Errorf(err)
	}
	timeout := int64(defaultTimeout)
	if m.Timeout != nil {
		timeout = *m.Timeout
	}
	body, err := json.Marshal(map[string]any{"query": nrqlQuery, "variables": map[string]any{
		"accountId": creds.AccountID, "query": m.Query, "timeout": timeout,
	}})
	if err != nil {
		return metricprovider.Errorf(err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, creds.NerdGraphURL, bytes.NewReader(body))
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("newrelic: %w", err))
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("API-Key", creds.APIKey)
	hc := &http.Client{Timeout: time.Duration(timeout)*time.Second + timeoutGrace}
	resp, err := hc.Do(hreq)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("newrelic: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("newrelic: reading the answer: %w", err))
	}
	var out nerdGraphResponse
	decodeErr := json.Unmarshal(b, &out)
	if len(out.Errors) > 0 {
		msgs := make([]string, len(out.Errors))
		for i, e := range out.Errors {
			msgs[i] = e.Message
		}
		return metricprovider.Errorf(fmt.Errorf("newrelic: %s", strings.Join(msgs, "; ")))
	}
	if resp.StatusCode >= 300 {
		return metricprovider.Errorf(fmt.Errorf("newrelic: NerdGraph answered %s: %s", resp.Status, strings.TrimSpace(string(b))))
	}
	if decodeErr != nil {
		return metricprovider.Errorf(fmt.Errorf("newrelic: decoding the answer: %w", decodeErr))
	}
	meta := map[string]string{"query": strings.TrimSpace(m.Query)}
	var rows []map[string]any
	if n := out.Data.Actor.Account.NRQL; n != nil {
		rows = n.Results
	}
	var value any
	switch {
	case len(rows) == 0 || (len(rows) == 1 && len(rows[0]) == 0):
		return metricprovider.Result{Empty: true, Metadata: meta, Message: "the query returned no results: " + meta["query"]}
	case len(rows) == 1:
		value = rows[0]
	default:
		value = rows
	}
	display, _ := json.Marshal(value)
	return metricprovider.Result{Value: value, Display: string(display), Metadata: meta}
}

// secretCredentials reads the profile Secret in the controller's namespace.
func secretCredentials(ctx context.Context, deps metricprovider.Deps, profile string) (Credentials, error) {
	if deps.Client == nil {
		return Credentials{}, errors.New("newrelic: no Kubernetes client to read Secret " + deps.Namespace + "/" + profile)
	}
	var s corev1.Secret
	if err := deps.Client.Get(ctx, client.ObjectKey{Namespace: deps.Namespace, Name: profile}, &s); err != nil {
		return Credentials{}, fmt.Errorf("newrelic: reading Secret %s/%s: %w", deps.Namespace, profile, err)
	}
	get := func(k string) string { return strings.TrimSpace(string(s.Data[k])) }
	if get("personal-api-key") == "" || get("account-id") == "" {
		return Credentials{}, fmt.Errorf("newrelic: Secret %s/%s needs personal-api-key and account-id", deps.Namespace, profile)
	}
	id, err := strconv.Atoi(get("account-id"))
	if err != nil {
		return Credentials{}, fmt.Errorf("newrelic: Secret %s/%s: account-id is not a number", deps.Namespace, profile)
	}
	url := get("base-url-nerdgraph")
	if url == "" {
		region := strings.ToLower(cmp.Or(get("region"), "us"))
		if url = regionURLs[region]; url == "" {
			return Credentials{}, fmt.Errorf("newrelic: Secret %s/%s: region %q is neither us nor eu", deps.Namespace, profile, region)
		}
	}
	return Credentials{APIKey: get("personal-api-key"), AccountID: id, NerdGraphURL: url}, nil
}

// Resume is never called: newRelic measurements finish in Measure.
func (p *Provider) Resume(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("newRelic measurements are never running"))
}

// Terminate records a running measurement as successful; newRelic has none.
func (p *Provider) Terminate(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated"}
}

// GarbageCollect does nothing: newRelic measurements leave nothing behind.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }
