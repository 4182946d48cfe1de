package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

// ownedAnalysisRuns lists the AnalysisRuns the Rollout owns (controller reference).
func ownedAnalysisRuns(ctx context.Context, c client.Client, ro *v1alpha1.Rollout) ([]v1alpha1.AnalysisRun, error) {
	var list v1alpha1.AnalysisRunList
	if err := c.List(ctx, &list, client.InNamespace(ro.Namespace)); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil // no AnalysisRun CRD in this cluster: no runs to show
		}
		return nil, fmt.Errorf("listing AnalysisRuns: %w", err)
	}
	var owned []v1alpha1.AnalysisRun
	for _, run := range list.Items {
		if ref := metav1.GetControllerOf(&run); ref != nil && ref.UID == ro.UID {
			owned = append(owned, run)
		}
	}
	return owned, nil
}

type getAnalysisRunOptions struct {
	kube           kubeOptions
	name           string
	watch, noColor bool
	output         string
	timeout        time.Duration
	interval       time.Duration
}

func newGetAnalysisRunCommand() *cobra.Command {
	o := &getAnalysisRunOptions{}
	cmd := &cobra.Command{
		Use:     "analysisrun NAME",
		Aliases: []string{"ar", "analysisruns"},
		Short:   "Show an AnalysisRun: its phase, arguments and every metric with its kept measurements",
		Long: `get analysisrun shows an AnalysisRun's phase and message, the Rollout that created it, its
arguments (a plain value as it is; a secretKeyRef as secret:NAME/KEY, never the Secret's value),
the run and dry-run summaries, and for every metric: the provider and its query (header values
and credentials left out), successCondition and failureCondition, the schedule (count,
interval, initialDelay), the limits (with Argo's defaults for unset ones), the counters and each
kept measurement (time, phase, value, message).

--watch redraws in place on a terminal until the run finishes (q or Ctrl-C quits).`,
		Example: `  sluice get analysisrun my-rollout-6d4f8b9c7-2-1
  sluice get ar my-rollout-6d4f8b9c7-2-1 -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			switch o.output {
			case "", "json", "yaml":
			default:
				return fmt.Errorf("unknown output format %q (use json or yaml)", o.output)
			}
			if o.timeout < 0 {
				return fmt.Errorf("--timeout must not be negative, got %s", o.timeout)
			}
			if err := o.kube.complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.ValidArgsFunction = completeAnalysisRuns(&o.kube)
	o.kube.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.watch, "watch", "w", false, "keep watching and redraw on every change, until the run finishes")
	f.BoolVar(&o.noColor, "no-color", false, "no colors (also: $NO_COLOR; colors are only used on a terminal)")
	f.StringVarP(&o.output, "output", "o", "", "output format: json or yaml (the computed view, see docs/cli.md)")
	f.DurationVar(&o.timeout, "timeout", 0, "with --watch: stop after this long (0: until the run finishes or interrupted)")
	f.DurationVar(&o.interval, "interval", time.Second, "with --watch: how often to refresh")
	_ = f.MarkHidden("interval")
	return cmd
}

func (o *getAnalysisRunOptions) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	opts := view.Options{Color: o.output == "" && useColor(out, o.noColor)}
	key := types.NamespacedName{Namespace: o.kube.ns, Name: o.name}
	render := func(ctx context.Context) (string, bool, error) {
		info, err := AnalysisRunInfo(ctx, o.kube.client, key, time.Now())
		if err != nil {
			return "", false, err
		}
		done := v1alpha1.AnalysisPhase(info.Phase).Completed()
		if o.output != "" {
			s, err := encodeView(info, o.output)
			return s, done, err
		}
		return view.AnalysisRunDetail(info, opts), done, nil
	}
	return show(ctx, in, out, o.watch, o.timeout, o.interval, o.output != "", render)
}

// AnalysisRunInfo reads an AnalysisRun and builds the view of it.
func AnalysisRunInfo(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) (*view.AnalysisRunInfo, error) {
	run := &v1alpha1.AnalysisRun{}
	if err := c.Get(ctx, key, run); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("analysisrun %q not found in namespace %q", key.Name, key.Namespace)
		}
		return nil, fmt.Errorf("reading analysisrun %q: %w", key.Name, err)
	}
	info := view.BuildAnalysisRun(run, now)
	return &info, nil
}

// completeAnalysisRuns completes an AnalysisRun name argument from the cluster.
func completeAnalysisRuns(k *kubeOptions) cobra.CompletionFunc {
	return completeNames(k, func() client.ObjectList { return &v1alpha1.AnalysisRunList{} })
}
