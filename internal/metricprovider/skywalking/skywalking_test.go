package skywalking

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

const query = `query queryData($duration: Duration!) {
  service_apdex: readMetricsValues(condition: {name: "service_apdex", entity: {scope: Service, serviceName: "web", normal: true}}, duration: $duration) {
    label values { values { value } }
  }
}`

func serve(t *testing.T, answer *string, got *graphqlRequest) string {
	t.Helper()
	return serveWith(t, func(w http.ResponseWriter, _ *http.Request, req graphqlRequest) {
		*got = req
		_, _ = io.WriteString(w, *answer)
	})
}

// serveWith is SkyWalking's /graphql endpoint: it checks and decodes the request, then lets
// reply answer it.
func serveWith(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, req graphqlRequest)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/graphql" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			http.Error(w, "want POST /graphql with JSON", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req graphqlRequest
		if err := json.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		reply(w, r, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func request(address, interval string) metricprovider.Request {
	return metricprovider.Request{
		Metric: v1alpha1.Metric{Name: "apdex", Provider: v1alpha1.MetricProvider{SkyWalking: &v1alpha1.SkyWalkingMetric{
			Address: address, Query: query, Interval: v1alpha1.DurationString(interval),
		}}},
		Now: time.Date(2026, 1, 2, 10, 30, 45, 0, time.UTC),
	}
}

func TestDataIsTheResult(t *testing.T) {
	answer := `{"data":{"service_apdex":{"label":null,"values":{"values":[{"value":9950},{"value":9990}]}}}}`
	var got graphqlRequest
	addr := serve(t, &answer, &got)
	res := New(metricprovider.Deps{}).Measure(t.Context(), request(addr, "3m"))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	apdex := res.Value.(map[string]any)["service_apdex"].(map[string]any)["values"].(map[string]any)["values"].([]any)
	if len(apdex) != 2 || apdex[1].(map[string]any)["value"] != 9990.0 {
		t.Fatalf("got %+v", res.Value)
	}
	d := got.Variables["duration"].(map[string]any)
	if got.Query != query || d["start"] != "2026-01-02 1027" || d["end"] != "2026-01-02 1030" || d["step"] != "MINUTE" {
		t.Fatalf("request %+v: want the query and a 3 minute duration", got)
	}
}

func TestEmptyAndErrors(t *testing.T) {
	answer := `{"data":null}`
	var got graphqlRequest
	addr := serve(t, &answer, &got)
	p := New(metricprovider.Deps{})
	if res := p.Measure(t.Context(), request(addr, "")); res.Err != nil || !res.Empty || !strings.Contains(res.Message, "service_apdex") {
		t.Fatalf("got %+v, want empty naming the query", res)
	}
	answer = `{"data":null,"errors":[{"message":"Validation error of type FieldUndefined"}]}`
	if res := p.Measure(t.Context(), request(addr, "")); res.Err == nil || !strings.Contains(res.Message, "FieldUndefined") {
		t.Fatalf("got %+v, want the GraphQL error", res)
	}
	if res := p.Measure(t.Context(), request(addr, "soon")); res.Err == nil {
		t.Fatal("want an error for a bad interval")
	}
}
