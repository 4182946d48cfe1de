package prometheus

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func TestQueryRangeBounds(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		q          v1alpha1.PrometheusRangeQueryArgs
		start, end time.Time
		step       time.Duration
		wantErr    bool
		name       string
	}{
		{name: "argo docs", q: v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("5m")`, End: "now()", Step: "1m"},
			start: now.Add(-5 * time.Minute), end: now, step: time.Minute},
		{name: "end defaults to now, step in seconds", q: v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("1h30m")`, Step: "15"},
			start: now.Add(-90 * time.Minute), end: now, step: 15 * time.Second},
		{name: "prometheus duration step", q: v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("24h")`, End: `now() - duration("1h")`, Step: "1d"},
			start: now.Add(-24 * time.Hour), end: now.Add(-time.Hour), step: 24 * time.Hour},
		{name: "rfc3339", q: v1alpha1.PrometheusRangeQueryArgs{Start: "2026-05-01T11:00:00Z", End: `"2026-05-01T11:30:00Z"`, Step: "30s"},
			start: now.Add(-time.Hour), end: now.Add(-30 * time.Minute), step: 30 * time.Second},
		{name: "no start", q: v1alpha1.PrometheusRangeQueryArgs{End: "now()", Step: "1m"}, wantErr: true},
		{name: "no step", q: v1alpha1.PrometheusRangeQueryArgs{Start: "now()"}, wantErr: true},
		{name: "bad step", q: v1alpha1.PrometheusRangeQueryArgs{Start: "now()", Step: "soon"}, wantErr: true},
		{name: "zero step", q: v1alpha1.PrometheusRangeQueryArgs{Start: "now()", Step: "0s"}, wantErr: true},
		{name: "not a time", q: v1alpha1.PrometheusRangeQueryArgs{Start: "1 == 1", Step: "1m"}, wantErr: true},
		{name: "bad expression", q: v1alpha1.PrometheusRangeQueryArgs{Start: "now() -", Step: "1m"}, wantErr: true},
		{name: "end before start", q: v1alpha1.PrometheusRangeQueryArgs{Start: "now()", End: `now() - duration("1m")`, Step: "1m"}, wantErr: true},
	} {
		r, err := queryRange(&c.q, now)
		if c.wantErr {
			if err == nil {
				t.Errorf("%s: want an error, got %+v", c.name, r)
			}
			continue
		}
		if err != nil || !r.Start.Equal(c.start) || !r.End.Equal(c.end) || r.Step != c.step {
			t.Errorf("%s: got %v..%v step %v, err %v; want %v..%v step %v", c.name, r.Start, r.End, r.Step, err, c.start, c.end, c.step)
		}
	}
}
