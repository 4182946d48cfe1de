package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newPauseCommand() *cobra.Command {
	return simpleVerbCommand("pause NAME", "Pause a rollout where it is",
		`pause sets spec.paused=true, exactly as 'kubectl argo rollouts pause' does. The controller holds
every ReplicaSet at its size and does not advance the steps (phase Paused, "manually paused")
until 'sluice resume' or 'sluice promote'.`,
		"paused", func(ctx context.Context, o *rolloutVerb) error { return Pause(ctx, o.kube.client, o.key()) })
}
