package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sluicehq/sluice/internal/childproc"
	"github.com/sluicehq/sluice/internal/controller"
)

// DefaultUserAgent is the user agent of sluice's controller (`sluice controller` sets it too),
// which the audit-log count matches by prefix.
const DefaultUserAgent = "sluice-controller"

// ControllerMain is the child process the harness starts (`sluice bench controller`, hidden):
// sluice's controller built exactly as `sluice controller` builds it (controller.NewManager,
// JSON logs to stderr, the given --qps/--burst and user agent, no leader election), plus what
// only a benchmark needs: client-go's rate-limiter latency metric on the metrics endpoint, and
// CPU and heap profiles. It runs until ctx ends (SIGTERM), then writes the heap profile
// (before stopping the manager, so the caches are still live) and ends the CPU profile.
func ControllerMain(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("sluice bench controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "path to the cluster's kubeconfig")
	workers := fs.Int("rollout-threads", 10, "number of Rollouts reconciled at once")
	qps := fs.Float64("qps", 40, "API requests per second the controller may issue")
	burst := fs.Int("burst", 80, "API request burst")
	metricsAddr := fs.String("metrics-bind-address", "0", "Prometheus metrics address (0 disables)")
	ua := fs.String("user-agent", DefaultUserAgent, "user agent of the controller's API requests")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the controller's whole life to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile to this file when stopped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(stderr)))
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst, cfg.UserAgent = float32(*qps), *burst, *ua
	crmetrics.RegisterRESTClientMetrics(crmetrics.MetricRateLimiterLatency)
	mgr, err := controller.NewManager(cfg, controller.Options{Workers: *workers, MetricsAddr: *metricsAddr, HealthAddr: "0"})
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	var errs []error
	if *memprofile != "" {
		errs = append(errs, writeHeapProfile(*memprofile))
	}
	cancel()
	errs = append(errs, <-done)
	return errors.Join(errs...)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing the heap profile: %w", err)
	}
	return f.Close()
}

// ChildCommand says how to start the controller child process: Path with Args, then the
// ControllerMain flags; Env is added to the environment. The `sluice bench` command uses its
// own executable with the args "bench", "controller"; a test binary re-executes itself with an
// environment variable its TestMain looks for.
type ChildCommand struct {
	Path string
	Args []string
	Env  []string
}

// child is the running controller child process.
type child struct {
	*childproc.Process
}

func startChild(cc ChildCommand, logPath string, flags ...string) (*child, error) {
	args := append(append([]string(nil), cc.Args...), flags...)
	cmd := exec.Command(cc.Path, args...) //nolint:noctx // lives until stop, not for one request
	cmd.Env = append(os.Environ(), cc.Env...)
	p, err := childproc.Start("the controller", logPath, cmd)
	if err != nil {
		return nil, err
	}
	return &child{p}, nil
}

func (c *child) pid() int     { return c.Pid() }
func (c *child) exited() bool { return c.Exited() }

// stop sends SIGTERM and waits up to grace (profiles are written then), then SIGKILLs.
func (c *child) stop(grace time.Duration) error {
	if err := c.Stop(grace); err != nil {
		return err
	}
	return c.exitErr()
}

func (c *child) exitErr() error {
	if err := c.Err(); err != nil {
		return fmt.Errorf("the controller exited: %w (log: %s)", err, c.LogPath)
	}
	return nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
