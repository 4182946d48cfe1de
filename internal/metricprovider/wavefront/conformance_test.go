package wavefront

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

// conformanceReply answers the chart query value(v), nodata(), slow(v,delay); anything else
// is a query Wavefront rejects.
func conformanceReply(w http.ResponseWriter, r *http.Request, query string) {
	name, arg, _ := strings.Cut(strings.TrimSuffix(query, ")"), "(")
	series := func(v string) {
		_, _ = fmt.Fprintf(w, `{"query":%q,"timeseries":[{"label":"x","host":"h","data":[[1700000000,%s]]}]}`, query, v)
	}
	switch name {
	case "value":
		series(arg)
	case "nodata":
		_, _ = fmt.Fprint(w, `{"timeseries":[],"warnings":"No metrics matching: [nodata]"}`)
	case "slow":
		v, d, _ := strings.Cut(arg, ",")
		delay, _ := time.ParseDuration(d)
		select {
		case <-time.After(delay):
			series(v)
		case <-r.Context().Done():
		}
	default:
		http.Error(w, `{"message":"Query syntax error: Unknown function: `+name+`"}`, http.StatusBadRequest)
	}
}

func TestConformance(t *testing.T) {
	addr := serveWith(t, time.Time{}, conformanceReply)
	down := "http://" + providertest.UnreachableAddress(t)
	metric := func(address, query string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "wavefront", Provider: v1alpha1.MetricProvider{Wavefront: &v1alpha1.WavefrontMetric{Address: address, Query: query}}}
	}
	providertest.Run(t, &providertest.Case{
		Provider: NewWithTokens(map[string]string{addr: "tok", down: "tok"}),
		Metric: func(t *testing.T, a providertest.Answer) v1alpha1.Metric {
			t.Helper()
			switch a.Kind {
			case providertest.KindValue:
				return metric(addr, fmt.Sprintf("value(%g)", a.Value))
			case providertest.KindNoData:
				return metric(addr, "nodata()")
			case providertest.KindError:
				return metric(addr, "error()")
			case providertest.KindSlow:
				return metric(addr, fmt.Sprintf("slow(%g,%s)", a.Value, a.Delay))
			case providertest.KindUnreachable:
				return metric(down, "value(1)")
			}
			t.Fatalf("unknown answer %s", a)
			return v1alpha1.Metric{}
		},
		// One series is a scalar shown with two decimals, as in Argo.
		Want:  func(v float64) (any, string) { return v, fmt.Sprintf("%.2f", v) },
		Query: func(m v1alpha1.Metric) string { return m.Provider.Wavefront.Query },
		Zero:  v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{Wavefront: &v1alpha1.WavefrontMetric{}}},
	})
}
