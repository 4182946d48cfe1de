package datadog

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

// fakeDatadog speaks Datadog's v1 query and v2 scalar query APIs on loopback. It checks the
// keys and records the last request.
type fakeDatadog struct {
	t      *testing.T
	answer func(w http.ResponseWriter, r *http.Request, body []byte)
	last   *http.Request
	body   []byte
}

func newServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) (*fakeDatadog, Credentials) {
	t.Helper()
	f := &fakeDatadog{t: t, answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, Credentials{Address: srv.URL, APIKey: "api-123", AppKey: "app-456"}
}

func (f *fakeDatadog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.last, f.body = r, body
	if r.Header.Get("DD-API-KEY") != "api-123" || r.Header.Get("DD-APPLICATION-KEY") != "app-456" {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors":["Forbidden"]}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	f.answer(w, r, body)
}

func request(m v1alpha1.DatadogMetric) metricprovider.Request {
	return metricprovider.Request{
		Run:    &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "apps"}},
		Metric: v1alpha1.Metric{Name: "errors", Provider: v1alpha1.MetricProvider{Datadog: &m}},
		Now:    now,
	}
}

func TestV1LastPointOfFirstSeries(t *testing.T) {
	f, creds := newServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok","series":[{"pointlist":[[1,0.1],[2,0.25],[3,null]]},{"pointlist":[[1,9]]}]}`)
	})
	res := NewWithCredentials(creds).Measure(t.Context(), request(v1alpha1.DatadogMetric{Query: "sum:errors{svc:a}"}))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.Value != 0.25 || res.Display != "0.25" || res.Empty {
		t.Fatalf("got %#v %q empty=%v, want 0.25", res.Value, res.Display, res.Empty)
	}
	q := f.last.URL.Query()
	if q.Get("query") != "sum:errors{svc:a}" || q.Get("to") != "1777896000" || q.Get("from") != "1777895700" {
		t.Fatalf("query params %v: want the query and a 5m window ending now", q)
	}
}

func TestV1NoSeriesIsEmpty(t *testing.T) {
	_, creds := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		_, _ = io.WriteString(w, `{"status":"ok","series":[]}`)
	})
	res := NewWithCredentials(creds).Measure(t.Context(), request(v1alpha1.DatadogMetric{Query: "sum:typo{*}"}))
	if res.Err != nil || !res.Empty || res.Value != nil || !strings.Contains(res.Message, "sum:typo{*}") {
		t.Fatalf("got %+v, want an empty result naming the query", res)
	}
}

func TestErrorsAreReported(t *testing.T) {
	_, creds := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"errors":["Error parsing query: unexpected ')'"]}`)
	})
	for _, v := range []string{"v1", "v2"} {
		res := NewWithCredentials(creds).Measure(t.Context(), request(v1alpha1.DatadogMetric{APIVersion: v, Query: "sum:x{*})"}))
		if res.Err == nil || !strings.Contains(res.Message, "Error parsing query") {
			t.Fatalf("%s: got %+v, want Datadog's error", v, res)
		}
	}
	bad := creds
	bad.AppKey = "wrong"
	res := NewWithCredentials(bad).Measure(t.Context(), request(v1alpha1.DatadogMetric{Query: "sum:x{*}"}))
	if res.Err == nil || !strings.Contains(res.Message, "Forbidden") {
		t.Fatalf("wrong key: got %+v", res)
	}
}

func TestV2FormulaAndAggregator(t *testing.T) {
	f, creds := newServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/query/scalar" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"data":{"type":"scalar_response","attributes":{"columns":[
			{"name":"a / b","type":"number","values":[2.5],"meta":{"unit":null}}]}}}`)
	})
	res := NewWithCredentials(creds).Measure(t.Context(), request(v1alpha1.DatadogMetric{
		APIVersion: "v2", Interval: "10m", Aggregator: "sum",
		Queries: map[string]string{"b": "sum:req{*}.as_count()", "a": "sum:err{*}.as_count()"},
		Formula: "a / b",
	}))
	if res.Err != nil || res.Value != 2.5 {
		t.Fatalf("got %+v, want 2.5", res)
	}
	var got v2Request
	if err := json.Unmarshal(f.body, &got); err != nil {
		t.Fatal(err)
	}
	a := got.Data.Attributes
	if got.Data.Type != "scalar_request" || a.From != now.Add(-10*time.Minute).UnixMilli() || a.To != now.UnixMilli() {
		t.Fatalf("request %s: want a scalar_request over the last 10m in ms", f.body)
	}
	want := []v2Query{
		{DataSource: "metrics", Name: "a", Query: "sum:err{*}.as_count()", Aggregator: "sum"},
		{DataSource: "metrics", Name: "b", Query: "sum:req{*}.as_count()", Aggregator: "sum"},
	}
	if len(a.Queries) != 2 || a.Queries[0] != want[0] || a.Queries[1] != want[1] || a.Formulas[0]["formula"] != "a / b" {
		t.Fatalf("request %s: want both queries by name and the formula", f.body)
	}
}

