package prometheustest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/internal/childproc"
)

// Server is a running Prometheus that scrapes an Exporter.
type Server struct {
	addr     string
	exporter *Exporter
	api      promv1.API
	proc     *childproc.Process
	// Started is how long the server took to become ready and scrape the exporter once.
	Started time.Duration
}

type config struct {
	interval time.Duration
	targets  map[string]string
}

// Option changes how Start runs Prometheus.
type Option func(*config)

// WithScrapeInterval sets the scrape (and rule evaluation) interval; default 1s.
func WithScrapeInterval(d time.Duration) Option { return func(c *config) { c.interval = d } }

// WithTarget adds a scrape job for another host:port (its /metrics).
func WithTarget(job, hostport string) Option {
	return func(c *config) { c.targets[job] = hostport }
}

// Binary is the prometheus executable Start runs: $SLUICE_PROMETHEUS, else `prometheus` on
// PATH. When there is none, the test is skipped with a hint (it fails under CI=true, where
// `make test` installs it first).
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("SLUICE_PROMETHEUS"); p != "" {
		return p
	}
	p, err := exec.LookPath("prometheus")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("prometheus is not installed: `make test` runs `make test-servers` (hack/install-test-servers.sh) first; run it")
	}
	tb.Skip("prometheus is not installed: run `make test-servers` (hack/install-test-servers.sh) to run the tests against a real Prometheus")
	return ""
}

// Start runs Prometheus on a free loopback port, scraping a new Exporter (job "exporter"),
// and returns once it has scraped it. Everything stops when the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin := Binary(tb)
	cfg := config{interval: time.Second, targets: map[string]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	begin := time.Now()
	exp := NewExporter(tb)
	cfg.targets["exporter"] = exp.Address()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(renderConfig(cfg)), 0o600); err != nil {
		tb.Fatal(err)
	}
	var s *Server
	var err error
	// The port is free when picked and may be taken before Prometheus binds it: retry.
	for range 3 {
		if s, err = start(tb, bin, dir); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	s.exporter = exp
	s.WaitForQuery(tb, `up{job="exporter"} == 1`, NonEmpty)
	s.Started = time.Since(begin)
	return s
}

func renderConfig(c config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\nscrape_configs:\n",
		model.Duration(c.interval), model.Duration(c.interval), model.Duration(c.interval))
	for job, target := range c.targets {
		fmt.Fprintf(&b, "  - job_name: %q\n    static_configs:\n      - targets: [%q]\n", job, target)
	}
	return b.String()
}

func freePort() (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

func start(tb testing.TB, bin, dir string) (*Server, error) {
	tb.Helper()
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data-"+strings.ReplaceAll(addr, ":", "-"))
	//nolint:gosec // the binary is the test's own choice (PATH or $SLUICE_PROMETHEUS).
	cmd := exec.CommandContext(context.Background(), bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	proc, err := childproc.Start("prometheus", filepath.Join(dir, "prometheus.log"), cmd)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		if err := proc.Stop(5 * time.Second); err != nil {
			tb.Logf("prometheus: %v", err)
		}
		_ = syscall.Kill(-proc.Pid(), syscall.SIGKILL) // anything it left in its group
		if tb.Failed() {
			tb.Logf("prometheus log (end):\n%s", proc.Tail(4000))
		}
	})
	client, err := api.NewClient(api.Config{Address: "http://" + addr})
	if err != nil {
		return nil, err
	}
	s := &Server{addr: addr, api: promv1.NewAPI(client), proc: proc}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if proc.Exited() {
			return nil, fmt.Errorf("prometheus exited at start (%w): %s", proc.Err(), proc.Tail(2000))
		}
		if ready(tb, addr) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("prometheus was not ready within a minute: %s", proc.Tail(2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ready(tb testing.TB, addr string) bool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Address is the server's URL, e.g. http://127.0.0.1:40123.
func (s *Server) Address() string { return "http://" + s.addr }

// Exporter is the exporter the server scrapes.
func (s *Server) Exporter() *Exporter { return s.exporter }

// API is a client of the server's HTTP API.
func (s *Server) API() promv1.API { return s.api }

// Query runs an instant query now; a failed query fails the test.
func (s *Server) Query(tb testing.TB, query string) model.Value {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, err := s.api.Query(ctx, query, time.Now())
	if err != nil {
		tb.Fatalf("query %s: %v", query, err)
	}
	return v
}

// NonEmpty is true for a non-empty vector or matrix, and for any scalar.
func NonEmpty(v model.Value) bool {
	switch v := v.(type) {
	case model.Vector:
		return len(v) > 0
	case model.Matrix:
		return len(v) > 0
	case *model.Scalar:
		return true
	}
	return false
}

// Near is a predicate for a one-sample vector or a scalar within tolerance of want.
func Near(want, tolerance float64) func(model.Value) bool {
	return func(v model.Value) bool {
		var got float64
		switch v := v.(type) {
		case model.Vector:
			if len(v) != 1 {
				return false
			}
			got = float64(v[0].Value)
		case *model.Scalar:
			got = float64(v.Value)
		default:
			return false
		}
		return got >= want-tolerance && got <= want+tolerance
	}
}

// WaitForQuery polls an instant query every 100 ms until pred holds (at most 30 s, else the
// test fails showing the last value) and returns the value that satisfied it.
func (s *Server) WaitForQuery(tb testing.TB, query string, pred func(model.Value) bool) model.Value {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last model.Value
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, _, err := s.api.Query(ctx, query, time.Now())
		cancel()
		if err == nil && pred(v) {
			return v
		}
		last, lastErr = v, err
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("query %s did not reach the wanted value within 30s; last value %v, error %v", query, last, lastErr)
	return nil
}
