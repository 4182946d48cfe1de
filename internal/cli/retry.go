package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newRetryCommand() *cobra.Command {
	long := `retry sets status.abort=false (on the status subresource), exactly as 'kubectl argo rollouts
retry rollout' does: the controller starts the steps of an aborted update again from the first
(blue-green: the preview, the pre-promotion analysis and the pause again).`
	run := func(ctx context.Context, o *rolloutVerb) error { return Retry(ctx, o.kube.client, o.key()) }
	cmd := simpleVerbCommand("retry NAME", "Retry an aborted rollout", long, "retried", run)
	// Argo's spelling: retry rollout NAME.
	sub := simpleVerbCommand("rollout NAME", "Retry an aborted rollout", long, "retried", run)
	sub.Aliases = []string{"ro", "rollouts"}
	cmd.AddCommand(sub)
	return cmd
}
