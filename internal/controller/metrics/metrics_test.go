package metrics_test

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/controller/controllertest"
	"github.com/sluicehq/sluice/internal/controller/metrics"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

// wantFamilies are Argo's families as dashboards query them: type and label names (written out
// here, not taken from the package, so a renamed metric or label fails the test).
var wantFamilies = map[string]struct {
	typ    dto.MetricType
	labels string
}{
	"rollout_info":                         {dto.MetricType_GAUGE, "name namespace phase strategy traffic_router"},
	"rollout_info_replicas_available":      {dto.MetricType_GAUGE, "name namespace"},
	"rollout_info_replicas_unavailable":    {dto.MetricType_GAUGE, "name namespace"},
	"rollout_info_replicas_desired":        {dto.MetricType_GAUGE, "name namespace"},
	"rollout_info_replicas_updated":        {dto.MetricType_GAUGE, "name namespace"},
	"rollout_phase":                        {dto.MetricType_GAUGE, "name namespace phase strategy"},
	"rollout_events_total":                 {dto.MetricType_COUNTER, "name namespace reason type"},
	"rollout_reconcile":                    {dto.MetricType_HISTOGRAM, "name namespace"},
	"rollout_reconcile_error":              {dto.MetricType_COUNTER, "name namespace"},
	"analysis_run_info":                    {dto.MetricType_GAUGE, "name namespace phase"},
	"analysis_run_phase":                   {dto.MetricType_GAUGE, "name namespace phase"},
	"analysis_run_metric_type":             {dto.MetricType_GAUGE, "metric name namespace type"},
	"analysis_run_metric_phase":            {dto.MetricType_GAUGE, "dry_run metric name namespace phase type"},
	"analysis_run_reconcile":               {dto.MetricType_HISTOGRAM, "name namespace"},
	"analysis_run_reconcile_error":         {dto.MetricType_COUNTER, "name namespace"},
	"experiment_info":                      {dto.MetricType_GAUGE, "name namespace phase"},
	"experiment_phase":                     {dto.MetricType_GAUGE, "name namespace phase"},
	"experiment_reconcile":                 {dto.MetricType_HISTOGRAM, "name namespace"},
	"experiment_reconcile_error":           {dto.MetricType_COUNTER, "name namespace"},
	"argo_rollouts_controller_info":        {dto.MetricType_GAUGE, "version"},
	"sluice_rollout_canary_weight_percent": {dto.MetricType_GAUGE, "kind name namespace"},
}

// metrics.Families (what the docs and the dashboard are checked against) says what the
// endpoint serves.
func TestFamilies(t *testing.T) {
	types := map[string]dto.MetricType{"gauge": dto.MetricType_GAUGE, "counter": dto.MetricType_COUNTER, "histogram": dto.MetricType_HISTOGRAM}
	var got []string
	for _, f := range metrics.Families() {
		got = append(got, f.Name)
		want, ok := wantFamilies[f.Name]
		labels := slices.Sorted(slices.Values(f.Labels))
		if !ok || types[f.Type] != want.typ || strings.Join(labels, " ") != want.labels {
			t.Errorf("Families() has %s, a %s with labels %v; want %v", f.Name, f.Type, f.Labels, want)
		}
	}
	if n := len(wantFamilies); len(got) != n {
		t.Errorf("Families() lists %d families (%v), want %d", len(got), got, n)
	}
}

