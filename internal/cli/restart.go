package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type restartOptions struct {
	rolloutVerb
	in time.Duration
}

func (o *restartOptions) Validate() error {
	if o.in < 0 {
		return fmt.Errorf("--in must not be negative, got %s", o.in)
	}
	return nil
}

func newRestartCommand() *cobra.Command {
	o := &restartOptions{}
	cmd := &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart the pods of a rollout",
		Long: `restart sets spec.restartAt to now (or now + --in), exactly as 'kubectl argo rollouts restart'
does: pods created before that time are to be replaced.`,
		Example: `  sluice restart my-rollout
  sluice restart my-rollout --in 10m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			at := metav1.NewTime(time.Now().Add(o.in))
			if err := Restart(cmd.Context(), o.kube.client, o.key(), at); err != nil {
				return err
			}
			done := "restarts"
			if o.in > 0 {
				done = "restarts in " + o.in.String()
			}
			return printDone(cmd.OutOrStdout(), o.name, done)
		},
	}
	cmd.ValidArgsFunction = completeRollouts(&o.kube)
	o.kube.addFlags(cmd)
	cmd.Flags().DurationVar(&o.in, "in", 0, "restart after this long (e.g. 10s, 5m)")
	return cmd
}
