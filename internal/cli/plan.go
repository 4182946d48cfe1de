package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli/view"
	"github.com/sluicehq/sluice/internal/rolloutspec"
)

type planOptions struct {
	files    []string
	replicas int32
	noColor  bool
}

func (o *planOptions) Validate() error {
	if len(o.files) == 0 {
		return fmt.Errorf("no file: give the Rollout manifest with -f FILE (- for stdin)")
	}
	if o.replicas < 0 {
		return fmt.Errorf("--replicas must not be negative, got %d", o.replicas)
	}
	return nil
}

func newPlanCommand() *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Show, offline, what every step of a rollout will run and the traffic share it gives",
		Long: `plan reads Rollouts from a file (no cluster needed) and computes, with the controller's own
planner (internal/plan), where the update settles at every canary step: the requested weight,
the canary, stable and total pods (more than replicas when a surge pod is used, or while a
router keeps the stable ReplicaSet at full size) and the share of requests the canary gets:

  without a router: its share of the pods, since a Service spreads requests by pod count;
  with a router:    exactly the weight (NGINX, Istio, SMI, ALB, Gateway API).

Without trafficRouting it warns about every setWeight step the pod ratio cannot honour and
suggests the smallest replica count that makes every step exact.

For a blue-green Rollout it shows the stages of an update instead: the preview
(previewReplicaCount or every pod, behind the preview Service), the pre-promotion analysis,
the pause (autoPromotionEnabled: false until promoted, or autoPromotionSeconds), the scale-up
to full size, the cut-over of the active Service (only once every new pod is available), the
post-promotion analysis and the old version's scale-down after scaleDownDelaySeconds, with the
new and old pods and the version each Service selects; then what promote, promote --full and
abort do.`,
		Example: `  sluice plan -f examples/rollout-basic.yaml
  sluice plan -f rollout.yaml --replicas 10
  sluice plan -f examples/bluegreen/rollout.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "manifest file(s) with Rollouts (- for stdin)")
	f.Int32Var(&o.replicas, "replicas", 0, "plan for this many replicas instead of spec.replicas")
	f.BoolVar(&o.noColor, "no-color", false, "no colors")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

func (o *planOptions) Run(in io.Reader, out io.Writer) error {
	docs, err := readManifests(o.files, in)
	if err != nil {
		return err
	}
	opts := view.Options{Color: useColor(out, o.noColor)}
	n := 0
	for _, d := range docs {
		if d.Kind != "Rollout" {
			continue
		}
		ro := &v1alpha1.Rollout{}
		if err := yaml.UnmarshalStrict(d.Raw, ro); err != nil {
			return fmt.Errorf("%s: Rollout %s: %w", d.Where, d.Name, err)
		}
		if n > 0 {
			if _, err := io.WriteString(out, "\n"); err != nil {
				return err
			}
		}
		n++
		replicas := int32(1)
		if ro.Spec.Replicas != nil {
			replicas = *ro.Spec.Replicas
		}
		if o.replicas > 0 {
			replicas = o.replicas
		}
		var s string
		switch {
		case ro.Spec.Strategy.Canary != nil:
			s = view.PlanTable(view.PlanInput{Name: ro.Name, Replicas: replicas, Canary: ro.Spec.Strategy.Canary}, opts)
		case ro.Spec.Strategy.BlueGreen != nil:
			s = view.BlueGreenPlanTable(view.BlueGreenPlanInput{Name: ro.Name, Replicas: replicas, BlueGreen: ro.Spec.Strategy.BlueGreen}, opts)
		default:
			s = fmt.Sprintf("Rollout %s: no strategy (spec.strategy.canary or blueGreen): nothing to plan\n", ro.Name)
		}
		if problems := rolloutspec.Problems(ro); len(problems) > 0 {
			s += "note: the sluice controller refuses this Rollout today (InvalidSpec): " + rolloutspec.Message(problems) + "\n"
		}
		if _, err := io.WriteString(out, s); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("no Rollout in %v", o.files)
	}
	return nil
}
