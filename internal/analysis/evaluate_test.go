package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Conditions as Argo Rollouts users write them (from its docs and examples).
func TestEvalCondition(t *testing.T) {
	for _, tc := range []struct {
		cond  string
		value any
		want  bool
		err   string
	}{
		{cond: "result[0] >= 0.95", value: []float64{0.97}, want: true},
		{cond: "result[0] >= 0.95", value: []float64{0.5}, want: false},
		{cond: "result[0] >= 0.95", value: []float64{}, err: "result is empty"},
		{cond: "len(result) == 0 || result[0] < 0.05", value: []float64{}, want: true}, // guarded: expr stops at the guard
		{cond: "len(result) > 0 && result[0] < 0.05", value: []float64{}, want: false},
		{cond: "len(result) == 0", value: []float64{}, want: true},
		{cond: "result < 0.05", value: 0.01, want: true},
		{cond: "isNaN(result)", value: math.NaN(), want: true},
		{cond: "isNaN(result[0]) || result[0] >= 0.9", value: []float64{math.NaN()}, want: true},
		{cond: "isInf(result)", value: math.Inf(1), want: true},
		{cond: "default(result, 0) < 1", value: nil, want: true},
		{cond: "isNil(result)", value: (*float64)(nil), want: true},
		{cond: "asInt(result) == 3", value: "3", want: true},
		{cond: "asFloat(result) > 0.5", value: "0.75", want: true},
		{cond: "asInt(result) == 3", value: "three", err: "asInt"},
		{cond: "result.status == 'ok'", value: map[string]any{"status": "ok"}, want: true},
		{cond: "result == true", value: true, want: true},
		{cond: "all(result, {# < 0.1})", value: []float64{0.01, 0.05}, want: true},
		{cond: "result + 1", value: 1.0, err: "expected bool"},
		{cond: "result >=", value: 1.0, err: "unexpected"},
	} {
		got, err := EvalCondition(tc.value, tc.cond)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s on %v: error %v, want one containing %q", tc.cond, tc.value, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s on %v = %v, %v; want %v", tc.cond, tc.value, got, err, tc.want)
		}
	}
}

func TestEvaluateConditionCombinations(t *testing.T) {
	const ok, bad = "result > 5", "result < 2"
	for _, tc := range []struct {
		success, failure string
		value            float64
		want             v1alpha1.AnalysisPhase
	}{
		{"", "", 0, v1alpha1.AnalysisPhaseSuccessful},
		{ok, "", 9, v1alpha1.AnalysisPhaseSuccessful},
		{ok, "", 3, v1alpha1.AnalysisPhaseFailed},
		{"", bad, 3, v1alpha1.AnalysisPhaseSuccessful},
		{"", bad, 1, v1alpha1.AnalysisPhaseFailed},
		{ok, bad, 3, v1alpha1.AnalysisPhaseInconclusive},
		{ok, bad, 9, v1alpha1.AnalysisPhaseSuccessful},
		{"result > 0", "result > 0", 1, v1alpha1.AnalysisPhaseFailed}, // failure wins
	} {
		m := &v1alpha1.Metric{Name: "m", SuccessCondition: tc.success, FailureCondition: tc.failure}
		if got, err := Evaluate(m, tc.value); got != tc.want || err != nil {
			t.Errorf("success=%q failure=%q value=%v: %s (%v), want %s", tc.success, tc.failure, tc.value, got, err, tc.want)
		}
	}
	m := &v1alpha1.Metric{Name: "m", SuccessCondition: "result[0] > 1"}
	got, err := Evaluate(m, []float64{})
	if got != v1alpha1.AnalysisPhaseError || err == nil || !strings.Contains(err.Error(), "no data") || !strings.Contains(err.Error(), "result[0] > 1") {
		t.Errorf("empty result: %s, %v; want an Error naming the condition and the missing data", got, err)
	}
}