// A canary through a pause and an AnalysisRun, seen through the controller's real metrics
// endpoint as Prometheus scrapes it.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	cfg := devclustertest.Config(t)
	ns := devclustertest.Namespace(t)
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	controllertest.StartWith(t, cfg, controller.Options{Namespace: ns, Workers: 2, MetricsAddr: addr})
	url := "http://" + addr + "/metrics"
	ro := map[string]string{"namespace": ns, "name": "my-rollout"}

	rollout := basicRollout(t, ns)
	if err := c.Create(t.Context(), rollout); err != nil {
		t.Fatal(err)
	}
	// Healthy: Argo's metric phase is Completed (not status.phase).
	var mfs map[string]*dto.MetricFamily
	devclustertest.Eventually(t, time.Minute, func() string {
		mfs = scrape(t, url)
		if v, ok := value(mfs, "rollout_info", with(ro, "phase", "Completed")); !ok || v != 1 {
			return "waiting for rollout_info{phase=Completed}: " + describe(mfs, "rollout_info", ro)
		}
		return ""
	})
	wantPhases(t, mfs, "rollout_phase", with(ro, "strategy", "canary"), "Completed",
		"Completed", "Progressing", "Paused", "Timeout", "Error", "Abort")
	before := eventCounts(mfs, ro)

	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"my-app","image":"nginx:1.26"}]}}}}`))
	if err := c.Patch(t.Context(), rollout, patch); err != nil {
		t.Fatal(err)
	}
	// At the pause: 1 canary pod next to 3 stable ones, all available.
	devclustertest.Eventually(t, time.Minute, func() string {
		mfs = scrape(t, url)
		v, ok := value(mfs, "rollout_info", with(ro, "phase", "Paused"))
		avail, _ := value(mfs, "rollout_info_replicas_available", ro)
		if !ok || v != 1 || avail != 4 {
			return fmt.Sprintf("waiting for rollout_info{phase=Paused} with 4 available: %s, available %v", describe(mfs, "rollout_info", ro), avail)
		}
		return ""
	})
	checkFamilies(t, mfs)
	if got := describe(mfs, "rollout_info", ro); got != `{name="my-rollout",namespace="`+ns+`",phase="Paused",strategy="canary",traffic_router=""} 1` {
		t.Errorf("rollout_info series: %s", got)
	}
	for name, want := range map[string]float64{
		"rollout_info_replicas_available": 4, "rollout_info_replicas_unavailable": 0,
		"rollout_info_replicas_desired": 3, "rollout_info_replicas_updated": 1,
	} {
		if got, ok := value(mfs, name, ro); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	wantPhases(t, mfs, "rollout_phase", with(ro, "strategy", "canary"), "Paused",
		"Completed", "Progressing", "Paused", "Timeout", "Error", "Abort")
	after := eventCounts(mfs, ro)
	for reason, want := range map[string]float64{"RolloutUpdated": 1, "NewReplicaSetCreated": 1, "RolloutStepCompleted": 1, "RolloutPaused": 1} {
		if d := after["Normal/"+reason] - before["Normal/"+reason]; d != want {
			t.Errorf("rollout_events_total{type=Normal,reason=%s} grew by %v during the update, want %v (before %v, after %v)", reason, d, want, before, after)
		}
	}
	if after["Normal/ScalingReplicaSet"] <= before["Normal/ScalingReplicaSet"] {
		t.Errorf("rollout_events_total{reason=ScalingReplicaSet} did not grow: before %v, after %v", before, after)
	}
	h := only(t, mfs, "rollout_reconcile", ro).GetHistogram()
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if h.GetSampleCount() == 0 || !slices.Equal(bounds, []float64{0.01, 0.15, 0.25, 0.5, 1, math.Inf(1)}) {
		t.Errorf("rollout_reconcile: %d passes, buckets %v; want > 0 and Argo's 0.01 0.15 0.25 0.5 1 (+Inf)", h.GetSampleCount(), bounds)
	}
	if _, ok := value(mfs, "rollout_reconcile_error", ro); !ok {
		t.Errorf("rollout_reconcile_error{%v} missing (it starts at 0)", ro)
	}
	for kind, want := range map[string]float64{"requested": 20, "pods": 25} {
		if got, _ := value(mfs, "sluice_rollout_canary_weight_percent", with(ro, "kind", kind)); got != want {
			t.Errorf("sluice_rollout_canary_weight_percent{kind=%s} = %v, want %v", kind, got, want)
		}
	}
	if info := mfs["argo_rollouts_controller_info"]; info == nil || len(info.GetMetric()) != 1 || info.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("argo_rollouts_controller_info: %v", info)
	}

	t.Run("analysis run", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"errorRate":0}`)
		}))
		t.Cleanup(srv.Close)
		run := webRun(srv.URL)
		run.Namespace = ns
		if err := c.Create(t.Context(), run); err != nil {
			t.Fatal(err)
		}
		ar := map[string]string{"namespace": ns, "name": run.Name}
		devclustertest.Eventually(t, time.Minute, func() string {
			mfs = scrape(t, url)
			if v, ok := value(mfs, "analysis_run_info", with(ar, "phase", "Successful")); !ok || v != 1 {
				return "waiting for analysis_run_info{phase=Successful}: " + describe(mfs, "analysis_run_info", ar)
			}
			return ""
		})
		checkFamilies(t, mfs)
		if got := describe(mfs, "analysis_run_info", ar); got != `{name="error-rate",namespace="`+ns+`",phase="Successful"} 1` {
			t.Errorf("analysis_run_info series: %s", got)
		}
		all := []string{"Pending", "Error", "Failed", "Successful", "Running", "Inconclusive"}
		wantPhases(t, mfs, "analysis_run_phase", ar, "Successful", all...)
		for metric, dry := range map[string]string{"error-rate": "false", "error-rate-dry": "true"} {
			m := with(ar, "metric", metric)
			if v, ok := value(mfs, "analysis_run_metric_type", with(m, "type", "Web")); !ok || v != 1 {
				t.Errorf("analysis_run_metric_type: %s", describe(mfs, "analysis_run_metric_type", m))
			}
			wantPhases(t, mfs, "analysis_run_metric_phase", with(with(m, "type", "Web"), "dry_run", dry), "Successful", all...)
		}
		if h := only(t, mfs, "analysis_run_reconcile", ar).GetHistogram(); h.GetSampleCount() == 0 {
			t.Errorf("analysis_run_reconcile: no pass observed")
		}
		// The state gauges go with the object (read from the cache at each scrape).
		if err := c.Delete(t.Context(), run); err != nil {
			t.Fatal(err)
		}
		devclustertest.Eventually(t, 30*time.Second, func() string {
			mfs = scrape(t, url)
			for _, name := range []string{"analysis_run_info", "analysis_run_phase", "analysis_run_metric_type", "analysis_run_metric_phase"} {
				if s := describe(mfs, name, ar); s != "" {
					return "waiting for the deleted run's series to go: " + name + s
				}
			}
			return ""
		})
	})

	t.Run("experiment", func(t *testing.T) {
		replicas := int32(1)
		labels := map[string]string{"app": "exp"}
		ex := &v1alpha1.Experiment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "exp"},
			Spec: v1alpha1.ExperimentSpec{Duration: "1s", Templates: []v1alpha1.TemplateSpec{{
				Name: "canary", Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: v1alpha1.PodTemplateSpec{
					PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: labels},
					Spec:                corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.25"}}},
				},
			}}},
		}
		if err := c.Create(t.Context(), ex); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{"namespace": ns, "name": "exp"}
		devclustertest.Eventually(t, time.Minute, func() string {
			mfs = scrape(t, url)
			if v, ok := value(mfs, "experiment_info", with(m, "phase", "Successful")); !ok || v != 1 {
				return "waiting for experiment_info{phase=Successful}: " + describe(mfs, "experiment_info", m)
			}
			return ""
		})
		checkFamilies(t, mfs)
		if got := describe(mfs, "experiment_info", m); got != `{name="exp",namespace="`+ns+`",phase="Successful"} 1` {
			t.Errorf("experiment_info series: %s", got)
		}
		// Argo's experiment_phase has no Failed series.
		wantPhases(t, mfs, "experiment_phase", m, "Successful", "Pending", "Error", "Successful", "Running", "Inconclusive")
		if h := only(t, mfs, "experiment_reconcile", m).GetHistogram(); h.GetSampleCount() == 0 {
			t.Errorf("experiment_reconcile: no pass observed")
		}
	})
}

