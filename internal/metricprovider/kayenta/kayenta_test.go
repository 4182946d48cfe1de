package kayenta

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeKayenta keeps canary configs and executions like Kayenta's REST API: an execution
// completes after `polls` GETs with the score given. Executions of the config "conformance"
// are steered by their experiment scope instead (see conformance).
type fakeKayenta struct {
	mu     sync.Mutex
	score  float64
	polls  int
	posted execution
	query  map[string][]string
}

func (f *fakeKayenta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/canary/"+conformanceConfigID || strings.HasPrefix(r.URL.Path, "/canary/"+answerPrefix) {
		conformance(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/canaryConfig":
		if r.URL.Query().Get("application") != "guestbook" || r.URL.Query().Get("configurationAccountName") != "cfg" {
			_, _ = io.WriteString(w, `[]`)
			return
		}
		_, _ = io.WriteString(w, `[{"id":"c-1","name":"other","applications":["guestbook"]},{"id":"c-2","name":"my-test","applications":["guestbook"]},{"id":"`+conformanceConfigID+`","name":"conformance","applications":["guestbook"]}]`)
	case r.Method == http.MethodPost && r.URL.Path == "/canary/c-2":
		f.query = r.URL.Query()
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &f.posted); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"canaryExecutionId":"exec-9"}`)
	case r.Method == http.MethodGet && r.URL.Path == "/canary/exec-9":
		if f.polls > 0 {
			f.polls--
			_, _ = io.WriteString(w, `{"complete":false,"status":"running"}`)
			return
		}
		_, _ = fmt.Fprintf(w, `{"complete":true,"status":"succeeded","result":{"judgeResult":{"score":{"score":%v,"classification":"Pass"}}}}`, f.score)
	default:
		http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
	}
}

func metric(addr string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "mann-whitney", Interval: "1h", Provider: v1alpha1.MetricProvider{Kayenta: &v1alpha1.KayentaMetric{
		Address: addr, Application: "guestbook", CanaryConfigName: "my-test",
		MetricsAccountName: "prom", ConfigurationAccountName: "cfg", StorageAccountName: "store",
		Threshold: v1alpha1.KayentaThreshold{Pass: 90, Marginal: 75},
		Scopes: []v1alpha1.KayentaScope{{
			Name:            "default",
			ControlScope:    v1alpha1.ScopeDetail{Scope: "hash=stable", Region: "us", Step: 60, Start: "2026-03-01T10:00:00Z"},
			ExperimentScope: v1alpha1.ScopeDetail{Scope: "hash=canary", Region: "us", Step: 60},
		}},
	}}}
}

func TestJudgementFlow(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  v1alpha1.AnalysisPhase
	}{{95, v1alpha1.AnalysisPhaseSuccessful}, {80, v1alpha1.AnalysisPhaseInconclusive}, {40, v1alpha1.AnalysisPhaseFailed}} {
		f := &fakeKayenta{score: tc.score, polls: 1}
		srv := httptest.NewServer(f)
		p := New(metricprovider.Deps{})
		req := metricprovider.Request{Run: &v1alpha1.AnalysisRun{}, Metric: metric(srv.URL), Now: now}
		res := p.Measure(t.Context(), req)
		if res.Err != nil || res.Phase != v1alpha1.AnalysisPhaseRunning || res.Metadata[ExecutionIDKey] != "exec-9" || !res.ResumeAt.Equal(now.Add(15*time.Second)) {
			t.Fatalf("start: got %+v, want Running with the execution id", res)
		}
		if f.query["metricsAccountName"][0] != "prom" || f.query["storageAccountName"][0] != "store" || f.query["application"][0] != "guestbook" {
			t.Fatalf("POST query %v", f.query)
		}
		got := f.posted.Scopes["default"]
		if f.posted.Thresholds.Pass != 90 || got.ControlScope.Start != "2026-03-01T10:00:00Z" ||
			got.ExperimentScope.Start != "2026-03-01T11:00:00Z" || got.ExperimentScope.End != "2026-03-01T12:00:00Z" || got.ExperimentScope.Step != 60 {
			t.Fatalf("POST body %+v: want thresholds and scopes with start = now - interval, end = now", f.posted)
		}
		ms := v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, Metadata: res.Metadata}
		res = p.Resume(t.Context(), req, ms)
		if res.Phase != v1alpha1.AnalysisPhaseRunning || res.Err != nil {
			t.Fatalf("first poll: got %+v, want still Running", res)
		}
		res = p.Resume(t.Context(), req, ms)
		if res.Err != nil || res.Phase != tc.want || res.Value != tc.score || res.Display != fmt.Sprint(tc.score) {
			t.Fatalf("score %v: got %+v, want %s", tc.score, res, tc.want)
		}
		srv.Close()
	}
}

func TestLookbackStartsAtTheRunStart(t *testing.T) {
	f := &fakeKayenta{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	m := metric(srv.URL)
	m.Provider.Kayenta.Lookback = true
	started := metav1.NewTime(now.Add(-3 * time.Hour))
	run := &v1alpha1.AnalysisRun{Status: v1alpha1.AnalysisRunStatus{StartedAt: &started}}
	if res := New(metricprovider.Deps{}).Measure(t.Context(), metricprovider.Request{Run: run, Metric: m, Now: now}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if s := f.posted.Scopes["default"].ExperimentScope.Start; s != "2026-03-01T09:00:00Z" {
		t.Fatalf("start %q, want the run's start", s)
	}
}

func TestErrors(t *testing.T) {
	f := &fakeKayenta{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p := New(metricprovider.Deps{})
	m := metric(srv.URL)
	m.Provider.Kayenta.CanaryConfigName = "missing"
	if res := p.Measure(t.Context(), metricprovider.Request{Metric: m, Now: now}); res.Err == nil || !strings.Contains(res.Message, `"missing"`) {
		t.Fatalf("got %+v, want no such config", res)
	}
	ms := v1alpha1.Measurement{Metadata: map[string]string{ExecutionIDKey: "gone"}}
	if res := p.Resume(t.Context(), metricprovider.Request{Metric: metric(srv.URL), Now: now}, ms); res.Err == nil || !strings.Contains(res.Message, "404") {
		t.Fatalf("got %+v, want 404", res)
	}
}
