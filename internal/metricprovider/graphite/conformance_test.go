package graphite_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/graphite"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

// backend is a render API whose target says what to answer: value(v), nodata, error, or
// slow(v,delay).
func backend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("target")
		name, arg, _ := strings.Cut(strings.TrimSuffix(target, ")"), "(")
		switch name {
		case "value":
			_, _ = fmt.Fprintf(w, `[{"target":%q,"datapoints":[[%s,1700000000]]}]`, target, arg)
		case "nodata":
			_, _ = fmt.Fprint(w, `[]`)
		case "slow":
			v, d, _ := strings.Cut(arg, ",")
			delay, _ := time.ParseDuration(d)
			select {
			case <-time.After(delay):
				_, _ = fmt.Fprintf(w, `[{"target":"slow","datapoints":[[%s,1700000000]]}]`, v)
			case <-r.Context().Done():
			}
		default:
			http.Error(w, "Internal Server Error: unknown function "+name, http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestConformance(t *testing.T) {
	addr := backend(t)
	metric := func(address, query string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "graphite", Provider: v1alpha1.MetricProvider{Graphite: &v1alpha1.GraphiteMetric{Address: address, Query: query}}}
	}
	providertest.Run(t, &providertest.Case{
		Provider: graphite.New(metricprovider.Deps{}),
		Metric: func(t *testing.T, a providertest.Answer) v1alpha1.Metric {
			t.Helper()
			switch a.Kind {
			case providertest.KindValue:
				return metric(addr, fmt.Sprintf("target=value(%g)", a.Value))
			case providertest.KindNoData:
				return metric(addr, "target=nodata")
			case providertest.KindError:
				return metric(addr, "target=error")
			case providertest.KindSlow:
				return metric(addr, fmt.Sprintf("target=slow(%g,%s)", a.Value, a.Delay))
			case providertest.KindUnreachable:
				return metric("http://"+providertest.UnreachableAddress(t), "target=value(1)")
			}
			t.Fatalf("unknown answer %s", a)
			return v1alpha1.Metric{}
		},
		Want: func(v float64) (any, string) {
			return []float64{v}, "[" + strconv.FormatFloat(v, 'f', 6, 64) + "]"
		},
		Query: func(m v1alpha1.Metric) string { return m.Provider.Graphite.Query },
		Zero:  v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{Graphite: &v1alpha1.GraphiteMetric{}}},
	})
}
