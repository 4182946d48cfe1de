package prometheus_test

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/prometheus"
	"github.com/sluicehq/sluice/internal/metricprovider/prometheus/prometheustest"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

func metric(address, query string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "prom", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: address, Query: query}}}
}

func measure(t *testing.T, m v1alpha1.Metric) metricprovider.Result {
	t.Helper()
	return prometheus.New().Measure(t.Context(), metricprovider.Request{Metric: m, Now: time.Now()})
}

// proxy is a loopback reverse proxy to target that first runs check (which may answer the
// request itself by returning false).
func proxy(t *testing.T, target string, check func(w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if check(w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// delayed is Prometheus behind a proxy that holds every request for d (or until the client
// gives up).
func delayed(t *testing.T, target string, d time.Duration) string {
	t.Helper()
	return proxy(t, target, func(_ http.ResponseWriter, r *http.Request) bool {
		// Read the (POST) body first: the server notices a client that went away only once
		// the body is consumed.
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		select {
		case <-time.After(d):
			return true
		case <-r.Context().Done():
			return false
		}
	}).URL
}

// TestProvider runs everything against one real Prometheus (it takes ~6 s to scrape for the
// first time).
func TestProvider(t *testing.T) {
	srv := prometheustest.Start(t)
	t.Logf("prometheus ready and scraped after %s", srv.Started)
	addr := srv.Address()

	t.Run("Conformance", func(t *testing.T) {
		providertest.Run(t, &providertest.Case{
			Provider: prometheus.New(),
			Metric: func(t *testing.T, a providertest.Answer) v1alpha1.Metric {
				t.Helper()
				switch a.Kind {
				case providertest.KindValue:
					return metric(addr, fmt.Sprintf("vector(%g)", a.Value))
				case providertest.KindNoData:
					return metric(addr, `sum by (code) (rate(http_requests_total{service="no-such-service"}[1m]))`)
				case providertest.KindError:
					return metric(addr, `sum(rate(http_requests_total[1m])`)
				case providertest.KindSlow:
					return metric(delayed(t, addr, a.Delay), fmt.Sprintf("vector(%g)", a.Value))
				case providertest.KindUnreachable:
					return metric("http://"+providertest.UnreachableAddress(t), "vector(1)")
				}
				t.Fatalf("unknown answer %s", a)
				return v1alpha1.Metric{}
			},
			Want: func(v float64) (any, string) {
				return []float64{v}, "[" + model.SampleValue(v).String() + "]"
			},
			Query:      func(m v1alpha1.Metric) string { return m.Provider.Prometheus.Query },
			SetTimeout: func(m *v1alpha1.Metric, s int64) { m.Provider.Prometheus.Timeout = &s },
			Zero:       v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{}}},
		})
	})

	t.Run("ScalarVectorNaNInf", func(t *testing.T) {
		exp := srv.Exporter()
		exp.SetGauge(t, "load", map[string]string{"pod": "a"}, 1)
		exp.SetGauge(t, "load", map[string]string{"pod": "b"}, 2)
		exp.SetGauge(t, "idle", nil, 0)
		srv.WaitForQuery(t, "count(load)", prometheustest.Near(2, 0))
		srv.WaitForQuery(t, "idle", prometheustest.NonEmpty)
		for _, c := range []struct {
			query   string
			want    any
			display string
		}{
			{"scalar(vector(0.95))", 0.95, "0.95"},
			{"0.5", 0.5, "0.5"},
			{"sort(load)", []float64{1, 2}, "[1,2]"},
			{"vector(0.95)", []float64{0.95}, "[0.95]"},
			// 0/0 from a real series: conditions use isNaN(result[0]).
			{"idle / idle", []float64{math.NaN()}, "[NaN]"},
			{"scalar(idle / idle)", math.NaN(), "NaN"},
			{"scalar(vector(1)) / idle", []float64{math.Inf(1)}, "[+Inf]"},
			{"-Inf", math.Inf(-1), "-Inf"},
		} {
			r := measure(t, metric(addr, c.query))
			if r.Err != nil || r.Empty || !providertest.SameValue(r.Value, c.want) || r.Display != c.display {
				t.Errorf("%s: got %#v %q (err %v), want %#v %q", c.query, r.Value, r.Display, r.Err, c.want, c.display)
			}
			if r.Metadata[prometheus.MetadataQuery] != c.query {
				t.Errorf("%s: metadata %v", c.query, r.Metadata)
			}
		}
		r := measure(t, metric(addr, `"a string"`))
		if r.Err == nil {
			t.Errorf("a string result: want an error, got %+v", r)
		}
	})

	t.Run("EmptyVectorSaysSo", func(t *testing.T) {
		q := `sum(rate(http_requests_total{service="canary",code=~"5.."}[1m]))`
		r := measure(t, metric(addr, q))
		v, ok := r.Value.([]float64)
		if r.Err != nil || !r.Empty || !ok || v == nil || len(v) != 0 || r.Display != "[]" ||
			!strings.Contains(r.Message, "no samples") || !strings.Contains(r.Message, q) {
			t.Errorf("got %#v", r)
		}
	})

	t.Run("BadPromQL", func(t *testing.T) {
		r := measure(t, metric(addr, "sum(rate(x[1m])"))
		if r.Err == nil || !strings.Contains(r.Message, "parse error") {
			t.Errorf("got %+v", r)
		}
	})

	t.Run("ErrorRatioFromTheExporter", func(t *testing.T) {
		s := srv.Exporter().Requests(t, prometheustest.Requests{Labels: map[string]string{"service": "checkout"}, Rate: 40, ErrorRatio: 0.2})
		q := `sum(rate(http_requests_total{service="checkout",code!~"5.."}[3s])) / sum(rate(http_requests_total{service="checkout"}[3s]))`
		srv.WaitForQuery(t, q, prometheustest.Near(0.8, 1e-6))
		r := measure(t, metric(addr, q))
		if v, ok := r.Value.([]float64); r.Err != nil || !ok || len(v) != 1 || math.Abs(v[0]-0.8) > 1e-6 {
			t.Errorf("success rate: got %+v", r)
		}
		s.Stop()
	})

	t.Run("RangeQuery", func(t *testing.T) {
		exp := srv.Exporter()
		exp.SetGauge(t, "latency_ms", map[string]string{"svc": "a"}, 120)
		exp.SetGauge(t, "latency_ms", map[string]string{"svc": "b"}, 80)
		srv.WaitForQuery(t, `count(count_over_time(latency_ms[10s]) >= 4)`, prometheustest.Near(2, 0))
		m := metric(addr, "latency_ms")
		m.Provider.Prometheus.RangeQuery = &v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("3s")`, End: "now()", Step: "1s"}
		r := measure(t, m)
		v, ok := r.Value.([]float64)
		// Two series, four points each (start and end included), flattened.
		if r.Err != nil || r.Empty || !ok || len(v) != 8 {
			t.Fatalf("got %+v", r)
		}
		for _, f := range v {
			if f != 120 && f != 80 {
				t.Errorf("sample %v in %v", f, v)
			}
		}
		m.Provider.Prometheus.Query = `latency_ms{svc="none"}`
		if r := measure(t, m); !r.Empty || r.Err != nil || !strings.Contains(r.Message, `latency_ms{svc="none"}`) {
			t.Errorf("empty matrix: %+v", r)
		}
		m.Provider.Prometheus.RangeQuery.Step = ""
		if r := measure(t, m); r.Err == nil {
			t.Errorf("no step: %+v", r)
		}
	})

	t.Run("HeadersAndBasicAuth", func(t *testing.T) {
		guarded := proxy(t, addr, func(w http.ResponseWriter, r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			if !ok || u != "grafana" || p != "s3cret" || r.Header.Get("X-Scope-OrgID") != "tenant-a" {
				http.Error(w, "unauthorized tenant", http.StatusUnauthorized)
				return false
			}
			return true
		}).URL
		m := metric(guarded, "vector(1)")
		if r := measure(t, m); r.Err == nil || !strings.Contains(r.Message, "401") {
			t.Errorf("without credentials: %+v", r)
		}
		m.Provider.Prometheus.Headers = []v1alpha1.WebMetricHeader{{Key: "X-Scope-OrgID", Value: "tenant-a"}}
		m.Provider.Prometheus.Authentication.BasicAuth = v1alpha1.BasicAuth{Username: "grafana", Password: "s3cret"}
		if r := measure(t, m); r.Err != nil || !providertest.SameValue(r.Value, []float64{1}) {
			t.Errorf("with credentials: %+v", r)
		}
	})

	t.Run("OAuth2", func(t *testing.T) {
		issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, secret, _ := r.BasicAuth()
			if id != "sluice" || secret != "oauth-s3cret" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok-9","token_type":"Bearer","expires_in":60}`)
		}))
		t.Cleanup(issuer.Close)
		guarded := proxy(t, addr, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Authorization") != "Bearer tok-9" || r.Header.Get("X-Scope-OrgID") != "t" {
				http.Error(w, "no token", http.StatusUnauthorized)
				return false
			}
			return true
		}).URL
		m := metric(guarded, "vector(2)")
		m.Provider.Prometheus.Headers = []v1alpha1.WebMetricHeader{{Key: "X-Scope-OrgID", Value: "t"}}
		m.Provider.Prometheus.Authentication.OAuth2 = v1alpha1.OAuth2Config{TokenURL: issuer.URL, ClientID: "sluice", ClientSecret: "oauth-s3cret"}
		if r := measure(t, m); r.Err != nil || !providertest.SameValue(r.Value, []float64{2}) {
			t.Errorf("with a token: %+v", r)
		}
		m.Provider.Prometheus.Authentication.OAuth2.ClientSecret = "nope"
		if r := measure(t, m); r.Err == nil {
			t.Errorf("with a refused token request: %+v", r)
		}
	})

	t.Run("WarningsReachTheMessage", func(t *testing.T) {
		u, _ := url.Parse(addr)
		rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Header.Del("Accept-Encoding") // a plain body to edit
		}}
		// Prometheus 2.42 warns only about remote-read failures: add one to its real answer.
		rp.ModifyResponse = func(resp *http.Response) error {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			b = []byte(strings.Replace(string(b), `"status":"success"`, `"status":"success","warnings":["remote read of store-b failed"]`, 1))
			resp.Body = io.NopCloser(strings.NewReader(string(b)))
			resp.ContentLength = int64(len(b))
			resp.Header.Del("Content-Length")
			return nil
		}
		s := httptest.NewServer(rp)
		t.Cleanup(s.Close)
		r := measure(t, metric(s.URL, "vector(3)"))
		if r.Err != nil || !strings.Contains(r.Message, "remote read of store-b failed") ||
			r.Metadata[prometheus.MetadataWarnings] != `"remote read of store-b failed"` {
			t.Errorf("got %+v", r)
		}
	})

	t.Run("InsecureTLS", func(t *testing.T) {
		u, _ := url.Parse(addr)
		s := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(u))
		t.Cleanup(s.Close)
		m := metric(s.URL, "vector(4)")
		if r := measure(t, m); r.Err == nil {
			t.Errorf("a self-signed certificate without insecure: %+v", r)
		}
		m.Provider.Prometheus.Insecure = true
		if r := measure(t, m); r.Err != nil || !providertest.SameValue(r.Value, []float64{4}) {
			t.Errorf("insecure: %+v", r)
		}
	})

	t.Run("AddressFromEnvironment", func(t *testing.T) {
		t.Setenv(prometheus.AddressEnv, addr)
		if r := measure(t, metric("", "vector(5)")); r.Err != nil || !providertest.SameValue(r.Value, []float64{5}) {
			t.Errorf("got %+v", r)
		}
	})

	t.Run("SigV4IsRefusedClearly", func(t *testing.T) {
		m := metric("https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1", "vector(1)")
		if r := measure(t, m); r.Err == nil || !strings.Contains(r.Message, "sigv4 authentication is not supported by sluice") {
			t.Errorf("got %+v", r)
		}
		m = metric(addr, "vector(1)")
		m.Provider.Prometheus.Authentication.Sigv4.Region = "eu-west-1"
		if r := measure(t, m); r.Err == nil {
			t.Errorf("a sigv4 block: %+v", r)
		}
	})
}
