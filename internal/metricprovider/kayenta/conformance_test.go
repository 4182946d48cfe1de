package kayenta

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

// The conformance suite's checks that fit an asynchronous provider with its own verdict, driven
// like the controller drives it (providertest.Measure: Measure, then Resume while Running).
//
// providertest.Run does not fit as a whole: Kayenta judges, so there is no "no data" result
// (NoData, and the no-data third of Concurrent), the metric has no timeout of its own
// (MetricTimeout) and Resume is the measurement itself (SynchronousLifecycle). The checks
// below mirror the suite's Type, Value, BackendError, Unreachable, ContextDeadline,
// ZeroMetric and Concurrent.

const (
	// conformanceConfigID is the id of the canary config "conformance" of fakeKayenta.
	conformanceConfigID = "c-conformance"
	// answerPrefix starts the id of a steered execution: answer:<experiment scope>.
	answerPrefix = "answer:"
)

// conformance starts and reports judgements of the config "conformance" as their experiment
// scope says: value:<score>, slow:<score>:<delay> (starting takes delay), terminal (the
// judgement fails in Kayenta), anything else is a request Kayenta rejects.
func conformance(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		var e execution
		if err := json.Unmarshal(b, &e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer := e.Scopes["default"].ExperimentScope.Scope
		parts := strings.Split(answer, ":")
		switch parts[0] {
		case "value", "terminal":
		case "slow":
			delay, _ := time.ParseDuration(parts[2])
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
			answer = "value:" + parts[1]
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `{"error":"Bad Request","message":"Unknown scope %q"}`, answer)
			return
		}
		_, _ = fmt.Fprintf(w, `{"canaryExecutionId":%q}`, answerPrefix+answer)
	case http.MethodGet:
		answer := strings.TrimPrefix(r.URL.Path, "/canary/"+answerPrefix)
		if score, ok := strings.CutPrefix(answer, "value:"); ok {
			_, _ = fmt.Fprintf(w, `{"complete":true,"status":"succeeded","result":{"judgeResult":{"score":{"score":%s}}}}`, score)
			return
		}
		_, _ = io.WriteString(w, `{"complete":true,"status":"terminal","exception":{"details":{"error":"no metrics account"}}}`)
	default:
		http.Error(w, `{"message":"method not allowed"}`, http.StatusMethodNotAllowed)
	}
}

func conformanceMetric(addr, answer string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "kayenta", Interval: "1h", Provider: v1alpha1.MetricProvider{Kayenta: &v1alpha1.KayentaMetric{
		Address: addr, Application: "guestbook", CanaryConfigName: "conformance",
		MetricsAccountName: "prom", ConfigurationAccountName: "cfg", StorageAccountName: "store",
		Threshold: v1alpha1.KayentaThreshold{Pass: 90, Marginal: 75},
		Scopes: []v1alpha1.KayentaScope{{
			Name:            "default",
			ControlScope:    v1alpha1.ScopeDetail{Scope: "stable", Region: "us", Step: 60},
			ExperimentScope: v1alpha1.ScopeDetail{Scope: answer, Region: "us", Step: 60},
		}},
	}}}
}

func conformanceRequest(m v1alpha1.Metric) metricprovider.Request {
	return metricprovider.Request{Run: &v1alpha1.AnalysisRun{}, Metric: m, Now: time.Now()}
}

func describe(r metricprovider.Result) string {
	return fmt.Sprintf("Value=%#v Display=%q Empty=%v Phase=%q Message=%q Err=%v", r.Value, r.Display, r.Empty, r.Phase, r.Message, r.Err)
}

// measureWithin takes one measurement as the controller would, within limit.
func measureWithin(ctx context.Context, t *testing.T, p metricprovider.Provider, m v1alpha1.Metric, limit time.Duration, what string) metricprovider.Result {
	t.Helper()
	start := time.Now()
	r := providertest.Measure(ctx, p, conformanceRequest(m))
	if d := time.Since(start); d > limit {
		t.Errorf("%s: returned after %s, want within %s", what, d, limit)
	}
	return r
}

func wantErr(t *testing.T, what string, r metricprovider.Result) {
	t.Helper()
	if r.Err == nil || r.Message == "" || r.Empty {
		t.Errorf("%s: want Err and a Message, not empty: %s", what, describe(r))
	}
}

