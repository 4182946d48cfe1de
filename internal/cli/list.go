package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

type listOptions struct {
	kube                 kubeOptions
	allNamespaces, watch bool
	noColor              bool
	name                 string
	timeout, interval    time.Duration
}

func newListCommand() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List rollouts (list rollouts)",
	}
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:     "rollouts",
		Aliases: []string{"rollout", "ro"},
		Short:   "List the rollouts of a namespace (or all, -A)",
		Long: `list rollouts prints one line per Rollout with Argo's columns (strategy, status, step,
set weight, ready/desired/up-to-date/available) plus ACTUAL: the share of requests the canary
really gets (the pod ratio without trafficRouting, the router's weight with it).`,
		Example: `  sluice list rollouts
  sluice list rollouts -A --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.kube.complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	o.kube.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the rollouts of every namespace")
	f.BoolVarP(&o.watch, "watch", "w", false, "keep watching and redraw on every change")
	f.BoolVar(&o.noColor, "no-color", false, "no colors")
	f.StringVar(&o.name, "name", "", "only rollouts whose name contains this")
	f.DurationVar(&o.timeout, "timeout", 0, "with --watch: stop after this long (0: until interrupted)")
	f.DurationVar(&o.interval, "interval", time.Second, "with --watch: how often to refresh")
	_ = f.MarkHidden("interval")
	list.AddCommand(cmd)
	return list
}

func (o *listOptions) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	opts := view.Options{Color: useColor(out, o.noColor)}
	render := func(ctx context.Context) (string, bool, error) {
		var l v1alpha1.RolloutList
		var opts2 []client.ListOption
		if !o.allNamespaces {
			opts2 = append(opts2, client.InNamespace(o.kube.ns))
		}
		if err := o.kube.client.List(ctx, &l, opts2...); err != nil {
			return "", false, fmt.Errorf("listing rollouts: %w", err)
		}
		items := slices.DeleteFunc(l.Items, func(ro v1alpha1.Rollout) bool { return !strings.Contains(ro.Name, o.name) })
		slices.SortFunc(items, func(a, b v1alpha1.Rollout) int {
			return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		})
		return view.List(items, o.allNamespaces, opts), false, nil
	}
	return show(ctx, in, out, o.watch, o.timeout, o.interval, false, render)
}
