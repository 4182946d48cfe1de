package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newAbortCommand() *cobra.Command {
	return simpleVerbCommand("abort NAME", "Abort a rollout: go back to the stable version",
		`abort sets status.abort=true (on the status subresource), exactly as 'kubectl argo rollouts
abort' does. The controller scales the canary down, sends all traffic back to the stable
version and marks the Rollout Degraded (RolloutAborted). For blue-green: the active Service
stays on (or goes back to) the stable version, the preview Service goes back to it, and the
new version is scaled down after abortScaleDownDelaySeconds. 'sluice retry' starts the steps again;
changing the template back to the stable one ends the update.`,
		"aborted", func(ctx context.Context, o *rolloutVerb) error { return Abort(ctx, o.kube.client, o.key()) })
}
