package cli

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
)

// Kinds of analysis templates.
const (
	kindAnalysisTemplate        = "AnalysisTemplate"
	kindClusterAnalysisTemplate = "ClusterAnalysisTemplate"
)

// emptyGuard matches a condition that handles an empty result before indexing it:
// len(result), isNil(result) or default(result, …). default(result[0], …) is no guard: its
// argument indexes the result first.
var emptyGuard = regexp.MustCompile(`\b(len|isNil)\s*\(\s*result\s*\)|\bdefault\s*\(\s*result\s*,`)

// UnguardedIndex reports whether a condition indexes the result (result[0]) without guarding
// for an empty result: a query that returns no data then makes every measurement an Error
// instead of a verdict.
func UnguardedIndex(cond string) bool {
	return analysis.IndexesResult(cond) && !emptyGuard.MatchString(cond)
}

// template decodes an AnalysisTemplate or ClusterAnalysisTemplate document.
func decodeTemplate(d manifest) (*v1alpha1.AnalysisTemplateSpec, error) {
	var t v1alpha1.AnalysisTemplate // a ClusterAnalysisTemplate has the same shape
	if err := yaml.UnmarshalStrict(d.Raw, &t); err != nil {
		return nil, err
	}
	return &t.Spec, nil
}

// analysisTemplate checks an AnalysisTemplate or ClusterAnalysisTemplate document on its own:
// what the controller would refuse in its metrics, {{args.x}} without an argument x, and (as
// warnings) conditions that index result[0] without an empty-result guard.
func (l *linter) analysisTemplate(d manifest) {
	report := func(format string, args ...any) {
		l.problems = append(l.problems, fmt.Sprintf("%s: %s %s: %s", d.Where, d.Kind, d.Name, fmt.Sprintf(format, args...)))
	}
	if !strings.HasPrefix(d.APIVersion, v1alpha1.GroupVersion.Group+"/") {
		report("apiVersion %q: %ss are %s", d.APIVersion, d.Kind, v1alpha1.GroupVersion)
	}
	spec, err := decodeTemplate(d)
	if err != nil {
		report("%v", err)
		var t v1alpha1.AnalysisTemplate
		if yaml.Unmarshal(d.Raw, &t) != nil {
			return
		}
		spec = &t.Spec
	}
	if len(spec.Metrics) > 0 || len(spec.Templates) == 0 {
		for _, msg := range analysis.Validate(spec.Metrics, spec.DryRun, spec.MeasurementRetention) {
			report("%s", msg)
		}
	}
	if len(spec.Templates) == 0 {
		for _, msg := range undeclaredArgs(spec.Metrics, spec.Args) {
			report("%s", msg)
		}
	}
	for i := range spec.Metrics {
		m := &spec.Metrics[i]
		for _, c := range []struct{ field, cond string }{{"successCondition", m.SuccessCondition}, {"failureCondition", m.FailureCondition}} {
			if UnguardedIndex(c.cond) {
				l.warnings = append(l.warnings, fmt.Sprintf("%s: %s %s: warning: metric %q: %s %q indexes the result without a guard for an empty one: a query that returns no data (a typo in a label, no traffic yet) makes every measurement an Error; guard it, e.g. len(result) == 0 || … (no data passes) or len(result) > 0 && … (no data does not)",
					d.Where, d.Kind, d.Name, m.Name, c.field, c.cond))
			}
		}
	}
}

// undeclaredArgs lists the {{args.x}} placeholders of metrics for which args has no x.
func undeclaredArgs(metrics []v1alpha1.Metric, args []v1alpha1.Argument) []string {
	var out []string
	for i := range metrics {
		for _, p := range analysis.Placeholders(&metrics[i]) {
			if !slices.ContainsFunc(args, func(a v1alpha1.Argument) bool { return a.Name == p }) {
				out = append(out, fmt.Sprintf("metric %q uses {{args.%s}}, but no argument %q is declared", metrics[i].Name, p, p))
			}
		}
	}
	return out
}

