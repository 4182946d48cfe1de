package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
)

type getExperimentOptions struct {
	kube           kubeOptions
	name           string
	watch, noColor bool
	output         string
	timeout        time.Duration
	interval       time.Duration
}

func newGetExperimentCommand() *cobra.Command {
	o := &getExperimentOptions{}
	cmd := &cobra.Command{
		Use:     "experiment NAME",
		Aliases: []string{"exp", "experiments"},
		Short:   "Show an Experiment: its phase, templates, ReplicaSets and pods, and its AnalysisRuns",
		Long: `get experiment shows an Experiment's phase and message, the Rollout and step that created it,
its duration (and the time left once its templates are available), every template's status and
Service, and the tree Experiment → ReplicaSets → pods and AnalysisRuns → metrics
('sluice get analysisrun NAME' shows a run's measurements).

--watch redraws in place on a terminal until the experiment ends (q or Ctrl-C quits).`,
		Example: `  sluice get experiment baseline-vs-canary
  sluice get exp my-rollout-6d4f8b9c7-2-1 -o yaml`,
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
	cmd.ValidArgsFunction = completeNames(&o.kube, func() client.ObjectList { return &v1alpha1.ExperimentList{} })
	o.kube.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVarP(&o.watch, "watch", "w", false, "keep watching and redraw on every change, until the experiment ends")
	f.BoolVar(&o.noColor, "no-color", false, "no colors (also: $NO_COLOR; colors are only used on a terminal)")
	f.StringVarP(&o.output, "output", "o", "", "output format: json or yaml (the computed view, see docs/cli.md)")
	f.DurationVar(&o.timeout, "timeout", 0, "with --watch: stop after this long (0: until the experiment ends or interrupted)")
	f.DurationVar(&o.interval, "interval", time.Second, "with --watch: how often to refresh")
	_ = f.MarkHidden("interval")
	return cmd
}

func (o *getExperimentOptions) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	opts := view.Options{Color: o.output == "" && useColor(out, o.noColor)}
	key := types.NamespacedName{Namespace: o.kube.ns, Name: o.name}
	render := func(ctx context.Context) (string, bool, error) {
		info, err := ExperimentInfo(ctx, o.kube.client, key, time.Now())
		if err != nil {
			return "", false, err
		}
		done := v1alpha1.AnalysisPhase(info.Phase).Completed()
		if o.output != "" {
			s, err := encodeView(info, o.output)
			return s, done, err
		}
		return view.ExperimentDetail(info, opts), done, nil
	}
	return show(ctx, in, out, o.watch, o.timeout, o.interval, o.output != "", render)
}

// ExperimentInfo reads an Experiment with its ReplicaSets, their pods and its AnalysisRuns, and
// builds the view of it.
func ExperimentInfo(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) (*view.ExperimentInfo, error) {
	ex := &v1alpha1.Experiment{}
	if err := c.Get(ctx, key, ex); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("experiment %q not found in namespace %q", key.Name, key.Namespace)
		}
		return nil, fmt.Errorf("reading experiment %q: %w", key.Name, err)
	}
	in, err := experimentInput(ctx, c, ex, now)
	if err != nil {
		return nil, err
	}
	info := view.BuildExperiment(in)
	return &info, nil
}

// experimentInput gathers what an Experiment owns: its ReplicaSets, their pods, its
// AnalysisRuns.
func experimentInput(ctx context.Context, c client.Client, ex *v1alpha1.Experiment, now time.Time) (view.ExperimentInput, error) {
	in := view.ExperimentInput{Experiment: ex, Now: now}
	var rsList appsv1.ReplicaSetList
	if err := c.List(ctx, &rsList, client.InNamespace(ex.Namespace)); err != nil {
		return in, fmt.Errorf("listing ReplicaSets: %w", err)
	}
	for _, rs := range rsList.Items {
		if ref := metav1.GetControllerOf(&rs); ref == nil || ref.UID != ex.UID {
			continue
		}
		in.ReplicaSets = append(in.ReplicaSets, rs)
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil {
			continue
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ex.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return in, fmt.Errorf("listing pods: %w", err)
		}
		for _, p := range pods.Items {
			if !slices.ContainsFunc(in.Pods, func(q corev1.Pod) bool { return q.UID == p.UID }) {
				in.Pods = append(in.Pods, p)
			}
		}
	}
	var runs v1alpha1.AnalysisRunList
	if err := c.List(ctx, &runs, client.InNamespace(ex.Namespace)); err != nil && !meta.IsNoMatchError(err) {
		return in, fmt.Errorf("listing AnalysisRuns: %w", err)
	}
	for _, run := range runs.Items {
		if ref := metav1.GetControllerOf(&run); ref != nil && ref.UID == ex.UID {
			in.AnalysisRuns = append(in.AnalysisRuns, run)
		}
	}
	return in, nil
}

// ownedExperiments gathers the Experiments a Rollout owns, with their objects.
func ownedExperiments(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, now time.Time) ([]view.ExperimentInput, error) {
	var list v1alpha1.ExperimentList
	if err := c.List(ctx, &list, client.InNamespace(ro.Namespace)); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil // no Experiment CRD in this cluster
		}
		return nil, fmt.Errorf("listing Experiments: %w", err)
	}
	var out []view.ExperimentInput
	for i := range list.Items {
		ex := &list.Items[i]
		if ref := metav1.GetControllerOf(ex); ref == nil || ref.UID != ro.UID {
			continue
		}
		in, err := experimentInput(ctx, c, ex, now)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}
