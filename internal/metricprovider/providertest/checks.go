package providertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// measureTimeout bounds one measurement of the suite (a wedged provider fails, not hangs).
const measureTimeout = 30 * time.Second

func (c *Case) measure(t *testing.T, m v1alpha1.Metric) metricprovider.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), measureTimeout)
	defer cancel()
	return Measure(ctx, c.Provider, c.request(m))
}

func describe(r metricprovider.Result) string {
	return fmt.Sprintf("Value=%#v Display=%q Empty=%v Phase=%q Message=%q Err=%v",
		r.Value, r.Display, r.Empty, r.Phase, r.Message, r.Err)
}

func typeName(t *testing.T, c *Case) {
	t.Helper()
	if c.Provider.Type() == "" {
		t.Error("Type() is empty")
	}
}

func value(t *testing.T, c *Case) {
	t.Helper()
	for _, v := range c.Values {
		r := c.measure(t, c.Metric(t, Value(v)))
		want, display := c.Want(v)
		if r.Err != nil || !SameValue(r.Value, want) || r.Display != display || r.Empty {
			t.Errorf("backend value %g: got %s; want Value=%#v Display=%q, no error, not empty", v, describe(r), want, display)
		}
		if r.Phase == v1alpha1.AnalysisPhaseError || r.Phase == v1alpha1.AnalysisPhaseRunning {
			t.Errorf("backend value %g: phase %q", v, r.Phase)
		}
	}
}

func noData(t *testing.T, c *Case) {
	t.Helper()
	m := c.Metric(t, NoData())
	r := c.measure(t, m)
	if !r.Empty {
		t.Errorf("no data: Empty is false: %s", describe(r))
	}
	if q := c.Query(m); q == "" || !strings.Contains(r.Message, q) {
		t.Errorf("no data: the message does not name the query %q: %s", q, describe(r))
	}
	if r.Err != nil && !strings.Contains(r.Message, c.Query(m)) {
		t.Errorf("no data: an error must still name the query: %s", describe(r))
	}
}

func wantErr(t *testing.T, what string, r metricprovider.Result) {
	t.Helper()
	if r.Err == nil || r.Message == "" {
		t.Errorf("%s: want Err and a Message: %s", what, describe(r))
	}
	if r.Empty {
		t.Errorf("%s: an error is not an empty result: %s", what, describe(r))
	}
}

func backendError(t *testing.T, c *Case) {
	t.Helper()
	wantErr(t, "backend error", c.measure(t, c.Metric(t, BackendError())))
}

func unreachable(t *testing.T, c *Case) {
	t.Helper()
	start := time.Now()
	r := c.measure(t, c.Metric(t, Unreachable()))
	wantErr(t, "unreachable backend", r)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("unreachable backend: a refused connection took %s to report", d)
	}
}

// slowCheck measures a metric whose backend answers after a minute and wants an Err within
// limit.
func slowCheck(ctx context.Context, t *testing.T, c *Case, m v1alpha1.Metric, limit time.Duration, what string) {
	t.Helper()
	start := time.Now()
	r := Measure(ctx, c.Provider, c.request(m))
	d := time.Since(start)
	wantErr(t, what, r)
	if d > limit {
		t.Errorf("%s: returned after %s, want within %s", what, d, limit)
	}
}