// rolloutAnalyses checks the analysis steps and the background analysis of a canary Rollout,
// the pre- and post-promotion analyses of a blue-green one: the templates exist in the files,
// every argument gets a value, the Rollout's dryRun and measurementRetention name metrics of
// the templates, and the metrics of an analysis the update waits for end on their own.
func (l *linter) rolloutAnalyses(report reportFunc, ro *v1alpha1.Rollout) {
	if c := ro.Spec.Strategy.Canary; c != nil {
		for i := range c.Steps {
			if a := c.Steps[i].Analysis; a != nil {
				l.rolloutAnalysis(report, ro, fmt.Sprintf("canary.steps[%d].analysis", i), a,
					"so the step would never finish; set count, or move it to the background analysis (spec.strategy.canary.analysis)")
			}
		}
		if c.Analysis != nil {
			// A background analysis is terminated at promotion: it may measure forever.
			l.rolloutAnalysis(report, ro, "canary.analysis", &c.Analysis.RolloutAnalysis, "")
		}
	}
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		if a := bg.PrePromotionAnalysis; a != nil {
			l.rolloutAnalysis(report, ro, "blueGreen.prePromotionAnalysis", a,
				"so the pre-promotion analysis would never finish and the active Service would never move to the new version; set count")
		}
		if a := bg.PostPromotionAnalysis; a != nil {
			l.rolloutAnalysis(report, ro, "blueGreen.postPromotionAnalysis", a,
				"so the post-promotion analysis would never finish and the new version would never become stable; set count")
		}
	}
}

// rolloutAnalysis checks one analysis of a Rollout, at spec.strategy.<at>. never is what a
// metric that measures forever does to the update ("" when the update does not wait for the
// analysis to end).
func (l *linter) rolloutAnalysis(report reportFunc, ro *v1alpha1.Rollout, at string, a *v1alpha1.RolloutAnalysis, never string) {
	refs := make([]analysis.TemplateRef, 0, len(a.Templates))
	for _, t := range a.Templates {
		refs = append(refs, analysis.TemplateRef{Name: t.TemplateName, Cluster: t.ClusterScope})
	}
	spec, err := analysis.Flatten(refs, l.lookupTemplate)
	if err != nil {
		report("spec.strategy.%s: %v", at, err)
		return
	}
	if _, err := analysis.MergeArgs(spec.Args, analysis.RolloutArgs{Args: a.Args, StableHash: "stable", LatestHash: "latest", Object: ro}); err != nil {
		report("spec.strategy.%s: %v", at, err)
	}
	for _, msg := range undeclaredArgs(spec.Metrics, spec.Args) {
		report("spec.strategy.%s: %s", at, msg)
	}
	for _, msg := range analysis.Validate(spec.Metrics, a.DryRun, a.MeasurementRetention) {
		if strings.HasPrefix(msg, "dryRun[") || strings.HasPrefix(msg, "measurementRetention[") {
			report("spec.strategy.%s.%s", at, msg) // the templates' own problems are reported with them
		}
	}
	if never == "" {
		return
	}
	for i := range spec.Metrics {
		if m := &spec.Metrics[i]; analysis.RunsIndefinitely(m) {
			report("spec.strategy.%s: metric %q has an interval and no count: it measures until the run is terminated, %s", at, m.Name, never)
		}
	}
}

// lookupTemplate finds a template among the files' documents.
func (l *linter) lookupTemplate(ref analysis.TemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
	kind := kindAnalysisTemplate
	if ref.Cluster {
		kind = kindClusterAnalysisTemplate
	}
	d, ok := l.objects[kind][ref.Name]
	if !ok {
		hint := ""
		other := kindClusterAnalysisTemplate
		if ref.Cluster {
			other = kindAnalysisTemplate
		}
		if _, ok := l.objects[other][ref.Name]; ok {
			hint = fmt.Sprintf("; there is an %s %q: set clusterScope: %v", other, ref.Name, !ref.Cluster)
		}
		return nil, fmt.Errorf("%s %q is not in the given files (lint checks references against the objects given with -f)%s", kind, ref.Name, hint)
	}
	spec, err := decodeTemplate(d)
	if err != nil {
		var t v1alpha1.AnalysisTemplate
		if yaml.Unmarshal(d.Raw, &t) != nil {
			return nil, fmt.Errorf("%s %q: %w", kind, ref.Name, err)
		}
		spec = &t.Spec // its strictness problems are reported with the template
	}
	return spec, nil
}
