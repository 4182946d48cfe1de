package view

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// AnalysisRunInfo is an AnalysisRun as `sluice get analysisrun` shows it (and prints with
// -o json|yaml). It never holds a Secret's value: a secretKeyRef argument is shown as
// secret:NAME/KEY, and header values and credentials of providers are left out.
type AnalysisRunInfo struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Phase     string `json:"phase"`
	Message   string `json:"message,omitempty"`
	// Rollout owns the run; Type and StepIndex are its rollout-type and step-index labels,
	// Revision its rollout.argoproj.io/revision annotation.
	Rollout     string    `json:"rollout,omitempty"`
	Type        string    `json:"type,omitempty"`
	StepIndex   *int32    `json:"stepIndex,omitempty"`
	Revision    string    `json:"revision,omitempty"`
	Age         string    `json:"age,omitempty"`
	StartedAt   string    `json:"startedAt,omitempty"`
	CompletedAt string    `json:"completedAt,omitempty"`
	Terminate   bool      `json:"terminate,omitempty"`
	Args        []ArgRow  `json:"args,omitempty"`
	Summary     Summary   `json:"runSummary"`
	DryRun      *Summary  `json:"dryRunSummary,omitempty"`
	Metrics     []Metrics `json:"metrics"`
}

// ArgRow is an argument: its value when it is a plain value, secret:NAME/KEY for a
// secretKeyRef, field:PATH for a fieldRef.
type ArgRow struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Summary is a run summary (runSummary, dryRunSummary).
type Summary struct {
	Count        int32 `json:"count"`
	Successful   int32 `json:"successful,omitempty"`
	Failed       int32 `json:"failed,omitempty"`
	Inconclusive int32 `json:"inconclusive,omitempty"`
	Error        int32 `json:"error,omitempty"`
}

// Metrics is one metric of an AnalysisRun in detail.
type Metrics struct {
	MetricRow `json:",inline"`
	// Provider is the provider's key (prometheus, web, job, …); ProviderDetails its main
	// settings ("query: …"), without header values or credentials.
	Provider         string   `json:"provider"`
	ProviderDetails  []string `json:"providerDetails,omitempty"`
	SuccessCondition string   `json:"successCondition,omitempty"`
	FailureCondition string   `json:"failureCondition,omitempty"`
	// Schedule is interval, count and initialDelay in words; Limits the limits, with Argo's
	// defaults for the unset ones.
	Schedule           string           `json:"schedule"`
	Limits             string           `json:"limits"`
	ConsecutiveError   int32            `json:"consecutiveError,omitempty"`
	ConsecutiveSuccess int32            `json:"consecutiveSuccess,omitempty"`
	Measurements       []MeasurementRow `json:"measurements,omitempty"`
}

// BuildAnalysisRun computes the AnalysisRunInfo of a run.
func BuildAnalysisRun(run *v1alpha1.AnalysisRun, now time.Time) AnalysisRunInfo {
	st := &run.Status
	info := AnalysisRunInfo{
		Name: run.Name, Namespace: run.Namespace, Phase: analysisPhase(st.Phase), Message: st.Message,
		Type: run.Labels[v1alpha1.LabelRolloutType], Revision: run.Annotations[v1alpha1.AnnotationRevision],
		Age: Age(run.CreationTimestamp, now), StartedAt: timeString(st.StartedAt), CompletedAt: timeString(st.CompletedAt),
		Terminate: run.Spec.Terminate, Summary: Summary(st.RunSummary),
	}
	for _, ref := range run.OwnerReferences {
		if ref.Kind == "Rollout" {
			info.Rollout = ref.Name
		}
	}
	if v, err := strconv.ParseInt(run.Labels[v1alpha1.LabelStepIndex], 10, 32); err == nil {
		i := int32(v)
		info.StepIndex = &i
	}
	if st.DryRunSummary != nil {
		d := Summary(*st.DryRunSummary)
		info.DryRun = &d
	}
	for _, a := range run.Spec.Args {
		info.Args = append(info.Args, ArgRow{Name: a.Name, Value: argValue(a)})
	}
	rows := metricRows(run)
	for _, row := range rows {
		m := Metrics{MetricRow: row}
		for i := range run.Spec.Metrics {
			if spec := &run.Spec.Metrics[i]; spec.Name == row.Name {
				m.Provider, m.ProviderDetails = providerDetails(spec.Provider)
				m.SuccessCondition, m.FailureCondition = spec.SuccessCondition, spec.FailureCondition
				m.Schedule, m.Limits = schedule(spec), limits(spec)
			}
		}
		if res := analysis.Result(run, row.Name); res != nil {
			m.ConsecutiveError, m.ConsecutiveSuccess = res.ConsecutiveError, res.ConsecutiveSuccess
			for j := range res.Measurements {
				m.Measurements = append(m.Measurements, measurementRow(&res.Measurements[j]))
			}
		}
		info.Metrics = append(info.Metrics, m)
	}
	return info
}