func contextDeadline(t *testing.T, c *Case) {
	t.Helper()
	m := c.Metric(t, Slow(1, time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	slowCheck(ctx, t, c, m, 5*time.Second, "context deadline of 300ms, backend answering after 1m")

	// An already cancelled context never reaches the backend's answer either.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	slowCheck(ctx, t, c, m, 5*time.Second, "cancelled context")
}

func metricTimeout(t *testing.T, c *Case) {
	t.Helper()
	if c.SetTimeout == nil {
		t.Skip("the provider has no timeout of its own")
	}
	m := c.Metric(t, Slow(1, time.Minute))
	c.SetTimeout(&m, 1)
	ctx, cancel := context.WithTimeout(t.Context(), measureTimeout)
	defer cancel()
	slowCheck(ctx, t, c, m, 6*time.Second, "metric timeout of 1s, backend answering after 1m")

	// A backend a little slower than nothing, but well within the timeout, still answers.
	m = c.Metric(t, Slow(7, 200*time.Millisecond))
	c.SetTimeout(&m, 5)
	r := c.measure(t, m)
	want, _ := c.Want(7)
	if r.Err != nil || !SameValue(r.Value, want) {
		t.Errorf("backend answering after 200ms with a timeout of 5s: %s", describe(r))
	}
}

func zeroMetric(t *testing.T, c *Case) {
	t.Helper()
	metrics := map[string]v1alpha1.Metric{
		"zero provider block": c.Zero,
		"no provider block":   {Name: "no-provider"},
		"zero metric":         {},
	}
	for name, m := range metrics {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic: %v", name, p)
				}
			}()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			req := c.request(m)
			r := c.Provider.Measure(ctx, req)
			if name != "zero provider block" || r.Err != nil {
				// Without a provider block there is nothing to measure: that is an error,
				// and it says so.
				if r.Err == nil || r.Message == "" {
					t.Errorf("%s: want Err and a Message: %s", name, describe(r))
				}
			}
			if !c.Asynchronous {
				_ = c.Provider.Resume(ctx, req, v1alpha1.Measurement{})
				_ = c.Provider.Terminate(ctx, req, v1alpha1.Measurement{})
				_ = c.Provider.GarbageCollect(ctx, req, 0)
			}
		}()
	}
}

func concurrent(t *testing.T, c *Case) {
	t.Helper()
	const n = 12
	metrics := make([]v1alpha1.Metric, n)
	for i := range metrics {
		switch i % 3 {
		case 0, 1:
			metrics[i] = c.Metric(t, Value(float64(i)))
		case 2:
			metrics[i] = c.Metric(t, NoData())
		}
	}
	results := make([]metricprovider.Result, n)
	var wg sync.WaitGroup
	for i := range metrics {
		wg.Go(func() { results[i] = c.measure(t, metrics[i]) })
	}
	wg.Wait()
	for i, r := range results {
		if i%3 == 2 {
			if !r.Empty {
				t.Errorf("measurement %d (no data) in parallel: %s", i, describe(r))
			}
			continue
		}
		want, display := c.Want(float64(i))
		if r.Err != nil || !SameValue(r.Value, want) || r.Display != display {
			t.Errorf("measurement %d (value %d) in parallel: %s; want Value=%#v", i, i, describe(r), want)
		}
	}
}

func synchronousLifecycle(t *testing.T, c *Case) {
	t.Helper()
	m := c.Metric(t, Value(3))
	req := c.request(m)
	ctx := t.Context()
	r := c.Provider.Measure(ctx, req)
	if r.Phase == v1alpha1.AnalysisPhaseRunning {
		t.Fatalf("a synchronous provider returned Running: %s", describe(r))
	}
	done := v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseSuccessful, Value: r.Display, Metadata: r.Metadata}
	if tr := c.Provider.Terminate(ctx, req, done); tr.Err != nil || tr.Phase == v1alpha1.AnalysisPhaseRunning {
		t.Errorf("Terminate of a finished measurement: %s", describe(tr))
	}
	if rr := c.Provider.Resume(ctx, req, done); rr.Phase == v1alpha1.AnalysisPhaseRunning {
		t.Errorf("Resume of a synchronous provider must not keep a measurement running: %s", describe(rr))
	}
	for _, keep := range []int{0, 1, 10} {
		if err := c.Provider.GarbageCollect(ctx, req, keep); err != nil {
			t.Errorf("GarbageCollect(keep=%d): %v", keep, err)
		}
	}
	// Nothing above broke the provider.
	r = c.measure(t, m)
	want, _ := c.Want(3)
	if r.Err != nil || !SameValue(r.Value, want) {
		t.Errorf("measuring after Terminate and GarbageCollect: %s", describe(r))
	}
}