func TestV2SingleQueryDefaultsToLast(t *testing.T) {
	f, creds := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		_, _ = io.WriteString(w, `{"data":{"attributes":{"columns":[{"name":"q","type":"number","values":[3]}]}}}`)
	})
	res := NewWithCredentials(creds).Measure(t.Context(), request(v1alpha1.DatadogMetric{
		APIVersion: "v2", Queries: map[string]string{"q": "max:restarts{*}"},
	}))
	if res.Err != nil || res.Value != 3.0 {
		t.Fatalf("got %+v", res)
	}
	var got v2Request
	_ = json.Unmarshal(f.body, &got)
	if got.Data.Attributes.Queries[0].Aggregator != "last" || got.Data.Attributes.Formulas[0]["formula"] != "q" {
		t.Fatalf("request %s: want aggregator last and the query itself as formula", f.body)
	}
}

func TestV2EmptyAndGrouped(t *testing.T) {
	answer := `{"data":{"attributes":{"columns":[{"name":"query","type":"number","values":[]}]}}}`
	_, creds := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { _, _ = io.WriteString(w, answer) })
	p := NewWithCredentials(creds)
	res := p.Measure(t.Context(), request(v1alpha1.DatadogMetric{APIVersion: "v2", Query: "sum:x{*}"}))
	if res.Err != nil || !res.Empty || res.Value != nil {
		t.Fatalf("no values: got %+v, want empty", res)
	}
	answer = `{"data":{"attributes":{"columns":[
		{"name":"resource_name","type":"group","values":[["GET /a"],["GET /b"]]},
		{"name":"query","type":"number","values":[0.01,0.2]}]}}}`
	res = p.Measure(t.Context(), request(v1alpha1.DatadogMetric{APIVersion: "v2", Query: "sum:x{*} by {resource_name}"}))
	got, ok := res.Value.([]float64)
	if res.Err != nil || !ok || len(got) != 2 || got[1] != 0.2 {
		t.Fatalf("grouped: got %+v, want one value per group", res)
	}
	if res.Metadata["groups"] != `[{"name":"GET /b","value":0.2},{"name":"GET /a","value":0.01}]` {
		t.Fatalf("groups metadata %q", res.Metadata["groups"])
	}
}

func TestRequestTimeout(t *testing.T) {
	_, creds := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, `{"status":"ok","series":[]}`)
	})
	res := NewWithCredentials(creds).Measure(t.Context(), request(v1alpha1.DatadogMetric{Query: "x", RequestTimeout: "50ms"}))
	if res.Err == nil || !strings.Contains(res.Message, "Timeout") {
		t.Fatalf("got %+v, want a client timeout", res)
	}
}

func TestInvalidSpecs(t *testing.T) {
	p := NewWithCredentials(Credentials{Address: "http://127.0.0.1:1", APIKey: "k", AppKey: "k"})
	for name, m := range map[string]v1alpha1.DatadogMetric{
		"v1 with formula":           {Queries: map[string]string{"a": "x"}, Formula: "a"},
		"v2 two queries no formula": {APIVersion: "v2", Queries: map[string]string{"a": "x", "b": "y"}},
		"no query":                  {APIVersion: "v2"},
		"bad interval":              {Query: "x", Interval: "five"},
	} {
		if res := p.Measure(t.Context(), request(m)); res.Err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestSecretLookup(t *testing.T) {
	_, creds := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		_, _ = io.WriteString(w, `{"status":"ok","series":[{"pointlist":[[1,7]]}]}`)
	})
	secret := func(ns, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{
			"address": []byte(creds.Address), "api-key": []byte(creds.APIKey), "app-key": []byte(creds.AppKey),
		}}
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(secret("sluice", "datadog"), secret("apps", "mine")).Build()
	p := New(metricprovider.Deps{Client: c, Namespace: "sluice"})
	for name, ref := range map[string]v1alpha1.SecretRef{
		"default in controller namespace": {},
		"namespaced":                      {Name: "mine", Namespaced: true},
	} {
		res := p.Measure(t.Context(), request(v1alpha1.DatadogMetric{Query: "x", SecretRef: ref}))
		if res.Err != nil || res.Value != 7.0 {
			t.Errorf("%s: got %+v", name, res)
		}
	}
	res := p.Measure(t.Context(), request(v1alpha1.DatadogMetric{Query: "x", SecretRef: v1alpha1.SecretRef{Name: "mine"}}))
	if res.Err == nil || !strings.Contains(res.Message, "sluice/mine") {
		t.Errorf("not namespaced: got %+v, want Secret sluice/mine not found", res)
	}
}
