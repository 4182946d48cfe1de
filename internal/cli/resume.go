package cli

import (
	"context"

	"github.com/spf13/cobra"
)

func newResumeCommand() *cobra.Command {
	return simpleVerbCommand("resume NAME", "Resume a paused rollout without skipping a step",
		`resume is the first case of 'promote': it sets spec.paused=false if the Rollout is paused by a
user, and clears status.pauseConditions if the controller paused it at a pause step (which
completes that pause step). Unlike promote it never skips a step that is still running.`,
		"resumed", func(ctx context.Context, o *rolloutVerb) error { return Resume(ctx, o.kube.client, o.key()) })
}