// wantScore is Value and Display for a Kayenta score: whole points, as in Argo.
func wantScore(score float64) (any, string) {
	return float64(int64(score)), strconv.FormatInt(int64(score), 10)
}

func TestConformance(t *testing.T) {
	srv := httptest.NewServer(&fakeKayenta{})
	t.Cleanup(srv.Close)
	addr := srv.URL
	p := New(metricprovider.Deps{})
	measure := func(t *testing.T, m v1alpha1.Metric, what string) metricprovider.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		return measureWithin(ctx, t, p, m, 30*time.Second, what)
	}
	value := func(score float64) v1alpha1.Metric {
		return conformanceMetric(addr, "value:"+strconv.FormatFloat(score, 'g', -1, 64))
	}

	t.Run("Type", func(t *testing.T) {
		t.Parallel()
		if p.Type() == "" {
			t.Error("Type() is empty")
		}
	})
	t.Run("Value", func(t *testing.T) {
		t.Parallel()
		for _, score := range []float64{0, 42, 74.9, 75, 87.5, 100, 0.95, -1.5} {
			t.Run(strconv.FormatFloat(score, 'g', -1, 64), func(t *testing.T) {
				t.Parallel()
				r := measure(t, value(score), "value")
				want, display := wantScore(score)
				if r.Err != nil || !providertest.SameValue(r.Value, want) || r.Display != display || r.Empty {
					t.Errorf("score %g: got %s; want Value=%#v Display=%q", score, describe(r), want, display)
				}
				wantPhase := v1alpha1.AnalysisPhaseFailed
				switch {
				case score >= 90:
					wantPhase = v1alpha1.AnalysisPhaseSuccessful
				case score >= 75:
					wantPhase = v1alpha1.AnalysisPhaseInconclusive
				}
				if r.Phase != wantPhase {
					t.Errorf("score %g against pass 90, marginal 75: phase %q, want %q", score, r.Phase, wantPhase)
				}
			})
		}
	})
	t.Run("BackendError", func(t *testing.T) {
		t.Parallel()
		wantErr(t, "Kayenta rejects the judgement", measure(t, conformanceMetric(addr, "error"), "backend error"))
		wantErr(t, "the judgement fails in Kayenta", measure(t, conformanceMetric(addr, "terminal"), "terminal judgement"))
	})
	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		m := conformanceMetric("http://"+providertest.UnreachableAddress(t), "value:95")
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		wantErr(t, "unreachable backend", measureWithin(ctx, t, p, m, 10*time.Second, "unreachable backend"))
	})
	t.Run("ContextDeadline", func(t *testing.T) {
		t.Parallel()
		m := conformanceMetric(addr, "slow:95:1m")
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		what := "context deadline of 300ms, Kayenta starting the judgement after 1m"
		wantErr(t, what, measureWithin(ctx, t, p, m, 5*time.Second, what))

		ctx, cancel = context.WithCancel(t.Context())
		cancel()
		wantErr(t, "cancelled context", measureWithin(ctx, t, p, m, 5*time.Second, "cancelled context"))
	})
	t.Run("ZeroMetric", func(t *testing.T) {
		t.Parallel()
		for name, m := range map[string]v1alpha1.Metric{
			"zero provider block": {Name: "zero", Provider: v1alpha1.MetricProvider{Kayenta: &v1alpha1.KayentaMetric{}}},
			"no provider block":   {Name: "no-provider"},
			"zero metric":         {},
		} {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s: panic: %v", name, p)
					}
				}()
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				req := conformanceRequest(m)
				wantErr(t, name+": Measure", p.Measure(ctx, req))
				wantErr(t, name+": Resume of a measurement without canaryExecutionId", p.Resume(ctx, req, v1alpha1.Measurement{}))
				_ = p.Terminate(ctx, req, v1alpha1.Measurement{})
				_ = p.GarbageCollect(ctx, req, 0)
			}()
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		const n = 12
		results := make([]metricprovider.Result, n)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i] = measure(t, value(float64(i*9)), "in parallel") })
		}
		wg.Wait()
		for i, r := range results {
			want, display := wantScore(float64(i * 9))
			if r.Err != nil || !providertest.SameValue(r.Value, want) || r.Display != display {
				t.Errorf("measurement %d (score %d) in parallel: %s; want Value=%#v", i, i*9, describe(r), want)
			}
		}
	})
}
