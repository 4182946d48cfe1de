package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
	"github.com/sluicehq/sluice/internal/metricprovider/web"
)

// backend is a loopback JSON endpoint steered by the URL: /value?v=0.95 answers
// {"data":{"value":0.95}}, /nodata answers {"data":{}}, /error answers HTTP 500, /slow?v=&d=
// answers after d (or when the client goes away).
func backend(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	value := func(w http.ResponseWriter, r *http.Request) {
		v, _ := strconv.ParseFloat(r.URL.Query().Get("v"), 64)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"value": v}})
	}
	mux.HandleFunc("/value", value)
	mux.HandleFunc("/nodata", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"data":{}}`) })
	mux.HandleFunc("/error", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "backend exploded: disk full", http.StatusInternalServerError)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
			value(w, r)
		case <-r.Context().Done():
		}
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func metric(url string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "web", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: url, JSONPath: "{$.data.value}"}}}
}

func TestConformance(t *testing.T) {
	s := backend(t)
	providertest.Run(t, &providertest.Case{
		Provider: web.New(),
		Metric: func(t *testing.T, a providertest.Answer) v1alpha1.Metric {
			t.Helper()
			switch a.Kind {
			case providertest.KindValue:
				return metric(fmt.Sprintf("%s/value?v=%g", s.URL, a.Value))
			case providertest.KindNoData:
				return metric(s.URL + "/nodata")
			case providertest.KindError:
				return metric(s.URL + "/error")
			case providertest.KindSlow:
				return metric(fmt.Sprintf("%s/slow?v=%g&d=%s", s.URL, a.Value, a.Delay))
			case providertest.KindUnreachable:
				return metric("http://" + providertest.UnreachableAddress(t) + "/value?v=1")
			}
			t.Fatalf("unknown answer %s", a)
			return v1alpha1.Metric{}
		},
		Want: func(v float64) (any, string) {
			b, _ := json.Marshal(v)
			return v, string(b)
		},
		Query:      func(m v1alpha1.Metric) string { return m.Provider.Web.URL },
		SetTimeout: func(m *v1alpha1.Metric, s int64) { m.Provider.Web.TimeoutSeconds = s },
		Zero:       v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}},
	})
}

func measure(t *testing.T, w *v1alpha1.WebMetric) metricprovider.Result {
	t.Helper()
	return web.New().Measure(t.Context(), metricprovider.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: w}}})
}

// serve answers every request with body after recording it.
func serve(t *testing.T, body string) (*httptest.Server, *atomic.Pointer[recorded]) {
	t.Helper()
	var last atomic.Pointer[recorded]
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		last.Store(&recorded{method: r.Method, header: r.Header.Clone(), body: string(b)})
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, &last
}

type recorded struct {
	method string
	header http.Header
	body   string
}

func TestValuesAsConditionsSeeThem(t *testing.T) {
	body := `{"n": 0.5, "s": "0.95", "b": true, "nil": null, "list": [1, 2.5], "obj": {"k": "v"}, "items": [{"ok": true, "v": 3}]}`
	s, _ := serve(t, body)
	for _, c := range []struct {
		path    string
		want    any
		display string
	}{
		{"{$.n}", 0.5, "0.5"},
		// A string that looks like a number stays a string, as in Argo Rollouts (whose
		// templates write asFloat(result)).
		{"{$.s}", "0.95", `"0.95"`},
		{"{$.b}", true, "true"},
		{"{$.nil}", nil, "null"},
		{"{$.list}", []any{1.0, 2.5}, "[1,2.5]"},
		{"{$.list[1]}", 2.5, "2.5"},
		{"{$.obj}", map[string]any{"k": "v"}, `{"k":"v"}`},
		{"{$.items[?(@.ok==true)].v}", 3.0, "3"},
		{"", nil, ""}, // the default {$}: the whole document, checked below
	} {
		r := measure(t, &v1alpha1.WebMetric{URL: s.URL, JSONPath: c.path})
		if r.Err != nil || r.Empty {
			t.Errorf("%s: %v", c.path, r.Err)
			continue
		}
		if c.path == "" {
			if m, ok := r.Value.(map[string]any); !ok || m["n"] != 0.5 {
				t.Errorf("default jsonPath: value %#v", r.Value)
			}
			continue
		}
		if !providertest.SameValue(r.Value, c.want) || r.Display != c.display {
			t.Errorf("%s: got %#v %q, want %#v %q", c.path, r.Value, r.Display, c.want, c.display)
		}
	}
}

func TestNothingSelectedIsEmpty(t *testing.T) {
	s, _ := serve(t, `{"data": {"items": []}}`)
	for _, path := range []string{"{$.data.missing}", "{$.data.items[0]}", "{$.data.items[?(@.ok==true)]}"} {
		r := measure(t, &v1alpha1.WebMetric{URL: s.URL + "/q", JSONPath: path})
		if !r.Empty || r.Err == nil || !strings.Contains(r.Message, path) || !strings.Contains(r.Message, s.URL+"/q") {
			t.Errorf("%s: want Empty and an error naming the path and url, got %+v", path, r)
		}
	}
	r := measure(t, &v1alpha1.WebMetric{URL: s.URL, JSONPath: "{$.data.items[}"})
	if r.Err == nil || r.Empty {
		t.Errorf("a malformed jsonPath is an error, not no data: %+v", r)
	}
}

func TestNotJSONIsSuccessfulAsInArgo(t *testing.T) {
	s, _ := serve(t, "OK")
	r := measure(t, &v1alpha1.WebMetric{URL: s.URL})
	if r.Err != nil || r.Phase != v1alpha1.AnalysisPhaseSuccessful || r.Value != "OK" || r.Display != "OK" {
		t.Errorf("got %+v", r)
	}
}

func TestNon2xxNamesStatusAndBody(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "tenant not found", http.StatusNotFound)
	}))
	t.Cleanup(s.Close)
	r := measure(t, &v1alpha1.WebMetric{URL: s.URL + "/api"})
	if r.Err == nil || !strings.Contains(r.Message, "404") || !strings.Contains(r.Message, "tenant not found") ||
		!strings.Contains(r.Message, "GET "+s.URL+"/api") {
		t.Errorf("got %+v", r)
	}
}

func TestMethodsBodiesAndHeaders(t *testing.T) {
	s, last := serve(t, `{"ok": 1}`)
	for _, c := range []struct {
		name                     string
		w                        v1alpha1.WebMetric
		method, body, contentTyp string
	}{
		{"default GET", v1alpha1.WebMetric{}, "GET", "", ""},
		{"POST body", v1alpha1.WebMetric{Method: "POST", Body: "a=b", Headers: []v1alpha1.WebMetricHeader{{Key: "Content-Type", Value: "text/plain"}}}, "POST", "a=b", "text/plain"},
		{"PUT jsonBody", v1alpha1.WebMetric{Method: "PUT", JSONBody: json.RawMessage(`{"q":"up"}`)}, "PUT", `{"q":"up"}`, "application/json"},
	} {
		w := c.w
		w.URL = s.URL
		w.Headers = append(w.Headers, v1alpha1.WebMetricHeader{Key: "X-Scope-OrgID", Value: "tenant-a"})
		if r := measure(t, &w); r.Err != nil {
			t.Fatalf("%s: %v", c.name, r.Err)
		}
		got := last.Load()
		if got.method != c.method || got.body != c.body || got.header.Get("Content-Type") != c.contentTyp ||
			got.header.Get("X-Scope-OrgID") != "tenant-a" {
			t.Errorf("%s: server saw %s %q content-type %q org %q", c.name, got.method, got.body, got.header.Get("Content-Type"), got.header.Get("X-Scope-OrgID"))
		}
	}
	for _, w := range []v1alpha1.WebMetric{
		{URL: s.URL, Method: "POST", Body: "x", JSONBody: json.RawMessage(`{}`)},
		{URL: s.URL, Body: "x"},
		{URL: s.URL, Method: "DELETE"},
		{URL: "ftp://example.com"},
	} {
		if r := measure(t, &w); r.Err == nil {
			t.Errorf("%+v: want an error", w)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	s, last := serve(t, `1`)
	w := &v1alpha1.WebMetric{URL: s.URL, Authentication: v1alpha1.Authentication{BasicAuth: v1alpha1.BasicAuth{Username: "u", Password: "p@ss"}}}
	if r := measure(t, w); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := last.Load().header.Get("Authorization"); got != "Basic dTpwQHNz" {
		t.Errorf("Authorization %q", got)
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	var tokens atomic.Int32
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, _ := r.BasicAuth()
		if r.Form.Get("grant_type") != "client_credentials" || id != "sluice" || secret != "s3cret" || r.Form.Get("scope") != "metrics.read" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"tok-123","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(issuer.Close)
	s, last := serve(t, `{"v": 2}`)
	oauth := v1alpha1.OAuth2Config{TokenURL: issuer.URL + "/token", ClientID: "sluice", ClientSecret: "s3cret", Scopes: []string{"metrics.read"}}
	r := measure(t, &v1alpha1.WebMetric{URL: s.URL, JSONPath: "{$.v}", Authentication: v1alpha1.Authentication{OAuth2: oauth}})
	if r.Err != nil || r.Value != 2.0 {
		t.Fatalf("got %+v", r)
	}
	if got := last.Load().header.Get("Authorization"); got != "Bearer tok-123" || tokens.Load() != 1 {
		t.Errorf("Authorization %q after %d token requests", got, tokens.Load())
	}
	oauth.ClientSecret = "wrong"
	r = measure(t, &v1alpha1.WebMetric{URL: s.URL, Authentication: v1alpha1.Authentication{OAuth2: oauth}})
	if r.Err == nil || strings.Contains(r.Message, "wrong") {
		t.Errorf("a refused token request: want an error that does not show the secret, got %+v", r)
	}
}

func TestInsecureTLS(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "7") }))
	t.Cleanup(s.Close)
	if r := measure(t, &v1alpha1.WebMetric{URL: s.URL}); r.Err == nil {
		t.Errorf("a self-signed certificate must be refused without insecure: %+v", r)
	}
	if r := measure(t, &v1alpha1.WebMetric{URL: s.URL, Insecure: true}); r.Err != nil || r.Value != 7.0 {
		t.Errorf("insecure: %+v", r)
	}
}

func TestSecretsStayOutOfMessages(t *testing.T) {
	addr := providertest.UnreachableAddress(t)
	r := measure(t, &v1alpha1.WebMetric{URL: "http://user:hunter2@" + addr + "/q?api_key=hunter3&service=a"})
	if r.Err == nil || strings.Contains(r.Message, "hunter2") || strings.Contains(r.Message, "hunter3") || !strings.Contains(r.Message, "service=a") {
		t.Errorf("got %q", r.Message)
	}
}
