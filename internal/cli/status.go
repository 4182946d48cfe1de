package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

type statusOptions struct {
	rolloutVerb
	watch             bool
	timeout, interval time.Duration
}

func (o *statusOptions) Validate() error {
	if o.timeout < 0 {
		return fmt.Errorf("--timeout must not be negative, got %s", o.timeout)
	}
	return nil
}

func newStatusCommand() *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Wait until a rollout is Healthy (exit 0) or Degraded (exit 2); for CI pipelines",
		Long: `status prints the Rollout's phase and message each time they change, and waits:

  exit 0  the Rollout is Healthy at its current generation (the controller has observed the
          latest spec, every step is done and the new version is stable and available);
  exit 2  the Rollout is Degraded (aborted, progress deadline exceeded, invalid spec);
  exit 3  --timeout passed first (a Rollout waiting at an indefinite pause stays Paused);
  exit 1  any other error (no such Rollout, no access, bad flags).

With --watch=false it prints the status once and exits with the same codes (3: not Healthy
yet). The phase is the one clients must trust (Argo's rule): while the controller has not
observed the latest generation, the Rollout counts as Progressing.`,
		Example: `  sluice set image my-rollout my-app=nginx:1.26
  sluice status my-rollout --timeout 10m   # in a CI pipeline`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return WaitHealthy(cmd.Context(), o.kube.client, o.key(), WaitOptions{
				Watch: o.watch, Timeout: o.timeout, Interval: o.interval, Out: cmd.OutOrStdout(),
			})
		},
	}
	cmd.ValidArgsFunction = completeRollouts(&o.kube)
	o.kube.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.watch, "watch", "w", true, "wait for Healthy or Degraded; false prints the status once")
	f.DurationVarP(&o.timeout, "timeout", "t", 0, "give up (exit 3) after this long, e.g. 5m (0: wait forever)")
	f.DurationVar(&o.interval, "interval", time.Second, "how often to look")
	_ = f.MarkHidden("interval")
	return cmd
}

// WaitOptions configure WaitHealthy.
type WaitOptions struct {
	Watch             bool
	Timeout, Interval time.Duration
	Out               io.Writer
}

// WaitHealthy prints "Phase - message" on every change and returns nil once the Rollout is
// Healthy at its current generation, an *ExitError with ExitDegraded when it is Degraded, and
// one with ExitTimeout when the timeout passes first (or, without Watch, when it is neither).
func WaitHealthy(ctx context.Context, c client.Client, key types.NamespacedName, o WaitOptions) error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.Timeout, errTimeout)
		defer cancel()
	}
	last := ""
	for {
		ro, err := getRollout(ctx, c, key)
		if err != nil {
			if errors.Is(context.Cause(ctx), errTimeout) {
				return timeoutError(key.Name, o.Timeout, last)
			}
			return err
		}
		phase, msg := view.Phase(ro)
		line := string(phase)
		if line == "" {
			line = "Unknown - no controller has reported a status yet"
		}
		if msg != "" {
			line += " - " + msg
		}
		if line != last {
			if _, err := fmt.Fprintln(o.Out, line); err != nil {
				return err
			}
			last = line
		}
		switch phase {
		case v1alpha1.RolloutPhaseHealthy:
			return nil
		case v1alpha1.RolloutPhaseDegraded:
			return &ExitError{Code: ExitDegraded, Err: fmt.Errorf("rollout '%s' is Degraded: %s", key.Name, msg)}
		default: // Progressing, Paused, or not reported yet: wait
		}
		if !o.Watch {
			return &ExitError{Code: ExitTimeout, Err: fmt.Errorf("rollout '%s' is not Healthy yet: %s", key.Name, line)}
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errTimeout) {
				return timeoutError(key.Name, o.Timeout, last)
			}
			return fmt.Errorf("waiting for rollout '%s': %w", key.Name, ctx.Err())
		case <-time.After(o.Interval):
		}
	}
}

var errTimeout = errors.New("status: timeout")

func timeoutError(name string, d time.Duration, last string) error {
	return &ExitError{Code: ExitTimeout, Err: fmt.Errorf("rollout '%s' did not become Healthy within %s (last status: %s)", name, d, last)}
}
