package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/bench"
)

func newBenchCommand() *cobra.Command {
	var (
		o        bench.Options
		jsonPath string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark a Rollout controller: N Rollouts, one image change, time, CPU, memory and API calls",
		Long: `bench creates N Rollouts (3 replicas; steps setWeight 20, pause 5s, setWeight 60, pause 5s,
setWeight 100), waits until all are Healthy, changes the image of all of them at once, waits
until all are Healthy again, and prints what the update cost: wall time and per-Rollout time,
step reaction latency, controller CPU and peak RSS, the controller's API requests per rollout by
verb (from the API server's audit log), reconciles per rollout, and the cluster's own cost.

By default it starts a local cluster (sluice dev, high-throughput, with an audit log) and runs
sluice's controller as a child process of its own binary, so the controller's CPU and memory
are measured alone.

To measure a controller it did not start (any argoproj.io/v1alpha1 controller, e.g. Argo
Rollouts, side by side with sluice), start a cluster, run the controller against it, and point
the harness at both:

  sluice dev --high-throughput --audit-log --nodes 3 --run-dir /tmp/c1 &
  sluice controller --kubeconfig /tmp/c1/kubeconfig --leader-elect=false \
      --metrics-bind-address 127.0.0.1:8090 --health-probe-bind-address 0 &
  sluice bench --kubeconfig /tmp/c1/kubeconfig --audit-log /tmp/c1/audit.log \
      --controller external --controller-pid $! --controller-user-agent sluice-controller \
      --controller-metrics-url http://127.0.0.1:8090/metrics`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			o.Child = bench.ChildCommand{Path: exe, Args: []string{"bench", "controller"}}
			o.Progress = cmd.ErrOrStderr()
			discardLogs() // the harness's own watches and clients
			res, runErr := bench.Run(cmd.Context(), o)
			if res == nil {
				return runErr
			}
			var errs []error
			if runErr != nil {
				errs = append(errs, runErr)
			}
			_, _ = fmt.Fprintln(cmd.OutOrStdout())
			if err := res.WriteTable(cmd.OutOrStdout()); err != nil {
				errs = append(errs, err)
			}
			if jsonPath != "" {
				errs = append(errs, writeJSONFile(jsonPath, res))
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Rollouts, "rollouts", 100, "number of Rollouts")
	f.IntVar(&o.Replicas, "replicas", 3, "replicas of each Rollout")
	f.IntVar(&o.Namespaces, "namespaces", 1, "spread the Rollouts over this many namespaces")
	f.DurationVar(&o.Pause, "pause", 5*time.Second, "duration of each of the two pause steps")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "give up after this long (creation, setup and update; not the cluster start)")
	f.StringVar(&jsonPath, "json", "", "also write the result as JSON to this file")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "use this cluster instead of starting a local one (needs pod capacity for every Rollout at its peak)")
	f.StringVar(&o.AuditLogPath, "audit-log", "", "with --kubeconfig: the API server's JSON audit log, to count the controller's requests (off without it)")
	f.StringToIntVar(&o.ClusterPIDs, "cluster-pid", nil, "with --kubeconfig: component=PID pairs whose CPU to report (e.g. kube-apiserver=123,etcd=456)")
	f.IntVar(&o.Nodes, "nodes", 0, "kwok nodes of the local cluster, 250 pods each (default: enough for the peak, plus one)")
	f.StringVar(&o.RunDir, "run-dir", "", "keep the cluster's files, audit log and controller log here (default: a temporary directory, removed after a successful run)")
	f.StringVar(&o.Controller, "controller", bench.ControllerChild, "child: start sluice's controller as a child process; external: measure a running controller (--controller-pid)")
	f.IntVar(&o.Workers, "workers", 10, "child controller: Rollouts reconciled at once (--rollout-threads)")
	f.Float64Var(&o.QPS, "qps", 40, "child controller: API requests per second")
	f.IntVar(&o.Burst, "burst", 80, "child controller: API request burst")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "child controller: write a CPU profile of its whole life to this file")
	f.StringVar(&o.MemProfile, "memprofile", "", "child controller: write a heap profile to this file at the end")
	f.IntVar(&o.ControllerPID, "controller-pid", 0, "external controller: its process ID (CPU and RSS from /proc)")
	f.StringVar(&o.ControllerUserAgent, "controller-user-agent", bench.DefaultUserAgent, "user-agent prefix of the controller's requests in the audit log (Argo Rollouts: argo-rollouts)")
	f.StringVar(&o.ControllerMetricsURL, "controller-metrics-url", "", "external controller: its Prometheus endpoint, for reconcile counts")
	f.StringVar(&o.ReconcileMetric, "reconcile-metric", bench.DefaultReconcileMetric, "series counting the controller's Rollout reconciles (Argo Rollouts: rollout_reconcile_count)")
	cmd.AddCommand(newBenchControllerCommand())
	return cmd
}

// newBenchControllerCommand is the child process `sluice bench` starts: sluice's controller,
// built as `sluice controller` builds it, plus profiles and client metrics.
func newBenchControllerCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "controller [flags]",
		Short:              "The controller child process of sluice bench (internal)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.ControllerMain(cmd.Context(), args, cmd.ErrOrStderr())
		},
	}
}

func writeJSONFile(path string, res *bench.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := res.WriteJSON(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
