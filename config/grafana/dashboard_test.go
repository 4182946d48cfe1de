package grafana_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/controller/metrics"
)

// The queries are checked with regular expressions, not the PromQL parser: the parser lives in
// github.com/prometheus/prometheus, a large module sluice does not depend on. What they find:
// every selector with its label matchers, every other identifier that is not a function, an
// aggregation, a keyword, a grouping clause or a Grafana variable (those are metric names too).
var (
	stringLit   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	grafanaVar  = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	selector    = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcher     = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*""\s*$`)
	grouping    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	braces      = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	identifier  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	labelValues = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)
	keywords    = []string{"and", "or", "unless", "bool", "offset", "inf", "nan"}
)

type dashboard struct {
	Inputs []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	Templating struct {
		List []struct {
			Name       string
			Datasource struct{ UID string }
			Query      struct{ Query string }
		}
	}
	Panels []panel
}

type panel struct {
	Type, Title string
	Datasource  struct{ UID string }
	Targets     []struct {
		Expr       string
		Datasource struct{ UID string }
	}
}

func load(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("sluice-rollouts.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// exported maps every series name the controller exports (histograms as _bucket, _sum and
// _count) to its label names.
func exported() map[string][]string {
	out := map[string][]string{}
	for _, f := range metrics.Families() {
		if f.Type == "histogram" {
			out[f.Name+"_bucket"] = append(slices.Clone(f.Labels), "le")
			out[f.Name+"_sum"] = f.Labels
			out[f.Name+"_count"] = f.Labels
			continue
		}
		out[f.Name] = f.Labels
	}
	return out
}

// metricNames returns the metric names expr uses, and the problems with its label matchers.
func metricNames(expr string, known map[string][]string) (names, problems []string) {
	e := grafanaVar.ReplaceAllString(stringLit.ReplaceAllString(expr, `""`), "x")
	for _, m := range selector.FindAllStringSubmatch(e, -1) {
		labels, ok := known[m[1]]
		if !ok {
			continue // reported below as an unknown name
		}
		for part := range strings.SplitSeq(m[2], ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			lm := matcher.FindStringSubmatch(part)
			if lm == nil {
				problems = append(problems, "cannot read matcher "+part+" of "+m[1])
			} else if !slices.Contains(labels, lm[1]) {
				problems = append(problems, m[1]+" has no label "+lm[1])
			}
		}
	}
	e = braces.ReplaceAllString(grouping.ReplaceAllString(e, ""), "")
	for _, id := range identifier.FindAllString(e, -1) {
		if strings.HasSuffix(id, "(") || slices.Contains(keywords, strings.ToLower(id)) || id == "x" {
			continue // a function or aggregation, a keyword, a Grafana variable
		}
		names = append(names, id)
	}
	return names, problems
}

func TestQueriesUseExportedMetrics(t *testing.T) {
	d := load(t)
	known := exported()
	used := map[string]bool{}
	check := func(where, expr string) {
		t.Helper()
		names, problems := metricNames(expr, known)
		if len(names) == 0 {
			problems = append(problems, "no metric found")
		}
		for _, n := range names {
			used[n] = true
			if _, ok := known[n]; !ok {
				problems = append(problems, n+" is not exported by the controller")
			}
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", where, expr, p)
		}
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q: datasource %q, want ${DS_PROMETHEUS}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		m := labelValues.FindStringSubmatch(v.Query.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, v.Query.Query)
			continue
		}
		check("variable "+v.Name, m[1])
		if names, _ := metricNames(m[1], known); len(names) == 1 && !slices.Contains(known[names[0]], m[2]) {
			t.Errorf("variable %s: %s has no label %s", v.Name, names[0], m[2])
		}
	}
	if !slices.Equal(vars, []string{"namespace", "rollout"}) {
		t.Errorf("template variables %v, want namespace and rollout", vars)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs %+v, want the one Prometheus data source DS_PROMETHEUS", d.Inputs)
	}
	// What the dashboard is for: phases, replicas, latency, errors, events, analysis, weights.
	for _, n := range []string{
		"rollout_info", "rollout_phase", "rollout_info_replicas_available", "rollout_info_replicas_desired",
		"rollout_info_replicas_updated", "rollout_info_replicas_unavailable", "rollout_reconcile_bucket",
		"rollout_reconcile_error", "rollout_events_total", "analysis_run_info", "analysis_run_metric_phase",
		"analysis_run_reconcile_bucket", "analysis_run_reconcile_error", "sluice_rollout_canary_weight_percent",
	} {
		if !used[n] {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
}

// The checker itself: it must catch a wrong name and a wrong label, and not take functions,
// grouping labels or variables for metrics.
func TestMetricNames(t *testing.T) {
	known := exported()
	for expr, want := range map[string]struct{ names, problems string }{
		`histogram_quantile(0.99, sum by (le) (rate(rollout_reconcile_bucket{namespace=~"$namespace", name=~"${rollout:regex}"}[$__rate_interval])))`: {"rollout_reconcile_bucket", ""},
		`count by (phase) (rollout_info{namespace=~"a,b"}) > bool 0 and on (name) rollout_phase`:                                                      {"rollout_info rollout_phase", ""},
		`rollout_reconcile_errors{namespace="x"}`:  {"rollout_reconcile_errors", ""},
		`rollout_info{router="Istio"}`:             {"rollout_info", "rollout_info has no label router"},
		`sum(rate(rollout_reconcile_count[5m]))`:   {"rollout_reconcile_count", ""},
		`analysis_run_metric_phase{dryRun="true"}`: {"analysis_run_metric_phase", "analysis_run_metric_phase has no label dryRun"},
	} {
		names, problems := metricNames(expr, known)
		if got := strings.Join(names, " "); got != want.names {
			t.Errorf("%s: names %q, want %q", expr, got, want.names)
		}
		if got := strings.Join(problems, "; "); got != want.problems {
			t.Errorf("%s: problems %q, want %q", expr, got, want.problems)
		}
	}
}
