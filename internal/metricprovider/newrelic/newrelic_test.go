package newrelic

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

type gqlRequest struct {
	Query     string `json:"query"`
	Variables struct {
		AccountID int    `json:"accountId"`
		Query     string `json:"query"`
		Timeout   int    `json:"timeout"`
	} `json:"variables"`
}

// serve is a NerdGraph endpoint that checks the key and the account and answers *answer.
func serve(t *testing.T, answer *string, got *gqlRequest) Credentials {
	t.Helper()
	return serveWith(t, func(w http.ResponseWriter, _ *http.Request, req gqlRequest) {
		*got = req
		_, _ = io.WriteString(w, *answer)
	})
}

// serveWith is a NerdGraph endpoint that checks the key and the GraphQL request, then lets
// reply answer it.
func serveWith(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, req gqlRequest)) Credentials {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/graphql" {
			http.Error(w, "want POST /graphql", http.StatusNotFound)
			return
		}
		if r.Header.Get("API-Key") != "NRAK-1" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"message":"Invalid API key"}]}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req gqlRequest
		if err := json.Unmarshal(b, &req); err != nil || !strings.Contains(req.Query, "nrql(query: $query, timeout: $timeout)") {
			http.Error(w, "bad GraphQL request", http.StatusBadRequest)
			return
		}
		reply(w, r, req)
	}))
	t.Cleanup(srv.Close)
	return Credentials{APIKey: "NRAK-1", AccountID: 42, NerdGraphURL: srv.URL + "/graphql"}
}

func request(query string, timeout *int64) metricprovider.Request {
	return metricprovider.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{
		NewRelic: &v1alpha1.NewRelicMetric{Query: query, Timeout: timeout},
	}}}
}

func TestOneRowIsAMap(t *testing.T) {
	answer := `{"data":{"actor":{"account":{"nrql":{"results":[{"successRate":99.5,"average.duration":0.12}]}}}}}`
	var got gqlRequest
	creds := serve(t, &answer, &got)
	res := NewWithCredentials(creds).Measure(t.Context(), request("FROM Transaction SELECT percentage(count(*), WHERE error IS false) AS successRate", nil))
	row, ok := res.Value.(map[string]any)
	if res.Err != nil || !ok || row["successRate"] != 99.5 || row["average.duration"] != 0.12 {
		t.Fatalf("got %+v", res)
	}
	if got.Variables.AccountID != 42 || got.Variables.Timeout != 5 || !strings.HasPrefix(got.Variables.Query, "FROM Transaction") {
		t.Fatalf("variables %+v: want account 42, timeout 5 and the NRQL", got.Variables)
	}
	answer = `{"data":{"actor":{"account":{"nrql":{"results":[{"facet":"a","count":1},{"facet":"b","count":2}]}}}}}`
	ten := int64(10)
	res = NewWithCredentials(creds).Measure(t.Context(), request("SELECT count(*) FROM T FACET appName", &ten))
	if rows, ok := res.Value.([]map[string]any); res.Err != nil || !ok || len(rows) != 2 || got.Variables.Timeout != 10 {
		t.Fatalf("got %+v, want two rows", res)
	}
}

func TestEmptyAndErrors(t *testing.T) {
	answer := `{"data":{"actor":{"account":{"nrql":{"results":[]}}}}}`
	var got gqlRequest
	creds := serve(t, &answer, &got)
	p := NewWithCredentials(creds)
	if res := p.Measure(t.Context(), request("SELECT count(*) FROM Typo", nil)); res.Err != nil || !res.Empty || !strings.Contains(res.Message, "FROM Typo") {
		t.Fatalf("got %+v, want empty naming the query", res)
	}
	answer = `{"data":{"actor":{"account":{"nrql":null}}},"errors":[{"message":"NRQL Syntax Error: Error at line 1 position 8"}]}`
	if res := p.Measure(t.Context(), request("SELECT (", nil)); res.Err == nil || !strings.Contains(res.Message, "NRQL Syntax Error") {
		t.Fatalf("got %+v, want the NRQL error", res)
	}
	bad := creds
	bad.APIKey = "wrong"
	if res := NewWithCredentials(bad).Measure(t.Context(), request("SELECT 1", nil)); res.Err == nil || !strings.Contains(res.Message, "Invalid API key") {
		t.Fatalf("got %+v", res)
	}
}

func TestProfileSecret(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	secret := func(name string, data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "sluice", Name: name}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret("newrelic", map[string]string{"personal-api-key": "k", "account-id": "7"}),
		secret("eu", map[string]string{"personal-api-key": "k", "account-id": "7", "region": "eu"}),
		secret("proxy", map[string]string{"personal-api-key": "k", "account-id": "7", "base-url-nerdgraph": "http://proxy/graphql"}),
		secret("broken", map[string]string{"personal-api-key": "k", "account-id": "seven"}),
	).Build()
	deps := metricprovider.Deps{Client: c, Namespace: "sluice"}
	for profile, want := range map[string]string{"newrelic": regionURLs["us"], "eu": regionURLs["eu"], "proxy": "http://proxy/graphql"} {
		got, err := secretCredentials(t.Context(), deps, profile)
		if err != nil || got.NerdGraphURL != want || got.AccountID != 7 {
			t.Errorf("%s: got %+v %v, want %s", profile, got, err, want)
		}
	}
	if _, err := secretCredentials(t.Context(), deps, "broken"); err == nil {
		t.Error("want an error for a non-numeric account-id")
	}
}
