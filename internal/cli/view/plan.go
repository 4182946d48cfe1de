package view

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// ExactReplicasLimit is the largest replica count `sluice plan` suggests.
const ExactReplicasLimit = 100

// PlanInput is one Rollout's dry run for `sluice plan`.
type PlanInput struct {
	Name     string
	Replicas int32
	Canary   *v1alpha1.CanaryStrategy
}

// PlanTable renders the step table of `sluice plan`: for every step the requested weight, the
// canary, stable and total pods and the canary's share of requests, without a router (pod
// ratio) and with one (exact weight); then one warning per setWeight step the pod ratio does
// not honour (when the Rollout has no router) and the smallest replica count that makes every
// step exact.
func PlanTable(in PlanInput, o Options) string {
	c := in.Canary
	rows := plan.SimulateSteps(c, in.Replicas)
	surge, unavail := plan.Fenceposts(in.Replicas, c.MaxSurge, c.MaxUnavailable)
	router := routerName(c.TrafficRouting)
	var b strings.Builder
	mode := "no trafficRouting: the canary gets its share of the pods (left columns)"
	if router != "" {
		mode = "trafficRouting (" + router + "): the canary gets exactly the weight (right columns)"
	}
	fmt.Fprintf(&b, "Rollout %s: %d replicas, maxSurge %d, maxUnavailable %d, %s\n\n", in.Name, in.Replicas, surge, unavail, mode)

	table := make([][]string, 0, 1+len(rows))
	table = append(table, []string{"STEP", "ACTION", "SETWEIGHT", "CANARY", "STABLE", "TOTAL", "SHARE", "CANARY", "STABLE", "TOTAL", "SHARE"})
	n := len(c.Steps)
	var pauses time.Duration
	indefinite, analyses := 0, 0
	for _, r := range rows {
		step := "-"
		if r.Index >= 0 && int(r.Index) < n {
			step = strconv.Itoa(int(r.Index) + 1)
		}
		action := r.Step
		if r.Index >= 0 && int(r.Index) < n && c.Steps[r.Index].Analysis != nil {
			action = "analysis: " + TemplateNames(c.Steps[r.Index].Analysis)
			analyses++
		}
		if r.Indefinite {
			action += " (until promoted)"
			indefinite++
		}
		pauses += r.Pause
		basicShare := pct(r.Basic.Share)
		if router == "" && !r.Exact() {
			basicShare = o.paint("warning", basicShare)
		}
		table = append(table, []string{
			step, action, strconv.Itoa(int(r.Weight)),
			itoa(r.Basic.Canary), itoa(r.Basic.Stable), itoa(r.Basic.Total()), basicShare,
			itoa(r.Routed.Canary), itoa(r.Routed.Stable), itoa(r.Routed.Total()), pct(r.Routed.Share),
		})
	}
	lines := columns(table)
	// A group header above the two halves, aligned on their first CANARY column.
	first := strings.Index(lines[0], "CANARY")
	second := first + 1 + strings.Index(lines[0][first+1:], "CANARY")
	left := "WITHOUT A ROUTER (pod ratio)"
	group := strings.Repeat(" ", first) + left + strings.Repeat(" ", max(second-first-len(left), 1)) + "WITH A ROUTER (exact weight)"
	b.WriteString(group + "\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")

	switch {
	case indefinite > 0 && pauses > 0:
		fmt.Fprintf(&b, "Pauses: %s of timed pauses, and %d pause(s) that wait for 'sluice promote'.\n", pauses, indefinite)
	case indefinite > 0:
		fmt.Fprintf(&b, "Pauses: %d pause(s) that wait for 'sluice promote'.\n", indefinite)
	case pauses > 0:
		fmt.Fprintf(&b, "Pauses: %s in total.\n", pauses)
	}
	b.WriteString(planAnalysis(c, analyses))
	exact, ok := plan.ExactReplicas(c.Steps, ExactReplicasLimit)
	inexact := 0
	for _, r := range rows {
		if !r.SetWeight || r.Exact() {
			continue
		}
		inexact++
		if router != "" {
			continue
		}
		fix := "add trafficRouting"
		if ok {
			fix += fmt.Sprintf(", or use %d replicas", exact)
		}
		fmt.Fprintf(&b, "%s step %d: setWeight %d → %s of pods (%d canary of %d): %s for an exact %d %%\n",
			o.paint("warning", "warning:"), r.Index+1, r.Weight, pct(r.Basic.Share), r.Basic.Canary, r.Basic.Total(), fix, r.Weight)
	}
	switch {
	case inexact == 0:
		b.WriteString("Every setWeight step is exact with the pod ratio alone.\n")
	case router != "":
		fmt.Fprintf(&b, "With %s every step is exact; without a router %d setWeight step(s) would not be.\n", router, inexact)
	case ok:
		fmt.Fprintf(&b, "suggestion: replicas: %d is the smallest count that makes every setWeight step exact without a router.\n", exact)
		if exact < in.Replicas {
			up := (in.Replicas + exact - 1) / exact * exact
			fmt.Fprintf(&b, "            (%d is the smallest such count at or above your %d replicas.)\n", up, in.Replicas)
		}
	default:
		fmt.Fprintf(&b, "suggestion: no replica count up to %d makes every setWeight step exact: only trafficRouting can.\n", ExactReplicasLimit)
	}
	return b.String()
}

func itoa(v int32) string { return strconv.Itoa(int(v)) }

// planAnalysis describes the analysis steps and the background analysis: what the Rollout
// waits for, and what a Failed, Error or Inconclusive run does.
func planAnalysis(c *v1alpha1.CanaryStrategy, steps int) string {
	if steps == 0 && c.Analysis == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("Analysis:\n")
	for i := range c.Steps {
		if a := c.Steps[i].Analysis; a != nil {
			fmt.Fprintf(&b, "  step %d: templates %s: waits for the AnalysisRun; Successful goes on, Failed/Error aborts, Inconclusive pauses until promoted\n",
				i+1, TemplateNames(a))
		}
	}
	if bg := c.Analysis; bg != nil {
		from := "from the start of the update"
		if bg.StartingStep != nil && *bg.StartingStep > 0 {
			from = fmt.Sprintf("from step %d (startingStep: %d)", *bg.StartingStep+1, *bg.StartingStep)
		}
		fmt.Fprintf(&b, "  background: templates %s, %s until promotion, next to the steps; Failed/Error aborts, Inconclusive pauses until promoted\n",
			TemplateNames(&bg.RolloutAnalysis), from)
	}
	return b.String()
}