func basicRollout(t *testing.T, ns string) *v1alpha1.Rollout {
	t.Helper()
	b, err := os.ReadFile("../../../examples/rollout-basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict(b, ro); err != nil {
		t.Fatal(err)
	}
	ro.Namespace = ns
	ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{
		{SetWeight: new(int32(20))}, {Pause: &v1alpha1.RolloutPause{}}, {SetWeight: new(int32(100))},
	}
	return ro
}

func webRun(url string) *v1alpha1.AnalysisRun {
	count := intstr.FromInt32(2)
	metric := func(name string) v1alpha1.Metric {
		return v1alpha1.Metric{
			Name: name, Interval: "1s", Count: &count, SuccessCondition: "result <= 0.05",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: url, JSONPath: "{$.errorRate}"}},
		}
	}
	return &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: "error-rate"},
		Spec: v1alpha1.AnalysisRunSpec{
			Metrics: []v1alpha1.Metric{metric("error-rate"), metric("error-rate-dry")},
			DryRun:  []v1alpha1.DryRun{{MetricName: "error-rate-dry"}},
		},
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape GETs the endpoint as Prometheus does and parses the text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil // not listening yet
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return mfs
}

// checkFamilies compares every family present with its type and label names. The families of
// a kind (rollout, analysis_run, experiment) must all be there once its _info family is.
func checkFamilies(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	for name, want := range wantFamilies {
		mf := mfs[name]
		if mf == nil {
			kind := ""
			for _, k := range []string{"rollout", "analysis_run", "experiment"} {
				if strings.HasPrefix(name, k+"_") {
					kind = k
				}
			}
			if kind == "" || mfs[kind+"_info"] != nil {
				t.Errorf("family %s missing", name)
			}
			continue
		}
		if mf.GetType() != want.typ {
			t.Errorf("%s is a %v, want a %v", name, mf.GetType(), want.typ)
		}
		for _, m := range mf.GetMetric() {
			if got := labelNames(m); got != want.labels {
				t.Errorf("%s has labels %q, want %q", name, got, want.labels)
				break
			}
		}
	}
}

