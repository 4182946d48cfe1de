package prometheustest

import (
	"context"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Exporter is a real /metrics endpoint on loopback whose series the test sets. Metric
// families are declared on first use; every later use of a name must give the same label
// names. It is safe for concurrent use.
type Exporter struct {
	reg  *prometheus.Registry
	addr string

	mu         sync.Mutex
	families   map[string]family
	streams    []*Stream
	tickerOnce sync.Once
	stop       chan struct{}
	done       chan struct{}
}

type family struct {
	kind      string
	labels    []string
	counter   *prometheus.CounterVec
	gauge     *prometheus.GaugeVec
	histogram *prometheus.HistogramVec
}

// tick is how often streams add requests.
const tick = 100 * time.Millisecond

// NewExporter starts an exporter on a free loopback port until the test ends.
func NewExporter(tb testing.TB) *Exporter {
	tb.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("exporter: %v", err)
	}
	e := &Exporter{reg: prometheus.NewRegistry(), addr: l.Addr().String(), families: map[string]family{},
		stop: make(chan struct{}), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	tb.Cleanup(func() {
		e.tickerOnce.Do(func() { close(e.done) })
		close(e.stop)
		<-e.done
		_ = srv.Close()
	})
	return e
}

// Address is the exporter's host:port (the scrape target).
func (e *Exporter) Address() string { return e.addr }

// Registry is the exporter's registry, for collectors this package has no helper for.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

func labelNames(labels map[string]string) []string {
	return slices.Sorted(maps.Keys(labels))
}

// declare returns the family name of kind, creating it with the label names of labels.
func (e *Exporter) declare(tb testing.TB, kind, name string, labels map[string]string, buckets []float64) family {
	tb.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	names := labelNames(labels)
	if f, ok := e.families[name]; ok {
		if f.kind != kind || !slices.Equal(f.labels, names) {
			tb.Fatalf("exporter: %s was declared as a %s with labels %v; now used as a %s with labels %v", name, f.kind, f.labels, kind, names)
		}
		return f
	}
	f := family{kind: kind, labels: names}
	var c prometheus.Collector
	switch kind {
	case "counter":
		f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name + " (test)"}, names)
		c = f.counter
	case "gauge":
		f.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: name + " (test)"}, names)
		c = f.gauge
	default:
		f.histogram = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: name + " (test)", Buckets: buckets}, names)
		c = f.histogram
	}
	if err := e.reg.Register(c); err != nil {
		tb.Fatalf("exporter: registering %s: %v", name, err)
	}
	e.families[name] = f
	return f
}

// Add adds delta to the counter name{labels}.
func (e *Exporter) Add(tb testing.TB, name string, labels map[string]string, delta float64) {
	tb.Helper()
	e.declare(tb, "counter", name, labels, nil).counter.With(labels).Add(delta)
}

// SetGauge sets the gauge name{labels} to v (NaN and ±Inf included).
func (e *Exporter) SetGauge(tb testing.TB, name string, labels map[string]string, v float64) {
	tb.Helper()
	e.declare(tb, "gauge", name, labels, nil).gauge.With(labels).Set(v)
}

// Observe records v in the histogram name{labels}; buckets apply when the histogram is first
// declared (nil: prometheus.DefBuckets).
func (e *Exporter) Observe(tb testing.TB, name string, labels map[string]string, buckets []float64, v float64) {
	tb.Helper()
	e.declare(tb, "histogram", name, labels, buckets).histogram.With(labels).Observe(v)
}

// Requests describes a steady stream of requests, counted the way HTTP servers and meshes
// count them: one counter with a status-code label, and optionally a latency histogram.
type Requests struct {
	// Metric is the counter (default http_requests_total).
	Metric string
	// Labels are the stream's own labels, e.g. {"service": "canary"}.
	Labels map[string]string
	// CodeLabel is the status-code label (default "code"); OKCode and ErrorCode its values
	// (default "200" and "500").
	CodeLabel, OKCode, ErrorCode string
	// Rate is requests per second (default 10); ErrorRatio the share that fail (0..1).
	Rate, ErrorRatio float64
	// LatencyMetric, when set, is a histogram that every request observes Latency in,
	// expressed in LatencyUnit (default time.Second; Istio uses milliseconds), with the
	// stream's labels and code.
	LatencyMetric string
	Latency       time.Duration
	LatencyUnit   time.Duration
}

