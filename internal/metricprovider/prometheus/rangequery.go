package prometheus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// queryRange evaluates rangeQuery's bounds at now. start and end are expressions in the
// expression language of conditions (github.com/expr-lang/expr), as in Argo Rollouts:
// `now() - duration("5m")`, `now()`; now() is the measurement's time. end defaults to now().
// step is a duration ("1m", "30s", "1h30m") or a number of seconds.
func queryRange(q *v1alpha1.PrometheusRangeQueryArgs, now time.Time) (promv1.Range, error) {
	if strings.TrimSpace(q.Start) == "" {
		return promv1.Range{}, errors.New(`prometheus rangeQuery needs a start, such as now() - duration("5m")`)
	}
	start, err := instant(q.Start, now)
	if err != nil {
		return promv1.Range{}, fmt.Errorf("prometheus rangeQuery start %q: %w", q.Start, err)
	}
	end := now
	if strings.TrimSpace(q.End) != "" {
		if end, err = instant(q.End, now); err != nil {
			return promv1.Range{}, fmt.Errorf("prometheus rangeQuery end %q: %w", q.End, err)
		}
	}
	if end.Before(start) {
		return promv1.Range{}, fmt.Errorf("prometheus rangeQuery: end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	step, err := parseStep(q.Step)
	if err != nil {
		return promv1.Range{}, fmt.Errorf("prometheus rangeQuery step %q: %w", q.Step, err)
	}
	return promv1.Range{Start: start, End: end, Step: step}, nil
}

// instant evaluates a bound: an expression giving a time, or (for convenience) an RFC 3339
// time or Unix seconds.
func instant(s string, now time.Time) (time.Time, error) {
	prog, err := expr.Compile(s,
		expr.DisableBuiltin("now"),
		expr.Function("now", func(...any) (any, error) { return now, nil }, new(func() time.Time)),
	)
	if err != nil {
		if t, perr := time.Parse(time.RFC3339, strings.TrimSpace(s)); perr == nil {
			return t, nil
		}
		return time.Time{}, err
	}
	out, err := expr.Run(prog, nil)
	if err != nil {
		return time.Time{}, err
	}
	switch v := out.(type) {
	case time.Time:
		return v, nil
	case string:
		return time.Parse(time.RFC3339, v)
	case int:
		return time.Unix(int64(v), 0), nil
	case float64:
		return time.UnixMilli(int64(v * 1000)), nil
	}
	return time.Time{}, fmt.Errorf("evaluates to %T, want a time such as now() - duration(\"5m\")", out)
}

func parseStep(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New(`prometheus rangeQuery needs a step, such as "1m"`)
	}
	var d time.Duration
	if md, err := model.ParseDuration(s); err == nil {
		d = time.Duration(md)
	} else if gd, err := time.ParseDuration(s); err == nil {
		d = gd
	} else if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else {
		return 0, errors.New("not a duration")
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}
