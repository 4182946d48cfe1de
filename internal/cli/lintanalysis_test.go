package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestUnguardedIndex(t *testing.T) {
	for cond, want := range map[string]bool{
		"result[0] >= 0.95":                                      true,
		"result [0] < 0.5 && result[1] < 1":                      true,
		`result["p99"] < 500`:                                    true,
		"len(result) == 0 || result[0] >= 0.95":                  false,
		"len( result ) > 0 && result[0] < 0.9":                   false,
		"isNil(result) || result[0] >= 0.95":                     false,
		"default(result[0], 0) < 1":                              true, // result[0] is evaluated first
		"default(result, 0) == 0 || result[0] < 1":               false,
		"isNaN(result[0]) || result[0] >= 0.95":                  true, // NaN is not an empty vector
		"result >= 0.95":                                         false,
		"all(result, {# >= 0.95})":                               false,
		"asFloat(result) >= 0.95":                                false,
		"":                                                       false,
		"resultset[0] > 1 || myresult[0] > 1 || len(result) > 0": false,
	} {
		if got := UnguardedIndex(cond); got != want {
			t.Errorf("UnguardedIndex(%q) = %v, want %v", cond, got, want)
		}
	}
}

// The analysis checks of lint, one line per problem: the arguments, a step metric that would
// measure forever (the same template as background analysis is fine), the Rollout's dryRun,
// missing templates (with the clusterScope hint), the templates' own problems; and the
// unguarded result[0] as a warning.
func TestLintAnalysis(t *testing.T) {
	const f = "testdata/lint/analysis.yaml"
	docs, err := readManifests([]string{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	problems, warnings, n := LintWithWarnings(docs)
	if n != 1 {
		t.Fatalf("%d Rollouts", n)
	}
	want := []string{
		f + `: Rollout with-analysis: spec.strategy.canary.steps[1].analysis: no value for argument service: give it in the Rollout's analysis args or a default in the template`,
		f + `: Rollout with-analysis: spec.strategy.canary.steps[2].analysis.dryRun[0]: metricName "nope" matches no metric`,
		f + `: Rollout with-analysis: spec.strategy.canary.steps[2].analysis: metric "errors" has an interval and no count: it measures until the run is terminated, so the step would never finish; set count, or move it to the background analysis (spec.strategy.canary.analysis)`,
		f + `: Rollout with-analysis: spec.strategy.canary.steps[3].analysis: ClusterAnalysisTemplate "success-rate" is not in the given files (lint checks references against the objects given with -f); there is an AnalysisTemplate "success-rate": set clusterScope: false`,
		f + `: Rollout with-analysis: spec.strategy.canary.steps[4].analysis: ClusterAnalysisTemplate "latency" is not in the given files (lint checks references against the objects given with -f)`,
		f + ` (document 4): AnalysisTemplate broken: metrics[0] (twice): count is 3 but interval is not set: measurements need an interval between them`,
		f + ` (document 4): AnalysisTemplate broken: metric "twice" uses {{args.target}}, but no argument "target" is declared`,
	}
	if got := strings.Join(problems, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// Only the unguarded successCondition: the failureCondition checks len(result), the
	// ClusterAnalysisTemplate checks len(result).
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], f+` (document 2): AnalysisTemplate success-rate: warning: metric "success-rate": successCondition "result[0] >= 0.95" indexes the result without a guard for an empty one`) {
		t.Errorf("warnings:\n%s", strings.Join(warnings, "\n"))
	}

	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Run(t.Context(), args, strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
	if out, errs, code := run("lint", "-f", f); code != 1 || errs != "Error: 7 problem(s) in "+f+"\n" || strings.Count(out, "\n") != 8 {
		t.Errorf("lint: exit %d\n%s%s", code, out, errs)
	}
	// Templates alone can be linted (examples/analysis has no Rollout).
	if out, errs, code := run("lint", "-f", "../../examples/analysis/nginx-ingress.yaml"); code != 0 || !strings.HasSuffix(out, "0 Rollout(s) and 2 analysis template(s) checked, no problems\n") {
		t.Errorf("lint of templates only: exit %d\n%s%s", code, out, errs)
	}
}