func labelNames(m *dto.Metric) string {
	var names []string
	for _, l := range m.GetLabel() {
		names = append(names, l.GetName())
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

func matches(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func with(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	out[k] = v
	return out
}

func series(mfs map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range mfs[name].GetMetric() {
		if matches(m, want) {
			out = append(out, m)
		}
	}
	return out
}

// value is the value of the one gauge or counter series of name matching want.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	s := series(mfs, name, want)
	if len(s) != 1 {
		return 0, false
	}
	if s[0].GetCounter() != nil {
		return s[0].GetCounter().GetValue(), true
	}
	return s[0].GetGauge().GetValue(), true
}

func only(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	s := series(mfs, name, want)
	if len(s) != 1 {
		t.Fatalf("%d series of %s match %v, want 1", len(s), name, want)
	}
	return s[0]
}

// describe renders the series of name matching want, one a line: {labels} value.
func describe(mfs map[string]*dto.MetricFamily, name string, want map[string]string) string {
	var lines []string
	for _, m := range series(mfs, name, want) {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		slices.Sort(ls)
		lines = append(lines, fmt.Sprintf("{%s} %v", strings.Join(ls, ","), m.GetGauge().GetValue()))
	}
	return strings.Join(lines, "\n")
}

// wantPhases checks that name has one series per phase, 1 for the current one and 0 for the
// others.
func wantPhases(t *testing.T, mfs map[string]*dto.MetricFamily, name string, match map[string]string, current string, phases ...string) {
	t.Helper()
	if n := len(series(mfs, name, match)); n != len(phases) {
		t.Errorf("%s: %d series for %v, want %d (%v):\n%s", name, n, match, len(phases), phases, describe(mfs, name, match))
	}
	for _, p := range phases {
		want := 0.0
		if p == current {
			want = 1
		}
		if got, ok := value(mfs, name, with(match, "phase", p)); !ok || got != want {
			t.Errorf("%s{phase=%q} = %v (present %v), want %v", name, p, got, ok, want)
		}
	}
}

// eventCounts are the Rollout's rollout_events_total by "type/reason".
func eventCounts(mfs map[string]*dto.MetricFamily, ro map[string]string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range series(mfs, "rollout_events_total", ro) {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		out[l["type"]+"/"+l["reason"]] = m.GetCounter().GetValue()
	}
	return out
}
