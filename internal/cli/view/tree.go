package view

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Tree renders a RolloutInfo as `sluice get rollout` prints it: a summary, then the tree
// Rollout → revisions → ReplicaSets → pods. Lines end with "\n".
func Tree(info *RolloutInfo, o Options) string {
	var b strings.Builder
	summary := [][]string{
		{"Name:", info.Name},
		{"Namespace:", info.Namespace},
		{"Status:", o.paint(info.Phase, statusIcon(info.Phase)+" "+info.Phase)},
	}
	if info.Message != "" {
		summary = append(summary, []string{"Message:", info.Message})
	}
	if info.Strategy != "" {
		summary = append(summary, []string{"Strategy:", info.Strategy})
	}
	if info.Step != "" {
		summary = append(summary, []string{"  Step:", info.Step})
	}
	if info.CurrentStep != "" {
		cur := info.CurrentStep
		if info.PauseLeft != "" {
			if info.PauseLeft == "until promoted" {
				cur += " (waits for 'promote')"
			} else {
				cur += " (" + info.PauseLeft + " left)"
			}
		}
		summary = append(summary, []string{"  Running:", cur})
	}
	if info.NextStep != "" {
		summary = append(summary, []string{"  Next:", info.NextStep})
	}
	if bg := info.BlueGreen; bg != nil {
		summary = append(summary, []string{"  ActiveService:", serviceTarget(bg.ActiveService, bg.ActiveSelector, info.Revisions)})
		if bg.PreviewService != "" {
			summary = append(summary, []string{"  PreviewService:", serviceTarget(bg.PreviewService, bg.PreviewSelector, info.Revisions)})
		}
	}
	if info.SetWeight != nil {
		summary = append(summary, []string{"  SetWeight:", strconv.Itoa(int(*info.SetWeight))})
	}
	if info.ActualWeight != nil {
		aw := strconv.FormatFloat(*info.ActualWeight, 'f', -1, 64)
		if info.SetWeight != nil && *info.ActualWeight != float64(*info.SetWeight) && info.Traffic.Source == "pods" {
			aw = o.paint("warning", aw)
		}
		summary = append(summary, []string{"  ActualWeight:", aw})
	}
	if info.Traffic.Summary != "" {
		summary = append(summary, []string{"  Traffic:", info.Traffic.Summary})
		if info.Traffic.Why != "" {
			summary = append(summary, []string{"", o.paint("faint", info.Traffic.Why)})
		}
	}
	summary = append(summary, analysisSummary(info.Analysis, o)...)
	for i, img := range info.Images {
		label := ""
		if i == 0 {
			label = "Images:"
		}
		s := img.Image
		if len(img.Tags) > 0 {
			s += " (" + strings.Join(img.Tags, ", ") + ")"
		}
		summary = append(summary, []string{label, s})
	}
	r := info.Replicas
	summary = append(summary,
		[]string{"Replicas:", ""},
		[]string{"  Desired:", strconv.Itoa(int(r.Desired))},
		[]string{"  Current:", strconv.Itoa(int(r.Current))},
		[]string{"  Updated:", strconv.Itoa(int(r.Updated))},
		[]string{"  Ready:", strconv.Itoa(int(r.Ready))},
		[]string{"  Available:", strconv.Itoa(int(r.Available))},
	)
	for _, l := range columns(summary) {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")

	rows := make([][]string, 0, 2+len(info.Revisions))
	rows = append(rows,
		[]string{"NAME", "KIND", "STATUS", "AGE", "INFO"},
		[]string{IconRollout + " " + info.Name, "Rollout", o.paint(info.Phase, statusIcon(info.Phase)+" "+info.Phase), info.Age, ""},
	)
	for ri, rev := range info.Revisions {
		lastRev := ri == len(info.Revisions)-1
		branch, cont := "├──", "│  "
		if lastRev {
			branch, cont = "└──", "   "
		}
		rows = append(rows, []string{fmt.Sprintf("%s%s revision:%d", branch, IconRevision, rev.Number), "", "", "", ""})
		rows = append(rows, replicaSetTreeRows(rev, cont, o)...)
		rows = append(rows, analysisRunRows(rev.AnalysisRuns, cont, len(rev.Experiments) > 0, o)...)
		for ei := range rev.Experiments {
			b2, c2 := "├──", "│  "
			if ei == len(rev.Experiments)-1 {
				b2, c2 = "└──", "   "
			}
			rows = append(rows, experimentRows(&rev.Experiments[ei], cont+b2, cont+c2, o)...)
		}
	}
	for _, l := range columns(rows) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// replicaSetTreeRows are the tree rows of a revision's ReplicaSets and their pods, indented by
// cont.
func replicaSetTreeRows(rev Revision, cont string, o Options) [][]string {
	var rows [][]string
	for si, rs := range rev.ReplicaSets {
		lastRS := si == len(rev.ReplicaSets)-1 && len(rev.AnalysisRuns) == 0 && len(rev.Experiments) == 0
		b2, c2 := "├──", "│  "
		if lastRS {
			b2, c2 = "└──", "   "
		}
		infoCol := append([]string{}, rs.Tags...)
		if rs.ScaleDownDelay != "" {
			infoCol = append(infoCol, "delay:"+rs.ScaleDownDelay)
		}
		// Blue-green: the active tag says who gets the requests (all of them).
		if rs.TrafficFrom != "activeService" && rs.TrafficFrom != TrafficFromExperiment && (rs.Current > 0 || rs.Traffic > 0) {
			src := "of pods"
			if rs.TrafficFrom == "router" {
				src = "by router"
			}
			infoCol = append(infoCol, fmt.Sprintf("traffic %s %s", pct(rs.Traffic), src))
		}
		rows = append(rows, []string{
			cont + b2 + IconReplicaSet + " " + rs.Name, "ReplicaSet",
			o.paint(rs.Status, statusIcon(rs.Status)+" "+rs.Status), rs.Age, strings.Join(infoCol, ", "),
		})
		for pi, p := range rs.Pods {
			b3 := "├──"
			if pi == len(rs.Pods)-1 {
				b3 = "└──"
			}
			pinfo := "ready:" + p.Ready
			if p.Restarts > 0 {
				pinfo += fmt.Sprintf(",restarts:%d", p.Restarts)
			}
			rows = append(rows, []string{
				cont + c2 + b3 + IconPod + " " + p.Name, "Pod",
				o.paint(p.Status, statusIcon(p.Status)+" "+p.Status), p.Age, pinfo,
			})
		}
	}
	return rows
}

// analysisRunRows are the tree rows of a revision's AnalysisRuns and their metrics, indented
// by cont; more: further rows of the revision follow (experiments).
func analysisRunRows(runs []AnalysisRunRow, cont string, more bool, o Options) [][]string {
	var rows [][]string
	for ai, ar := range runs {
		b2, c2 := "├──", "│  "
		if ai == len(runs)-1 && !more {
			b2, c2 = "└──", "   "
		}
		info := []string{runType(ar.Type)}
		if c := counts(ar.Successful, ar.Failed, ar.Inconclusive, ar.Error); c != "" {
			info = append(info, c)
		}
		rows = append(rows, []string{
			cont + b2 + IconAnalysisRun + " " + ar.Name, "AnalysisRun",
			o.paint(ar.Phase, analysisIcon(ar.Phase)+" "+ar.Phase), ar.Age, strings.Join(slices.DeleteFunc(info, func(s string) bool { return s == "" }), ", "),
		})
		for mi, m := range ar.Metrics {
			b3 := "├──"
			if mi == len(ar.Metrics)-1 {
				b3 = "└──"
			}
			rows = append(rows, []string{
				cont + c2 + b3 + m.Name, "Metric", o.paint(m.Phase, analysisIcon(m.Phase)+" "+m.Phase), "", metricInfo(m),
			})
		}
	}
	return rows
}

// analysisSummary are the summary lines of the runs status.canary names.
func analysisSummary(runs []AnalysisStatus, o Options) [][]string {
	lines := make([][]string, 0, len(runs))
	for i, a := range runs {
		label := ""
		if i == 0 {
			label = "  Analysis:"
		}
		s := fmt.Sprintf("%s (%s) %s", a.Name, runType(a.Type), o.paint(a.Phase, analysisIcon(a.Phase)+" "+a.Phase))
		if a.Message != "" {
			s += ": " + Shorten(a.Message, 100)
		}
		lines = append(lines, []string{label, s})
	}
	return lines
}

// runType is how the tree names an AnalysisRun's rollout-type: step, background,
// pre-promotion, post-promotion.
func runType(t string) string {
	switch t {
	case "PrePromotion":
		return "pre-promotion"
	case "PostPromotion":
		return "post-promotion"
	}
	return strings.ToLower(t)
}

// serviceTarget is a Service and the version it selects: "my-app-active → 5c7b9d8f6 (revision 1)".
func serviceTarget(svc, hash string, revs []Revision) string {
	if hash == "" {
		return svc + " → no version yet"
	}
	for _, rev := range revs {
		for _, rs := range rev.ReplicaSets {
			if rs.Hash == hash {
				return fmt.Sprintf("%s → %s (revision %d)", svc, hash, rev.Number)
			}
		}
	}
	return svc + " → " + hash
}
