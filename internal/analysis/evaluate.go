package analysis

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Evaluate decides a measurement's phase from its value with the metric's conditions, as
// Argo Rollouts does: no condition = Successful; only successCondition: not met = Failed;
// only failureCondition: not met = Successful; both: neither met = Inconclusive, failure wins
// when both are met. A condition that cannot be evaluated makes the measurement an Error,
// with a message that names the condition, its text and, for an empty result, says so.
func Evaluate(m *v1alpha1.Metric, value any) (v1alpha1.AnalysisPhase, error) {
	var ok, failed bool
	var err error
	if m.SuccessCondition != "" {
		if ok, err = EvalCondition(value, m.SuccessCondition); err != nil {
			return v1alpha1.AnalysisPhaseError, conditionError("successCondition", m.SuccessCondition, value, err)
		}
	}
	if m.FailureCondition != "" {
		if failed, err = EvalCondition(value, m.FailureCondition); err != nil {
			return v1alpha1.AnalysisPhaseError, conditionError("failureCondition", m.FailureCondition, value, err)
		}
	}
	switch {
	case m.SuccessCondition == "" && m.FailureCondition == "":
		return v1alpha1.AnalysisPhaseSuccessful, nil
	case m.FailureCondition == "":
		failed = !ok
	case m.SuccessCondition == "":
		ok = !failed
	}
	switch {
	case failed:
		return v1alpha1.AnalysisPhaseFailed, nil
	case ok:
		return v1alpha1.AnalysisPhaseSuccessful, nil
	}
	return v1alpha1.AnalysisPhaseInconclusive, nil
}

func conditionError(kind, cond string, value any, err error) error {
	if isEmpty(value) {
		return fmt.Errorf("could not evaluate %s %q: the metric returned no data", kind, cond)
	}
	return fmt.Errorf("could not evaluate %s %q: %w", kind, cond, err)
}

// indexesResult matches a condition that indexes the result (result[0]).
var indexesResult = regexp.MustCompile(`\bresult\s*\[`)

// IndexesResult reports whether a condition indexes the result (result[0], result["x"]):
// such a condition fails with an error on an empty result unless it guards against it.
func IndexesResult(cond string) bool { return indexesResult.MatchString(cond) }

// EvalCondition evaluates one condition with `result` bound to value. The environment is
// Argo Rollouts': asInt, asFloat, isNaN, isInf, isNil(result) and default(result, fallback).
func EvalCondition(value any, cond string) (bool, error) {
	value = deref(value)
	env := map[string]any{
		"result":  value,
		"asInt":   asInt,
		"asFloat": asFloat,
		"isNaN":   math.IsNaN,
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		"isNil":   func(any) bool { return isNil(value) },
		"default": func(_, fallback any) any {
			if isNil(value) {
				return fallback
			}
			return value
		},
	}
	program, err := expr.Compile(cond, expr.Env(env))
	if err != nil {
		return false, plainError(err)
	}
	out, err := runSafely(program, env)
	if err != nil {
		if IndexesResult(cond) && isEmpty(value) {
			// A guarded condition (len(result) == 0 || result[0] > 1) never gets here: expr
			// stops at the guard.
			return false, errors.New("the result is empty and the condition indexes into it; guard it with len(result) > 0")
		}
		return false, plainError(err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expected bool, but got %T", out)
	}
	return b, nil
}

// runSafely runs a compiled condition; a panic in a helper (asInt("x")) is an error.
func runSafely(program *vm.Program, env map[string]any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return expr.Run(program, env)
}

// plainError drops expr's multi-line source excerpt, which does not fit a status message.
func plainError(err error) error {
	if fe, ok := errors.AsType[*file.Error](err); ok {
		return errors.New(fe.Message)
	}
	return err
}

func asInt(in any) int64 {
	switch v := deref(in).(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			panic(fmt.Sprintf("asInt(%q): %v", v, err))
		}
		return n
	default:
		f, ok := number(v)
		if !ok {
			panic(fmt.Sprintf("asInt() does not take %T %v", in, in))
		}
		return int64(f)
	}
}

func asFloat(in any) float64 {
	switch v := deref(in).(type) {
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic(fmt.Sprintf("asFloat(%q): %v", v, err))
		}
		return f
	default:
		f, ok := number(v)
		if !ok {
			panic(fmt.Sprintf("asFloat() does not take %T %v", in, in))
		}
		return f
	}
}

func number(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	default:
		return 0, false
	}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface, reflect.Func:
		return rv.IsNil()
	default:
		return false
	}
}

// isEmpty is nil, or an empty list, map or string.
func isEmpty(v any) bool {
	v = deref(v)
	if isNil(v) {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return rv.Len() == 0
	default:
		return false
	}
}

// deref lets providers pass pointers: a nil pointer is nil, others their value.
func deref(v any) any {
	if isNil(v) {
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		return rv.Elem().Interface()
	}
	return v
}
