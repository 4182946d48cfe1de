package cli

import (
	"github.com/spf13/cobra"
)

type promoteOptions struct {
	rolloutVerb
	full bool
}

func newPromoteCommand() *cobra.Command {
	o := &promoteOptions{}
	cmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "Promote a rollout to the next step, or fully with --full",
		Long: `promote patches exactly what 'kubectl argo rollouts promote' patches:

  - spec.paused=false if the Rollout is paused by a user;
  - then, on the status subresource: if the controller paused at a pause step
    (status.pauseConditions), clear them: the pause step completes; otherwise, for a canary with
    steps, clear them and move status.currentStepIndex to the next step (skipping a step that
    is still waiting, e.g. for its canary pods). A blue-green Rollout has no steps: promote
    clears its BlueGreenPause and the controller moves the active Service to the new version
    once all its pods are available.

With --full: status.promoteFull=true (unless the current template is already stable): the
controller skips the remaining steps (blue-green: the pause, the analyses and the preview
size) and promotes as soon as the new pods are available.`,
		Example: `  sluice promote my-rollout
  sluice promote my-rollout --full -n shop`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := Promote(cmd.Context(), o.kube.client, o.key(), o.full); err != nil {
				return err
			}
			done := "promoted"
			if o.full {
				done = "fully promoted"
			}
			return printDone(cmd.OutOrStdout(), o.name, done)
		},
	}
	cmd.ValidArgsFunction = completeRollouts(&o.kube)
	o.kube.addFlags(cmd)
	cmd.Flags().BoolVar(&o.full, "full", false, "skip every remaining step and promote at once")
	return cmd
}
