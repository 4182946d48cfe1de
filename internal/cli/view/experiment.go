package view

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// IconExperiment is Argo's icon for an Experiment in the tree.
const IconExperiment = "Σ"

// TrafficFromExperiment is the trafficFrom of an Experiment's ReplicaSets: no share is
// claimed for them (they get what their own Services, or a Service selecting their labels,
// send them).
const TrafficFromExperiment = "experiment"

// ExperimentInput is what an Experiment's view is built from: the Experiment, the
// ReplicaSets and AnalysisRuns it owns, and the pods of those ReplicaSets.
type ExperimentInput struct {
	Experiment   *v1alpha1.Experiment
	ReplicaSets  []appsv1.ReplicaSet
	Pods         []corev1.Pod
	AnalysisRuns []v1alpha1.AnalysisRun
	Now          time.Time
}

// ExperimentInfo is an Experiment as `sluice get experiment` shows it (and prints with -o
// json|yaml), and as the rollout tree shows it under its revision.
type ExperimentInfo struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Phase     string `json:"phase"`
	Message   string `json:"message,omitempty"`
	// Rollout owns the Experiment (an experiment step); Revision and StepIndex are its
	// rollout.argoproj.io/revision annotation and step-index label.
	Rollout   string `json:"rollout,omitempty"`
	Revision  string `json:"revision,omitempty"`
	StepIndex *int32 `json:"stepIndex,omitempty"`
	Age       string `json:"age,omitempty"`
	Terminate bool   `json:"terminate,omitempty"`
	// Duration is spec.duration; AvailableAt when all templates became available; Remaining
	// the time left of the duration while it runs.
	Duration     string           `json:"duration,omitempty"`
	AvailableAt  string           `json:"availableAt,omitempty"`
	Remaining    string           `json:"remaining,omitempty"`
	Images       []string         `json:"images,omitempty"`
	Templates    []TemplateRow    `json:"templates"`
	AnalysisRuns []AnalysisRunRow `json:"analysisRuns,omitempty"`
	revision     int64
	created      time.Time
}

// TemplateRow is one template of an Experiment: its status and its ReplicaSet.
type TemplateRow struct {
	Name       string         `json:"name"`
	Status     string         `json:"status"`
	Message    string         `json:"message,omitempty"`
	Service    string         `json:"service,omitempty"`
	ReplicaSet *ReplicaSetRow `json:"replicaSet,omitempty"`
}

// BuildExperiment computes the view of an Experiment from its objects.
func BuildExperiment(in ExperimentInput) ExperimentInfo {
	ex := in.Experiment
	info := ExperimentInfo{
		Name: ex.Name, Namespace: ex.Namespace, Phase: analysisPhase(ex.Status.Phase), Message: ex.Status.Message,
		Age: Age(ex.CreationTimestamp, in.Now), Terminate: ex.Spec.Terminate, Duration: string(ex.Spec.Duration),
		AvailableAt: timeString(ex.Status.AvailableAt), Revision: ex.Annotations[v1alpha1.AnnotationRevision],
		created: ex.CreationTimestamp.Time,
	}
	info.revision, _ = strconv.ParseInt(info.Revision, 10, 64)
	if ref := metav1.GetControllerOf(ex); ref != nil && ref.Kind == "Rollout" {
		info.Rollout = ref.Name
	}
	if v, err := strconv.ParseInt(ex.Labels[v1alpha1.LabelStepIndex], 10, 32); err == nil {
		info.StepIndex = new(int32(v))
	}
	if d, err := ex.Spec.Duration.Duration(); err == nil && ex.Status.AvailableAt != nil && !v1alpha1.AnalysisPhase(info.Phase).Completed() {
		if left := ex.Status.AvailableAt.Add(d).Sub(in.Now); left > 0 {
			info.Remaining = duration.HumanDuration(left)
		}
	}
	// The ReplicaSets' rows, as the rollout tree shows them (no role tags: no Rollout).
	rows := replicaSetRows(Input{Rollout: &v1alpha1.Rollout{}, ReplicaSets: in.ReplicaSets, Pods: in.Pods, Now: in.Now})
	for i := range rows {
		rows[i].TrafficFrom = TrafficFromExperiment
	}
	for _, t := range ex.Spec.Templates {
		row := TemplateRow{Name: t.Name, Status: string(v1alpha1.TemplateStatusProgressing)}
		for _, ts := range ex.Status.TemplateStatuses {
			if ts.Name == t.Name {
				row.Status, row.Message, row.Service = cmp.Or(string(ts.Status), row.Status), ts.Message, ts.ServiceName
			}
		}
		for i := range in.ReplicaSets {
			if in.ReplicaSets[i].Annotations[v1alpha1.AnnotationExperimentTemplateName] == t.Name {
				row.ReplicaSet = &rows[i]
			}
		}
		info.Templates = append(info.Templates, row)
		for _, c := range t.Template.Spec.Containers {
			if !slices.Contains(info.Images, c.Image) {
				info.Images = append(info.Images, c.Image)
			}
		}
	}
	for i := range in.AnalysisRuns {
		info.AnalysisRuns = append(info.AnalysisRuns, AnalysisRunRowOf(&in.AnalysisRuns[i], in.Now))
	}
	slices.SortFunc(info.AnalysisRuns, func(a, b AnalysisRunRow) int { return strings.Compare(a.Name, b.Name) })
	return info
}

