package wavefront

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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

var now = time.UnixMilli(1700000000123)

func serve(t *testing.T, answer *string) (*Provider, string) {
	t.Helper()
	addr := serveWith(t, now, func(w http.ResponseWriter, _ *http.Request, _ string) { _, _ = io.WriteString(w, *answer) })
	return NewWithTokens(map[string]string{addr: "tok"}), addr
}

// serveWith is the chart API: it checks the token and the parameters (s must be at in ms, or
// any time in ms when at is zero), then lets reply answer the query.
func serveWith(t *testing.T, at time.Time, reply func(w http.ResponseWriter, r *http.Request, query string)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s, err := strconv.ParseInt(q.Get("s"), 10, 64)
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			http.Error(w, `{"message":"unauthorized"}`, http.StatusUnauthorized)
		case r.URL.Path != "/api/v2/chart/api" || err != nil || (!at.IsZero() && s != at.UnixMilli()) || q.Get("g") != "s" || q.Get("p") != "1":
			http.Error(w, "want /api/v2/chart/api with s=now in ms, g=s, p=1", http.StatusBadRequest)
		case q.Get("q") == "":
			http.Error(w, `{"message":"query is required"}`, http.StatusBadRequest)
		default:
			reply(w, r, q.Get("q"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func request(address, query string) metricprovider.Request {
	return metricprovider.Request{
		Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Wavefront: &v1alpha1.WavefrontMetric{Address: address, Query: query}}},
		Now:    now,
	}
}

func TestOneSeriesIsAScalar(t *testing.T) {
	answer := `{"name":"q","query":"q","timeseries":[{"label":"istio.requestcount","host":"h","data":[[1700000000,0.987],[1700000001,0.5]]}]}`
	p, addr := serve(t, &answer)
	res := p.Measure(t.Context(), request(addr, "sum(rate(5m, ts(x)))"))
	if res.Err != nil || res.Value != 0.987 || res.Display != "0.99" {
		t.Fatalf("got %+v, want 0.987 shown as 0.99", res)
	}
	answer = `{"timeseries":[{"label":"a","data":[[1,1]]},{"label":"b","data":[[1,2.5]]}]}`
	res = p.Measure(t.Context(), request(addr, "ts(x)"))
	got, ok := res.Value.([]float64)
	if res.Err != nil || !ok || len(got) != 2 || got[1] != 2.5 || res.Display != "[1.00,2.50]" {
		t.Fatalf("got %+v, want [1 2.5]", res)
	}
}

func TestEmptyAndErrors(t *testing.T) {
	answer := `{"timeseries":[],"warnings":"No metrics matching: [typo]"}`
	p, addr := serve(t, &answer)
	res := p.Measure(t.Context(), request(addr, "ts(typo)"))
	if res.Err != nil || !res.Empty || !strings.Contains(res.Message, "ts(typo)") || res.Metadata["warnings"] == "" {
		t.Fatalf("got %+v, want empty with Wavefront's warning", res)
	}
	bad := NewWithTokens(map[string]string{addr: "wrong"})
	if res := bad.Measure(t.Context(), request(addr, "ts(x)")); res.Err == nil || !strings.Contains(res.Message, "401") {
		t.Fatalf("got %+v, want 401", res)
	}
	if res := p.Measure(t.Context(), request("other.example", "ts(x)")); res.Err == nil || !strings.Contains(res.Message, "no API token") {
		t.Fatalf("got %+v, want no token", res)
	}
}

func TestSecretToken(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "sluice", Name: SecretName},
		Data:       map[string][]byte{"example.wavefront.com": []byte("tok1\n")},
	}).Build()
	deps := metricprovider.Deps{Client: c, Namespace: "sluice"}
	if tok, err := secretToken(t.Context(), deps, "example.wavefront.com"); err != nil || tok != "tok1" {
		t.Fatalf("got %q %v", tok, err)
	}
	if _, err := secretToken(t.Context(), deps, "other.wavefront.com"); err == nil {
		t.Fatal("want an error for an address without a token")
	}
}
