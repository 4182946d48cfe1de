package graphite

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

func serve(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (string, *seenRequest) {
	t.Helper()
	seen := &seenRequest{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.path, seen.query = r.URL.Path, r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/graphite/render" || r.URL.Query().Get("format") != "json" {
			http.Error(w, "want GET /graphite/render?format=json", http.StatusBadRequest)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/graphite", seen
}

type seenRequest struct {
	path  string
	query map[string][]string
}

func request(address, query string) metricprovider.Request {
	return metricprovider.Request{
		Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Graphite: &v1alpha1.GraphiteMetric{Address: address, Query: query}}},
		Now:    time.Unix(1700000000, 0),
	}
}

func TestDatapointsOfFirstSeries(t *testing.T) {
	addr, seen := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `[{"target":"asPercent(a,b)","tags":{},"datapoints":[[null,1700000000],[95.5,1700000060],["97.25",1700000120]]},
			{"target":"other","datapoints":[[1,1]]}]`)
	})
	res := New(metricprovider.Deps{}).Measure(t.Context(), request(addr, "target=asPercent(\n  a,\n  b)&from=-5min"))
	got, ok := res.Value.([]float64)
	if res.Err != nil || !ok || len(got) != 2 || got[0] != 95.5 || got[1] != 97.25 {
		t.Fatalf("got %+v, want [95.5 97.25]", res)
	}
	if res.Display != "[95.500000,97.250000]" {
		t.Fatalf("display %q", res.Display)
	}
	if seen.query["target"][0] != "asPercent( a, b)" || seen.query["from"][0] != "-5min" {
		t.Fatalf("query %v: want the collapsed target and from", seen.query)
	}
}

func TestBareTarget(t *testing.T) {
	addr, seen := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `[{"target":"x","datapoints":[[1.5,1]]}]`)
	})
	res := New(metricprovider.Deps{}).Measure(t.Context(), request(addr, "sumSeries(app.*.errors)"))
	if res.Err != nil || seen.query["target"][0] != "sumSeries(app.*.errors)" {
		t.Fatalf("got %+v, query %v", res, seen.query)
	}
}

func TestEmptyAndErrors(t *testing.T) {
	answer := `[]`
	status := http.StatusOK
	addr, _ := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	})
	p := New(metricprovider.Deps{})
	for _, a := range []string{`[]`, `[{"target":"x","datapoints":[[null,1],[null,2]]}]`} {
		answer = a
		res := p.Measure(t.Context(), request(addr, "target=typo.metric"))
		if res.Err != nil || !res.Empty || !strings.Contains(res.Message, "typo.metric") {
			t.Fatalf("%s: got %+v, want empty naming the query", a, res)
		}
	}
	status, answer = http.StatusBadRequest, "Invalid target: unbalanced ("
	res := p.Measure(t.Context(), request(addr, "target=sum("))
	if res.Err == nil || !strings.Contains(res.Message, "unbalanced") {
		t.Fatalf("got %+v, want Graphite's error", res)
	}
	if res := p.Measure(t.Context(), request("not a url", "target=x")); res.Err == nil {
		t.Fatal("want an error for a bad address")
	}
}
