package analysis

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Validate lists what makes a run's (or a template's) metrics unusable, one message each, in
// the words a user can act on. Placeholders are checked after substitution by the caller.
func Validate(metrics []v1alpha1.Metric, dryRun []v1alpha1.DryRun, retention []v1alpha1.MeasurementRetention) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(metrics) == 0 {
		add("metrics: at least one metric is required")
	}
	seen := map[string]bool{}
	for i := range metrics {
		m := &metrics[i]
		at := fmt.Sprintf("metrics[%d] (%s)", i, m.Name)
		if m.Name == "" {
			add("metrics[%d]: name is required", i)
		} else if seen[m.Name] {
			add("%s: the metric name is used twice", at)
		}
		seen[m.Name] = true
		switch t := metricprovider.Types(m.Provider); len(t) {
		case 0:
			add("%s: provider sets no provider (prometheus, web, job, datadog, …)", at)
		case 1:
		default:
			add("%s: provider sets more than one provider (%v); use one per metric", at, t)
		}
		out = append(out, validateCounts(at, m)...)
	}
	for i, d := range dryRun {
		if !matchesAny(d.MetricName, metrics) {
			add("dryRun[%d]: metricName %q matches no metric", i, d.MetricName)
		}
	}
	for i, r := range retention {
		if !matchesAny(r.MetricName, metrics) {
			add("measurementRetention[%d]: metricName %q matches no metric", i, r.MetricName)
		}
		if r.Limit <= 0 {
			add("measurementRetention[%d]: limit must be at least 1", i)
		}
	}
	return out
}

func validateCounts(at string, m *v1alpha1.Metric) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, at+": "+fmt.Sprintf(format, args...)) }
	for _, d := range []struct {
		name string
		v    v1alpha1.DurationString
	}{{"interval", m.Interval}, {"initialDelay", m.InitialDelay}} {
		if d.v == "" || placeholder.MatchString(string(d.v)) {
			continue
		}
		if _, err := ParseDuration(d.v); err != nil {
			add("%s: %v", d.name, err)
		}
	}
	ints := map[string]int32{}
	for name, v := range map[string]*intstrValue{
		"count": wrap(m.Count), "failureLimit": wrap(m.FailureLimit), "inconclusiveLimit": wrap(m.InconclusiveLimit),
		"consecutiveErrorLimit": wrap(m.ConsecutiveErrorLimit), "consecutiveSuccessLimit": wrap(m.ConsecutiveSuccessLimit),
	} {
		if v == nil || placeholder.MatchString(v.v.StrVal) {
			continue
		}
		n, err := intOrString(v.v)
		if err != nil {
			add("%s: %v", name, err)
			continue
		}
		ints[name] = n
	}
	if n, ok := ints["count"]; ok {
		switch {
		case n < 0:
			add("count must not be negative")
		case n > 1 && m.Interval == "":
			add("count is %d but interval is not set: measurements need an interval between them", n)
		}
	}
	if n, ok := ints["failureLimit"]; ok && n < -1 {
		add("failureLimit must be -1 (no limit) or more")
	}
	for _, k := range []string{"inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit"} {
		if n, ok := ints[k]; ok && n < 0 {
			add("%s must not be negative", k)
		}
	}
	if c, ok := EffectiveCount(m); ok && c > 0 {
		if n, ok := ints["consecutiveSuccessLimit"]; ok && n > c {
			add("consecutiveSuccessLimit (%d) is more than count (%d): it can never be reached", n, c)
		}
	}
	return out
}

type intstrValue struct{ v *intstr.IntOrString }

func wrap(v *intstr.IntOrString) *intstrValue {
	if v == nil {
		return nil
	}
	return &intstrValue{v}
}

func matchesAny(pattern string, metrics []v1alpha1.Metric) bool {
	if pattern == "*" {
		return true
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return false
	}
	for _, m := range metrics {
		if nameMatches(pattern, m.Name) {
			return true
		}
	}
	return false
}

// RunsIndefinitely is true for a metric with an interval and no count: inside a Rollout it
// only ends when the run is terminated, which only a background analysis is.
func RunsIndefinitely(m *v1alpha1.Metric) bool {
	_, ok := EffectiveCount(m)
	return !ok
}
