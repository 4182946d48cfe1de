package providertest

import (
	"context"
	"fmt"
	"math"
	"net"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Kind is what the backend does with one measurement.
type Kind int

// The answers a backend can be made to give.
const (
	// KindValue answers Answer.Value.
	KindValue Kind = iota
	// KindNoData answers successfully with no data (an empty vector, no series, nothing at
	// the jsonPath): the most common reason an analysis fails.
	KindNoData
	// KindError answers with an error (a bad query, an HTTP 500).
	KindError
	// KindSlow answers Answer.Value after Answer.Delay. The backend must give up when the
	// client goes away, so slow answers do not outlive the test (a Go handler notices only
	// once it has read the request body: read it before waiting).
	KindSlow
	// KindUnreachable points the metric at an address nothing listens on (see
	// UnreachableAddress).
	KindUnreachable
)

func (k Kind) String() string {
	switch k {
	case KindValue:
		return "value"
	case KindNoData:
		return "no data"
	case KindError:
		return "error"
	case KindSlow:
		return "slow"
	case KindUnreachable:
		return "unreachable"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Answer is what the backend gives to the measurements of one metric.
type Answer struct {
	Kind  Kind
	Value float64
	Delay time.Duration
}

// Value is an Answer of v.
func Value(v float64) Answer { return Answer{Kind: KindValue, Value: v} }

// NoData is an Answer with no data.
func NoData() Answer { return Answer{Kind: KindNoData} }

// BackendError is an Answer that is an error.
func BackendError() Answer { return Answer{Kind: KindError} }

// Slow is an Answer of v after delay.
func Slow(v float64, delay time.Duration) Answer {
	return Answer{Kind: KindSlow, Value: v, Delay: delay}
}

// Unreachable is an Answer from nobody.
func Unreachable() Answer { return Answer{Kind: KindUnreachable} }

func (a Answer) String() string {
	switch a.Kind {
	case KindValue:
		return fmt.Sprintf("value %g", a.Value)
	case KindSlow:
		return fmt.Sprintf("value %g after %s", a.Value, a.Delay)
	case KindNoData, KindError, KindUnreachable:
	}
	return a.Kind.String()
}

// Case adapts one provider to the suite. Providers are stateless, so one Case serves every
// subtest; Metric may start a backend per call (stopped with t.Cleanup) or share one.
type Case struct {
	// Provider is the provider under test.
	Provider metricprovider.Provider
	// Metric returns a metric (name and provider block; conditions are not the provider's
	// business) whose measurements make the backend give a. It must support every Kind.
	Metric func(t *testing.T, a Answer) v1alpha1.Metric
	// Want is the Value and Display the provider returns when the backend gives v.
	Want func(v float64) (value any, display string)
	// Query is the text that the Message of an empty result must contain so that a user
	// sees which query found nothing (the PromQL, the URL and jsonPath, …).
	Query func(m v1alpha1.Metric) string
	// SetTimeout sets the metric's own timeout in seconds.
	SetTimeout func(m *v1alpha1.Metric, seconds int64)
	// Zero is a metric whose provider block is present but zero valued.
	Zero v1alpha1.Metric
	// Asynchronous is true for providers that return Running (job): the suite then drives
	// Resume until the measurement finishes and skips the synchronous-only checks.
	Asynchronous bool
	// Run is the AnalysisRun of the requests (default: an empty run "providertest" in
	// namespace "default").
	Run *v1alpha1.AnalysisRun
	// Values are the backend values tried (default: 0.95, 0, 42, -1.5, 1e-9).
	Values []float64
}

// UnreachableAddress is a loopback host:port nothing listens on (it was free a moment ago).
func UnreachableAddress(tb testing.TB) string {
	tb.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func (c *Case) request(m v1alpha1.Metric) metricprovider.Request {
	run := c.Run
	if run == nil {
		run = &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "providertest", Namespace: "default", UID: "providertest-uid"}}
	}
	return metricprovider.Request{Run: run, Metric: m, Now: time.Now()}
}

// Measure takes one measurement as the controller would: Measure, then Resume while the
// result is Running, until the measurement finishes or ctx ends.
func Measure(ctx context.Context, p metricprovider.Provider, req metricprovider.Request) metricprovider.Result {
	r := p.Measure(ctx, req)
	for r.Phase == v1alpha1.AnalysisPhaseRunning && r.Err == nil {
		wait := time.Until(r.ResumeAt)
		wait = min(max(wait, 10*time.Millisecond), time.Second)
		select {
		case <-ctx.Done():
			return metricprovider.Errorf(fmt.Errorf("measurement still running when the test gave up: %w", ctx.Err()))
		case <-time.After(wait):
		}
		r = p.Resume(ctx, req, v1alpha1.Measurement{
			Phase: r.Phase, Value: r.Display, Message: r.Message, Metadata: r.Metadata,
			StartedAt: &metav1.Time{Time: req.Now},
		})
	}
	return r
}

// SameValue compares measured values, NaN equal to NaN.
func SameValue(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && sameFloat(g, w)
	case []float64:
		g, ok := got.([]float64)
		if !ok || len(g) != len(w) || (g == nil) != (w == nil) {
			return false
		}
		for i := range w {
			if !sameFloat(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return fmt.Sprintf("%#v", got) == fmt.Sprintf("%#v", want)
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// Run is the conformance suite. Its subtests run in parallel.
func Run(t *testing.T, c *Case) {
	t.Helper()
	if len(c.Values) == 0 {
		c.Values = []float64{0.95, 0, 42, -1.5, 1e-9}
	}
	for _, s := range []struct {
		name string
		f    func(*testing.T, *Case)
		sync bool
	}{
		{"Type", typeName, false},
		{"Value", value, false},
		{"NoData", noData, false},
		{"BackendError", backendError, false},
		{"Unreachable", unreachable, false},
		{"ContextDeadline", contextDeadline, false},
		{"MetricTimeout", metricTimeout, false},
		{"ZeroMetric", zeroMetric, false},
		{"Concurrent", concurrent, false},
		{"SynchronousLifecycle", synchronousLifecycle, true},
	} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			if s.sync && c.Asynchronous {
				t.Skip("asynchronous provider: its own tests cover Resume and Terminate")
			}
			s.f(t, c)
		})
	}
}