// Stream is a running request stream; its setters take effect at the next tick (100 ms).
type Stream struct {
	mu        sync.Mutex
	r         Requests
	ok, fail  prometheus.Counter
	okLat     prometheus.Observer
	failLat   prometheus.Observer
	whole     float64 // requests counted but not yet observed in the histogram
	failShare float64 // failures owed to the histogram
	stopped   bool
	okLabels  map[string]string
	errLabels map[string]string
}

// Requests starts a request stream until the test ends (or Stop). Both code series exist from
// the start (at 0), so rate() ratios are defined before the first error.
func (e *Exporter) Requests(tb testing.TB, r Requests) *Stream {
	tb.Helper()
	if r.Metric == "" {
		r.Metric = "http_requests_total"
	}
	if r.CodeLabel == "" {
		r.CodeLabel = "code"
	}
	if r.OKCode == "" {
		r.OKCode = "200"
	}
	if r.ErrorCode == "" {
		r.ErrorCode = "500"
	}
	if r.Rate == 0 {
		r.Rate = 10
	}
	if r.LatencyUnit == 0 {
		r.LatencyUnit = time.Second
	}
	s := &Stream{r: r, okLabels: maps.Clone(r.Labels), errLabels: maps.Clone(r.Labels)}
	if s.okLabels == nil {
		s.okLabels, s.errLabels = map[string]string{}, map[string]string{}
	}
	s.okLabels[r.CodeLabel], s.errLabels[r.CodeLabel] = r.OKCode, r.ErrorCode
	c := e.declare(tb, "counter", r.Metric, s.okLabels, nil).counter
	s.ok, s.fail = c.With(s.okLabels), c.With(s.errLabels)
	if r.LatencyMetric != "" {
		scale := float64(time.Second) / float64(r.LatencyUnit)
		buckets := make([]float64, len(prometheus.DefBuckets))
		for i, b := range prometheus.DefBuckets {
			buckets[i] = b * scale
		}
		h := e.declare(tb, "histogram", r.LatencyMetric, s.okLabels, buckets).histogram
		s.okLat, s.failLat = h.With(s.okLabels), h.With(s.errLabels)
	}
	e.mu.Lock()
	e.streams = append(e.streams, s)
	e.mu.Unlock()
	e.tickerOnce.Do(func() { go e.run() })
	return s
}

func (e *Exporter) run() {
	defer close(e.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		e.mu.Lock()
		streams := slices.Clone(e.streams)
		e.mu.Unlock()
		for _, s := range streams {
			s.step(tick.Seconds())
		}
	}
}

func (s *Stream) step(seconds float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	n := s.r.Rate * seconds
	failed := n * s.r.ErrorRatio
	s.ok.Add(n - failed)
	s.fail.Add(failed)
	if s.okLat == nil {
		return
	}
	// Histograms count whole requests: carry the fraction over, split by the error ratio.
	s.whole += n
	lat := float64(s.r.Latency) / float64(s.r.LatencyUnit)
	for ; s.whole >= 1; s.whole-- {
		s.failShare += s.r.ErrorRatio
		if s.failShare >= 1 {
			s.failShare--
			s.failLat.Observe(lat)
		} else {
			s.okLat.Observe(lat)
		}
	}
}

// SetErrorRatio sets the share of failing requests (0..1).
func (s *Stream) SetErrorRatio(r float64) {
	s.mu.Lock()
	s.r.ErrorRatio = r
	s.mu.Unlock()
}

// SetRate sets the requests per second.
func (s *Stream) SetRate(rps float64) {
	s.mu.Lock()
	s.r.Rate = rps
	s.mu.Unlock()
}

// SetLatency sets the latency every later request observes.
func (s *Stream) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.r.Latency = d
	s.mu.Unlock()
}

// Stop stops adding requests (the series stay, flat).
func (s *Stream) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// Selector is the stream's counter as a PromQL selector with its labels (no code label),
// e.g. http_requests_total{service="canary"}.
func (s *Stream) Selector() string {
	var b strings.Builder
	b.WriteString(s.r.Metric)
	b.WriteString("{")
	for i, k := range labelNames(s.r.Labels) {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(k + `="` + s.r.Labels[k] + `"`)
	}
	b.WriteString("}")
	return b.String()
}
