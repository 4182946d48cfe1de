package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/cli/view"
)

type getOptions struct {
	rolloutVerb
	watch, noColor bool
	output         string
	timeout        time.Duration
	interval       time.Duration
}

func (o *getOptions) Validate() error {
	switch o.output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("unknown output format %q (use json or yaml)", o.output)
	}
	if o.timeout < 0 {
		return fmt.Errorf("--timeout must not be negative, got %s", o.timeout)
	}
	return nil
}

func newGetCommand() *cobra.Command {
	get := &cobra.Command{
		Use:   "get",
		Short: "Show a rollout as a tree (get rollout NAME), an AnalysisRun (get analysisrun NAME) or an Experiment (get experiment NAME)",
	}
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:     "rollout NAME",
		Aliases: []string{"ro", "rollouts"},
		Short:   "Show a rollout: status, steps, weights, and its revisions, ReplicaSets and pods",
		Long: `get rollout shows the Rollout's phase, the step it is at (index/steps, as Argo shows it), the
step running now and the next one (with the time left in a timed pause), the weight the steps
request (SetWeight) and the share of requests the canary really gets (ActualWeight), with where
it comes from: the pod ratio without trafficRouting, the router's weights with it. Below it, the
tree Rollout → revisions → ReplicaSets → pods with each ReplicaSet's traffic share, and each
revision's AnalysisRuns with their metrics: phase, measurement counts and the last measured
value and message ('sluice get analysisrun NAME' shows every kept measurement).

--watch redraws in place on a terminal (q or Ctrl-C quits) and prints each change as plain
lines otherwise.`,
		Example: `  sluice get rollout my-rollout
  sluice get rollout my-rollout --watch
  sluice get rollout my-rollout -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.ValidArgsFunction = completeRollouts(&o.kube)
	o.kube.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.watch, "watch", "w", false, "keep watching and redraw on every change")
	f.BoolVar(&o.noColor, "no-color", false, "no colors (also: $NO_COLOR; colors are only used on a terminal)")
	f.StringVarP(&o.output, "output", "o", "", "output format: json or yaml (the computed view, see docs/cli.md)")
	f.DurationVar(&o.timeout, "timeout", 0, "with --watch: stop after this long (0: until interrupted)")
	f.DurationVar(&o.interval, "interval", time.Second, "with --watch: how often to refresh")
	_ = f.MarkHidden("interval")
	get.AddCommand(cmd, newGetAnalysisRunCommand(), newGetExperimentCommand())
	return get
}

func (o *getOptions) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	opts := view.Options{Color: o.output == "" && useColor(out, o.noColor)}
	render := func(ctx context.Context) (string, bool, error) {
		info, err := RolloutInfo(ctx, o.kube.client, o.key(), time.Now())
		if err != nil {
			return "", false, err
		}
		if o.output != "" {
			s, err := encodeView(info, o.output)
			return s, false, err
		}
		return view.Tree(info, opts), false, nil
	}
	return show(ctx, in, out, o.watch, o.timeout, o.interval, o.output != "", render)
}

// RolloutInfo reads a Rollout, its ReplicaSets and their pods, and builds the view of it.
func RolloutInfo(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) (*view.RolloutInfo, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return nil, err
	}
	var rsList appsv1.ReplicaSetList
	if err := c.List(ctx, &rsList, client.InNamespace(key.Namespace)); err != nil {
		return nil, fmt.Errorf("listing ReplicaSets: %w", err)
	}
	var owned []appsv1.ReplicaSet
	for _, rs := range rsList.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == ro.UID {
			owned = append(owned, rs)
		}
	}
	var pods corev1.PodList
	if ro.Spec.Selector != nil && len(owned) > 0 {
		sel, err := metav1.LabelSelectorAsSelector(ro.Spec.Selector)
		if err != nil {
			return nil, fmt.Errorf("rollout %q has an invalid selector: %w", key.Name, err)
		}
		if err := c.List(ctx, &pods, client.InNamespace(key.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return nil, fmt.Errorf("listing pods: %w", err)
		}
	}
	runs, err := ownedAnalysisRuns(ctx, c, ro)
	if err != nil {
		return nil, err
	}
	exps, err := ownedExperiments(ctx, c, ro, now)
	if err != nil {
		return nil, err
	}
	info := view.Build(view.Input{Rollout: ro, ReplicaSets: owned, Pods: pods.Items, AnalysisRuns: runs, Experiments: exps, Now: now})
	return &info, nil
}
