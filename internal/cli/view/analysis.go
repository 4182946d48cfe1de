package view

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/plan"
)

// IconAnalysisRun is Argo's icon for an AnalysisRun in the tree; IconWarning marks an Error.
const (
	IconAnalysisRun = "α"
	IconWarning     = "⚠"
)

// AnalysisRunRow is one AnalysisRun of the tree, under the revision it measures.
type AnalysisRunRow struct {
	Name string `json:"name"`
	// Type is the rollout-type label (Step, Background, PrePromotion, PostPromotion);
	// StepIndex the step-index label.
	Type      string `json:"type,omitempty"`
	StepIndex *int32 `json:"stepIndex,omitempty"`
	Phase     string `json:"phase"`
	Message   string `json:"message,omitempty"`
	Age       string `json:"age,omitempty"`
	// Successful … Error count the measurements of all metrics (Argo's ✔ 3 ✖ 1).
	Successful   int32       `json:"successful,omitempty"`
	Failed       int32       `json:"failed,omitempty"`
	Inconclusive int32       `json:"inconclusive,omitempty"`
	Error        int32       `json:"error,omitempty"`
	Metrics      []MetricRow `json:"metrics,omitempty"`
	revision     int64
	created      time.Time
}

// MetricRow is one metric of an AnalysisRun: its phase, its counters and its last measurement.
type MetricRow struct {
	Name         string          `json:"name"`
	Phase        string          `json:"phase"`
	Message      string          `json:"message,omitempty"`
	DryRun       bool            `json:"dryRun,omitempty"`
	Count        int32           `json:"count,omitempty"`
	Successful   int32           `json:"successful,omitempty"`
	Failed       int32           `json:"failed,omitempty"`
	Inconclusive int32           `json:"inconclusive,omitempty"`
	Error        int32           `json:"error,omitempty"`
	Last         *MeasurementRow `json:"last,omitempty"`
}

// MeasurementRow is one measurement.
type MeasurementRow struct {
	Phase      string `json:"phase"`
	Value      string `json:"value,omitempty"`
	Message    string `json:"message,omitempty"`
	StartedAt  string `json:"startedAt,omitempty"`
	FinishedAt string `json:"finishedAt,omitempty"`
}

// analysisPhase is the phase shown for a run, metric or measurement ("Pending" before the
// controller wrote one).
func analysisPhase(p v1alpha1.AnalysisPhase) string {
	if p == "" {
		return string(v1alpha1.AnalysisPhasePending)
	}
	return string(p)
}

// analysisIcon is Argo's icon for an analysis phase.
func analysisIcon(phase string) string {
	switch phase {
	case "Successful":
		return IconOK
	case "Failed":
		return IconBad
	case "Error":
		return IconWarning
	case "Inconclusive":
		return IconUnknown
	case "Running", "Pending":
		return IconProgressing
	}
	return IconUnknown
}

func timeString(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func measurementRow(m *v1alpha1.Measurement) MeasurementRow {
	return MeasurementRow{
		Phase: analysisPhase(m.Phase), Value: m.Value, Message: m.Message,
		StartedAt: timeString(m.StartedAt), FinishedAt: timeString(m.FinishedAt),
	}
}

func metricRow(r *v1alpha1.MetricResult, dry bool) MetricRow {
	row := MetricRow{
		Name: r.Name, Phase: analysisPhase(r.Phase), Message: r.Message, DryRun: dry || r.DryRun,
		Count: r.Count, Successful: r.Successful, Failed: r.Failed, Inconclusive: r.Inconclusive, Error: r.Error,
	}
	if n := len(r.Measurements); n > 0 {
		last := measurementRow(&r.Measurements[n-1])
		row.Last = &last
	}
	return row
}

// metricRows lists a run's metrics in spec order: measured ones with their results, the others
// Pending.
func metricRows(run *v1alpha1.AnalysisRun) []MetricRow {
	dry := analysis.DryRunMetrics(run)
	var rows []MetricRow
	seen := map[string]bool{}
	for _, m := range run.Spec.Metrics {
		seen[m.Name] = true
		i := slices.IndexFunc(run.Status.MetricResults, func(r v1alpha1.MetricResult) bool { return r.Name == m.Name })
		if i < 0 {
			rows = append(rows, MetricRow{Name: m.Name, Phase: string(v1alpha1.AnalysisPhasePending), DryRun: dry[m.Name]})
			continue
		}
		rows = append(rows, metricRow(&run.Status.MetricResults[i], dry[m.Name]))
	}
	for i := range run.Status.MetricResults {
		if r := &run.Status.MetricResults[i]; !seen[r.Name] {
			rows = append(rows, metricRow(r, dry[r.Name]))
		}
	}
	return rows
}

// AnalysisRunRowOf is the tree row of an AnalysisRun.
func AnalysisRunRowOf(run *v1alpha1.AnalysisRun, now time.Time) AnalysisRunRow {
	row := AnalysisRunRow{
		Name: run.Name, Type: run.Labels[v1alpha1.LabelRolloutType], Phase: analysisPhase(run.Status.Phase),
		Message: run.Status.Message, Age: Age(run.CreationTimestamp, now), Metrics: metricRows(run),
		created: run.CreationTimestamp.Time,
	}
	if v, err := strconv.ParseInt(run.Labels[v1alpha1.LabelStepIndex], 10, 32); err == nil {
		i := int32(v)
		row.StepIndex = &i
	}
	for _, m := range row.Metrics {
		row.Successful += m.Successful
		row.Failed += m.Failed
		row.Inconclusive += m.Inconclusive
		row.Error += m.Error
	}
	return row
}

// runRevision is the revision an AnalysisRun measures: its rollout.argoproj.io/revision
// annotation, else the revision of the ReplicaSet with its pod-template hash.
func runRevision(run *v1alpha1.AnalysisRun, rows []ReplicaSetRow) int64 {
	if v, err := strconv.ParseInt(run.Annotations[v1alpha1.AnnotationRevision], 10, 64); err == nil {
		return v
	}
	h := run.Labels[v1alpha1.LabelPodTemplateHash]
	for _, r := range rows {
		if h != "" && r.Hash == h {
			return r.revision
		}
	}
	return 0
}

// addAnalysisRuns puts each run under its revision (a revision whose ReplicaSets are gone
// still shows its runs), newest run first, and keeps the revisions newest first.
func addAnalysisRuns(revs []Revision, runs []v1alpha1.AnalysisRun, rows []ReplicaSetRow, now time.Time) []Revision {
	for i := range runs {
		r := AnalysisRunRowOf(&runs[i], now)
		r.revision = runRevision(&runs[i], rows)
		j := slices.IndexFunc(revs, func(v Revision) bool { return v.Number == r.revision })
		if j < 0 {
			revs = append(revs, Revision{Number: r.revision})
			j = len(revs) - 1
		}
		revs[j].AnalysisRuns = append(revs[j].AnalysisRuns, r)
	}
	for i := range revs {
		slices.SortFunc(revs[i].AnalysisRuns, func(a, b AnalysisRunRow) int {
			return cmp.Or(b.created.Compare(a.created), strings.Compare(a.Name, b.Name))
		})
	}
	slices.SortFunc(revs, func(a, b Revision) int { return cmp.Compare(b.Number, a.Number) })
	return revs
}

// AnalysisStatus is a run the Rollout's status names (status.canary.currentStepAnalysisRunStatus
// and currentBackgroundAnalysisRunStatus, status.blueGreen.prePromotionAnalysisRunStatus and
// postPromotionAnalysisRunStatus).
type AnalysisStatus struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
}