// templateIcon is the icon of a template status.
func templateIcon(status string) string {
	switch status {
	case "Running", "Successful":
		return IconOK
	case "Failed":
		return IconBad
	case "Error":
		return IconWarning
	default:
		return IconProgressing
	}
}

// ExperimentDetail renders an Experiment as `sluice get experiment` prints it: a summary, then
// the tree Experiment → ReplicaSets → pods, AnalysisRuns → metrics.
func ExperimentDetail(info *ExperimentInfo, o Options) string {
	var b strings.Builder
	summary := [][]string{
		{"Name:", info.Name},
		{"Namespace:", info.Namespace},
		{"Status:", o.paint(info.Phase, analysisIcon(info.Phase)+" "+info.Phase)},
	}
	if info.Message != "" {
		summary = append(summary, []string{"Message:", info.Message})
	}
	if info.Rollout != "" {
		owner := info.Rollout
		if info.StepIndex != nil {
			owner += fmt.Sprintf(" (step %d, revision %s)", *info.StepIndex+1, info.Revision)
		}
		summary = append(summary, []string{"Rollout:", owner})
	}
	if info.Duration != "" {
		d := info.Duration
		if info.Remaining != "" {
			d += " (" + info.Remaining + " left)"
		}
		summary = append(summary, []string{"Duration:", d})
	}
	if info.AvailableAt != "" {
		summary = append(summary, []string{"AvailableAt:", info.AvailableAt})
	}
	if info.Terminate {
		summary = append(summary, []string{"Terminate:", "true"})
	}
	for i, img := range info.Images {
		label := ""
		if i == 0 {
			label = "Images:"
		}
		summary = append(summary, []string{label, img})
	}
	for i, t := range info.Templates {
		label := ""
		if i == 0 {
			label = "Templates:"
		}
		s := t.Name + " " + o.paint(t.Status, templateIcon(t.Status)+" "+t.Status)
		if t.Service != "" {
			s += ", service " + t.Service
		}
		if t.Message != "" {
			s += ": " + t.Message
		}
		summary = append(summary, []string{label, s})
	}
	for _, l := range columns(summary) {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")
	rows := append([][]string{{"NAME", "KIND", "STATUS", "AGE", "INFO"}}, experimentRows(info, "", "", o)...)
	for _, l := range columns(rows) {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// experimentRows are the tree rows of an Experiment: its own row after head, then its
// ReplicaSets with their pods and its AnalysisRuns with their metrics, indented by inner.
func experimentRows(info *ExperimentInfo, head, inner string, o Options) [][]string {
	rev := Revision{AnalysisRuns: info.AnalysisRuns}
	for _, t := range info.Templates {
		if t.ReplicaSet != nil {
			rev.ReplicaSets = append(rev.ReplicaSets, *t.ReplicaSet)
		}
	}
	own := []string{head + IconExperiment + " " + info.Name, "Experiment",
		o.paint(info.Phase, analysisIcon(info.Phase)+" "+info.Phase), info.Age, experimentInfo(info)}
	return slices.Concat([][]string{own}, replicaSetTreeRows(rev, inner, o), analysisRunRows(rev.AnalysisRuns, inner, false, o))
}

func experimentInfo(info *ExperimentInfo) string {
	var parts []string
	if info.Remaining != "" {
		parts = append(parts, info.Remaining+" left")
	}
	if info.Message != "" {
		parts = append(parts, Shorten(info.Message, 60))
	}
	return strings.Join(parts, ", ")
}

// addExperiments puts each Experiment under the revision it belongs to (its
// rollout.argoproj.io/revision annotation), newest first.
func addExperiments(revs []Revision, exps []ExperimentInput, now time.Time) []Revision {
	for i := range exps {
		in := exps[i]
		in.Now = now
		info := BuildExperiment(in)
		j := slices.IndexFunc(revs, func(v Revision) bool { return v.Number == info.revision })
		if j < 0 {
			revs = append(revs, Revision{Number: info.revision})
			j = len(revs) - 1
		}
		revs[j].Experiments = append(revs[j].Experiments, info)
	}
	for i := range revs {
		slices.SortFunc(revs[i].Experiments, func(a, b ExperimentInfo) int {
			return cmp.Or(b.created.Compare(a.created), strings.Compare(a.Name, b.Name))
		})
	}
	slices.SortFunc(revs, func(a, b Revision) int { return cmp.Compare(b.Number, a.Number) })
	return revs
}
