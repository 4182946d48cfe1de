package view

import (
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// List renders the table of `sluice list rollouts`: Argo's columns plus ACTUAL, the share of
// requests the canary really gets (pod ratio without a router, the router's weight with one).
// withNamespace adds a NAMESPACE column (-A).
func List(ros []v1alpha1.Rollout, withNamespace bool, o Options) string {
	header := []string{"NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "ACTUAL", "READY", "DESIRED", "UP-TO-DATE", "AVAILABLE"}
	if withNamespace {
		header = append([]string{"NAMESPACE"}, header...)
	}
	rows := make([][]string, 0, 1+len(ros))
	rows = append(rows, header)
	for i := range ros {
		ro := &ros[i]
		phase, _ := Phase(ro)
		p := string(phase)
		if p == "" {
			p = "Unknown"
		}
		strategy, step, setW, actual := "", "-", "-", "-"
		switch {
		case ro.Spec.Strategy.Canary != nil:
			strategy = "Canary"
			c := ro.Spec.Strategy.Canary
			var w int32
			switch {
			case ro.Status.Abort:
			case promoted(ro):
				w = 100
			default:
				idx := int32(0)
				if ro.Status.CurrentStepIndex != nil {
					idx = *ro.Status.CurrentStepIndex
				}
				w = plan.WeightAt(c.Steps, idx, 100)
			}
			setW = strconv.Itoa(int(w))
			if ro.Status.CurrentStepIndex != nil && len(c.Steps) > 0 {
				step = strconv.Itoa(int(*ro.Status.CurrentStepIndex)) + "/" + strconv.Itoa(len(c.Steps))
			}
			actual = actualWeight(ro)
		case ro.Spec.Strategy.BlueGreen != nil:
			strategy = "BlueGreen"
		}
		st := ro.Status
		row := []string{
			ro.Name, strategy, o.paint(p, statusIcon(p)+" "+p), step, setW, actual,
			strconv.Itoa(int(st.ReadyReplicas)) + "/" + strconv.Itoa(int(replicasOf(ro))),
			strconv.Itoa(int(replicasOf(ro))), strconv.Itoa(int(st.UpdatedReplicas)), strconv.Itoa(int(st.AvailableReplicas)),
		}
		if withNamespace {
			row = append([]string{ro.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	if len(ros) == 0 {
		return "No Rollouts found.\n"
	}
	return strings.Join(columns(rows), "\n") + "\n"
}

// actualWeight is the canary's effective share from the Rollout alone: the router's weight
// with trafficRouting, otherwise the controller's sluice.dev/effective-canary-weight
// annotation (the pod ratio; absent when fully promoted), or Argo's formula from status.
func actualWeight(ro *v1alpha1.Rollout) string {
	c := ro.Spec.Strategy.Canary
	if promoted(ro) {
		return "100"
	}
	if tr := c.TrafficRouting; tr != nil {
		if ro.Status.Canary.Weights == nil {
			return "0"
		}
		maxW := int32(100)
		if tr.MaxTrafficWeight != nil && *tr.MaxTrafficWeight > 0 {
			maxW = *tr.MaxTrafficWeight
		}
		return strconv.FormatFloat(plan.SharePercent(ro.Status.Canary.Weights.Canary.Weight, maxW), 'f', -1, 64)
	}
	if v := ro.Annotations[AnnotationEffectiveWeight]; v != "" {
		return v
	}
	return "-"
}

// AnnotationEffectiveWeight is the annotation in which the controller records the canary's
// real share of pods (v1alpha1.AnnotationEffectiveCanaryWeight).
const AnnotationEffectiveWeight = v1alpha1.AnnotationEffectiveCanaryWeight