func argValue(a v1alpha1.Argument) string {
	switch {
	case a.Value != nil:
		return *a.Value
	case a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil:
		return "secret:" + a.ValueFrom.SecretKeyRef.Name + "/" + a.ValueFrom.SecretKeyRef.Key
	case a.ValueFrom != nil && a.ValueFrom.FieldRef != nil:
		return "field:" + a.ValueFrom.FieldRef.FieldPath
	}
	return "(no value)"
}

func schedule(m *v1alpha1.Metric) string {
	var parts []string
	n, bounded := analysis.EffectiveCount(m)
	switch {
	case m.Count != nil && m.Count.Type == intstr.String && m.Count.StrVal != "" && !bounded:
		parts = append(parts, "count "+m.Count.StrVal)
	case !bounded:
		parts = append(parts, "until the run is terminated")
	case n == 1:
		parts = append(parts, "1 measurement")
	default:
		parts = append(parts, fmt.Sprintf("%d measurements", n))
	}
	if m.Interval != "" {
		parts = append(parts, "every "+string(m.Interval))
	}
	if m.InitialDelay != "" {
		parts = append(parts, "after "+string(m.InitialDelay))
	}
	return strings.Join(parts, ", ")
}

func limits(m *v1alpha1.Metric) string {
	one := func(name string, v *intstr.IntOrString, def string) string {
		if v == nil {
			return name + " " + def + " (default)"
		}
		return name + " " + v.String()
	}
	parts := []string{
		one("failureLimit", m.FailureLimit, "0"),
		one("inconclusiveLimit", m.InconclusiveLimit, "0"),
		one("consecutiveErrorLimit", m.ConsecutiveErrorLimit, strconv.Itoa(analysis.DefaultConsecutiveErrorLimit)),
	}
	if m.ConsecutiveSuccessLimit != nil {
		parts = append(parts, one("consecutiveSuccessLimit", m.ConsecutiveSuccessLimit, "0"))
	}
	return strings.Join(parts, ", ")
}

// providerDetails names a metric's provider and lists its main settings. Header values,
// bodies and credentials are left out: they may hold a secret.
func providerDetails(p v1alpha1.MetricProvider) (string, []string) {
	var out []string
	add := func(k, v string) {
		if v = strings.Join(strings.Fields(v), " "); v != "" {
			out = append(out, k+": "+v)
		}
	}
	headers := func(hs []v1alpha1.WebMetricHeader) {
		keys := make([]string, 0, len(hs))
		for _, h := range hs {
			keys = append(keys, h.Key)
		}
		if len(keys) > 0 {
			add("headers", strings.Join(keys, ", ")+" (values not shown)")
		}
	}
	switch {
	case p.Prometheus != nil:
		add("address", p.Prometheus.Address)
		add("query", p.Prometheus.Query)
		if r := p.Prometheus.RangeQuery; r != nil {
			add("rangeQuery", fmt.Sprintf("start %s, end %s, step %s", r.Start, r.End, r.Step))
		}
		headers(p.Prometheus.Headers)
	case p.Web != nil:
		method := string(p.Web.Method)
		if method == "" {
			method = "GET"
		}
		add("request", method+" "+p.Web.URL)
		add("jsonPath", p.Web.JSONPath)
		headers(p.Web.Headers)
	case p.Job != nil:
		cs := make([]string, 0, len(p.Job.Spec.Template.Spec.Containers))
		for _, c := range p.Job.Spec.Template.Spec.Containers {
			cs = append(cs, c.Name+" ("+c.Image+")")
		}
		add("containers", strings.Join(cs, ", "))
	case p.Datadog != nil:
		add("apiVersion", p.Datadog.APIVersion)
		add("query", p.Datadog.Query)
		qs := make([]string, 0, len(p.Datadog.Queries))
		for k, v := range p.Datadog.Queries {
			qs = append(qs, k+"="+v)
		}
		slices.Sort(qs)
		add("queries", strings.Join(qs, "; "))
		add("formula", p.Datadog.Formula)
	case p.NewRelic != nil:
		add("query", p.NewRelic.Query)
	case p.Wavefront != nil:
		add("address", p.Wavefront.Address)
		add("query", p.Wavefront.Query)
	case p.Graphite != nil:
		add("address", p.Graphite.Address)
		add("query", p.Graphite.Query)
	case p.Influxdb != nil:
		add("query", p.Influxdb.Query)
	case p.SkyWalking != nil:
		add("address", p.SkyWalking.Address)
		add("query", p.SkyWalking.Query)
	case p.CloudWatch != nil:
		ids := make([]string, 0, len(p.CloudWatch.MetricDataQueries))
		for _, q := range p.CloudWatch.MetricDataQueries {
			ids = append(ids, q.ID)
		}
		add("metricDataQueries", strings.Join(ids, ", "))
	case p.Kayenta != nil:
		add("address", p.Kayenta.Address)
		add("canaryConfigName", p.Kayenta.CanaryConfigName)
		add("threshold", fmt.Sprintf("pass %d, marginal %d", p.Kayenta.Threshold.Pass, p.Kayenta.Threshold.Marginal))
	}
	return strings.Join(metricprovider.Types(p), ", "), out
}

