package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
)

// rolloutVerb is the Options of a verb that acts on one named Rollout: Complete resolves the
// client, namespace and name; Validate checks the flags; Run acts.
type rolloutVerb struct {
	kube kubeOptions
	name string
}

func (o *rolloutVerb) Complete(args []string) error {
	if len(args) != 1 || args[0] == "" {
		return fmt.Errorf("expected exactly one Rollout name, got %d arguments", len(args))
	}
	o.name = args[0]
	return o.kube.complete()
}

func (o *rolloutVerb) key() types.NamespacedName {
	return types.NamespacedName{Namespace: o.kube.ns, Name: o.name}
}

// simpleVerbCommand builds a verb whose Run is one function of (ctx, client, key), printing
// "rollout 'NAME' <done>" on success, like Argo's plugin.
func simpleVerbCommand(use, short, long, done string, run func(ctx context.Context, o *rolloutVerb) error) *cobra.Command {
	o := &rolloutVerb{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := run(cmd.Context(), o); err != nil {
				return err
			}
			return printDone(cmd.OutOrStdout(), o.name, done)
		},
	}
	cmd.ValidArgsFunction = completeRollouts(&o.kube)
	o.kube.addFlags(cmd)
	return cmd
}

func printDone(w io.Writer, name, done string) error {
	_, err := fmt.Fprintf(w, "rollout '%s' %s\n", name, done)
	return err
}
