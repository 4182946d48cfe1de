package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/devcluster"
)

type devOptions struct {
	withController bool
	runDir         string
	nodes          int
	crds           []string
	scale          bool
	audit          bool
}

func (o *devOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.runDir, "run-dir", "", "directory for the cluster's data, logs and kubeconfig (default: a temporary directory, removed on exit)")
	cmd.Flags().IntVar(&o.nodes, "nodes", 3, "number of fake (kwok) nodes, 250 pods each")
	cmd.Flags().StringSliceVar(&o.crds, "crds", nil, "third-party CRD sets to install besides sluice's: istio, gateway-api, smi")
	cmd.Flags().BoolVar(&o.scale, "high-throughput", false, "raise the controller-manager's and scheduler's API rate limits (benchmarks)")
	cmd.Flags().BoolVar(&o.audit, "audit-log", false, "write the API server's audit log (JSON) to <run-dir>/audit.log")
}

func (o *devOptions) options(cmd *cobra.Command) (devcluster.Options, error) {
	sets := []devcluster.CRDSet{devcluster.CRDsSluice}
	for _, s := range o.crds {
		set, err := devcluster.ParseCRDSet(s)
		if err != nil {
			return devcluster.Options{}, err
		}
		sets = append(sets, set)
	}
	if o.nodes < 1 {
		return devcluster.Options{}, fmt.Errorf("--nodes must be at least 1, got %d", o.nodes)
	}
	return devcluster.Options{
		RunDir: o.runDir, KeepRunDir: o.runDir != "", Nodes: o.nodes, CRDs: sets,
		HighThroughput: o.scale, AuditLog: o.audit, Progress: cmd.ErrOrStderr(),
	}, nil
}

func newDevCommand() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local Kubernetes cluster (etcd, apiserver, controller-manager, scheduler, kwok) until Ctrl-C",
		Long: `dev starts a real Kubernetes control plane on 127.0.0.1 with fake kwok nodes, installs
sluice's CRDs, prints the KUBECONFIG to use, and keeps running until Ctrl-C or SIGTERM, when it
stops every process it started.

The first run builds the cluster's binaries from pinned Go modules (9–13 minutes on 2 cores,
with progress every 10 s) into ~/.cache/sluice/cluster; later runs start in seconds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := o.options(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := devcluster.Start(ctx, opts)
			if err != nil {
				return err
			}
			defer func() { _ = c.Stop() }()
			ctrlErr := make(chan error, 1)
			if o.withController {
				discardLogs()
				cfg := c.RESTConfig()
				cfg.UserAgent = "sluice-controller"
				mgr, err := controller.NewManager(cfg, controller.Options{})
				if err != nil {
					return err
				}
				go func() { ctrlErr <- mgr.Start(ctx) }()
				_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "sluice: the sluice controller runs in-process")
			}
			out := cmd.OutOrStdout()
			_, _ = fmt.Fprintf(out, "export KUBECONFIG=%s\n", c.Kubeconfig())
			_, _ = fmt.Fprintf(cmd.ErrOrStderr(), "sluice: logs in %s; press Ctrl-C to stop\n", c.RunDir())
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "sluice: stopping the local cluster")
					if err := c.Stop(); err != nil {
						// Everything is gone either way (a slow component is killed): say so, but
						// the stop the user asked for succeeded.
						_, _ = fmt.Fprintf(cmd.ErrOrStderr(), "sluice: warning: %v\n", err)
					}
					return nil
				case err := <-ctrlErr:
					if ctx.Err() == nil {
						return fmt.Errorf("the in-process controller stopped: %w", err)
					}
				case <-tick.C:
					if err := c.Err(); err != nil {
						return errors.Join(errors.New("a cluster component stopped"), err)
					}
				}
			}
		},
	}
	o.addFlags(cmd)
	cmd.Flags().BoolVar(&o.withController, "with-controller", false, "also run the sluice controller in-process")
	cmd.AddCommand(&cobra.Command{
		Use:   "build",
		Short: "Build (once) the local cluster's binaries and print their directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := devcluster.EnsureBinaries(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), dir)
			return err
		},
	})
	return cmd
}