func summaryLine(s Summary) string {
	parts := []string{fmt.Sprintf("%d metric(s)", s.Count)}
	for _, c := range []struct {
		name string
		n    int32
	}{{"successful", s.Successful}, {"failed", s.Failed}, {"inconclusive", s.Inconclusive}, {"error", s.Error}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	return strings.Join(parts, ", ")
}

// AnalysisRunDetail renders an AnalysisRunInfo as `sluice get analysisrun` prints it.
func AnalysisRunDetail(info *AnalysisRunInfo, o Options) string {
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
		var what []string
		if info.Type != "" {
			what = append(what, strings.ToLower(info.Type)+" analysis")
		}
		if info.StepIndex != nil {
			what = append(what, fmt.Sprintf("step index %d", *info.StepIndex))
		}
		if info.Revision != "" {
			what = append(what, "revision "+info.Revision)
		}
		s := info.Rollout
		if len(what) > 0 {
			s += " (" + strings.Join(what, ", ") + ")"
		}
		summary = append(summary, []string{"Rollout:", s})
	}
	if info.StartedAt != "" {
		summary = append(summary, []string{"Started:", info.StartedAt})
	}
	if info.CompletedAt != "" {
		summary = append(summary, []string{"Completed:", info.CompletedAt})
	}
	if info.Terminate {
		summary = append(summary, []string{"Terminate:", "true (the run was told to stop)"})
	}
	for i, a := range info.Args {
		label := ""
		if i == 0 {
			label = "Args:"
		}
		summary = append(summary, []string{label, a.Name + ": " + a.Value})
	}
	summary = append(summary, []string{"Run summary:", summaryLine(info.Summary)})
	if info.DryRun != nil {
		summary = append(summary, []string{"Dry run:", summaryLine(*info.DryRun)})
	}
	for _, l := range columns(summary) {
		b.WriteString(l + "\n")
	}
	for _, m := range info.Metrics {
		title := "Metric " + m.Name + ": " + o.paint(m.Phase, analysisIcon(m.Phase)+" "+m.Phase)
		if m.DryRun {
			title += " (dry run)"
		}
		b.WriteString("\n" + title + "\n")
		lines := [][]string{{"  Provider:", m.Provider}}
		for _, d := range m.ProviderDetails {
			lines = append(lines, []string{"", d})
		}
		if m.SuccessCondition != "" {
			lines = append(lines, []string{"  Success:", m.SuccessCondition})
		}
		if m.FailureCondition != "" {
			lines = append(lines, []string{"  Failure:", m.FailureCondition})
		}
		lines = append(lines, []string{"  Schedule:", m.Schedule}, []string{"  Limits:", m.Limits})
		measured := fmt.Sprintf("%d measurement(s)", m.Count+m.Error)
		if c := counts(m.Successful, m.Failed, m.Inconclusive, m.Error); c != "" {
			measured += ": " + c
		}
		if m.ConsecutiveError > 0 {
			measured += fmt.Sprintf(", %d error(s) in a row", m.ConsecutiveError)
		}
		lines = append(lines, []string{"  Measured:", measured})
		if m.Message != "" {
			lines = append(lines, []string{"  Message:", m.Message})
		}
		for _, l := range columns(lines) {
			b.WriteString(l + "\n")
		}
		if len(m.Measurements) == 0 {
			continue
		}
		table := [][]string{{"    TIME", "PHASE", "VALUE", "MESSAGE"}}
		for _, ms := range m.Measurements {
			t := ms.FinishedAt
			if t == "" {
				t = ms.StartedAt
			}
			table = append(table, []string{"    " + t, o.paint(ms.Phase, analysisIcon(ms.Phase)+" "+ms.Phase), Shorten(ms.Value, 60), ms.Message})
		}
		for _, l := range columns(table) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