func analysisStatuses(ro *v1alpha1.Rollout) []AnalysisStatus {
	var out []AnalysisStatus
	for _, s := range []struct {
		typ string
		st  *v1alpha1.RolloutAnalysisRunStatus
	}{
		{v1alpha1.RolloutTypeStep, ro.Status.Canary.CurrentStepAnalysisRunStatus},
		{v1alpha1.RolloutTypeBackground, ro.Status.Canary.CurrentBackgroundAnalysisRunStatus},
		{v1alpha1.RolloutTypePrePromotion, ro.Status.BlueGreen.PrePromotionAnalysisRunStatus},
		{v1alpha1.RolloutTypePostPromotion, ro.Status.BlueGreen.PostPromotionAnalysisRunStatus},
	} {
		if s.st != nil {
			out = append(out, AnalysisStatus{Type: s.typ, Name: s.st.Name, Phase: analysisPhase(s.st.Status), Message: s.st.Message})
		}
	}
	return out
}

// TemplateNames lists an analysis's templates, a ClusterAnalysisTemplate marked "(cluster)".
func TemplateNames(a *v1alpha1.RolloutAnalysis) string {
	names := make([]string, 0, len(a.Templates))
	for _, t := range a.Templates {
		n := t.TemplateName
		if t.ClusterScope {
			n += " (cluster)"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// describeStep is plan.DescribeStep with the templates of an analysis step.
func describeStep(s *v1alpha1.CanaryStep) string {
	if s.Analysis != nil {
		return "analysis: templates " + TemplateNames(s.Analysis)
	}
	return plan.DescribeStep(s)
}

// counts renders measurement counts as Argo's plugin does: "✔ 3 ✖ 1 ? 1 ⚠ 2", zeros left out.
func counts(successful, failed, inconclusive, errs int32) string {
	var parts []string
	for _, c := range []struct {
		icon string
		n    int32
	}{{IconOK, successful}, {IconBad, failed}, {IconUnknown, inconclusive}, {IconWarning, errs}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.icon, c.n))
		}
	}
	return strings.Join(parts, " ")
}

// Shorten cuts s to n runes with "…", on one line.
func Shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// metricInfo is a metric's INFO column: counts, then the last measurement's value and message.
func metricInfo(m MetricRow) string {
	var parts []string
	if m.DryRun {
		parts = append(parts, "dry-run")
	}
	if c := counts(m.Successful, m.Failed, m.Inconclusive, m.Error); c != "" {
		parts = append(parts, c)
	}
	if l := m.Last; l != nil {
		s := "last"
		switch {
		case l.Phase == string(v1alpha1.AnalysisPhaseRunning):
			s += " measuring…"
		case l.Value != "":
			s += " " + l.Value
		default:
			s += " " + strings.ToLower(l.Phase)
		}
		msg := l.Message
		if msg == "" && m.Message != "" && m.Message != l.Message {
			msg = m.Message
		}
		if msg != "" {
			s += ": " + msg
		}
		parts = append(parts, s)
	} else if m.Message != "" {
		parts = append(parts, m.Message)
	}
	return Shorten(strings.Join(parts, ", "), 100)
}
