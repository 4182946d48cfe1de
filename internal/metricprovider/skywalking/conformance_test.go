package skywalking

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

// conformanceReply answers the query value(v), nodata(), slow(v,delay) with data {"value": v}
// or null; anything else is a query SkyWalking rejects with a GraphQL error.
func conformanceReply(w http.ResponseWriter, r *http.Request, req graphqlRequest) {
	if _, ok := req.Variables["duration"]; !ok {
		_, _ = fmt.Fprint(w, `{"data":null,"errors":[{"message":"Variable 'duration' has an invalid value: null"}]}`)
		return
	}
	name, arg, _ := strings.Cut(strings.TrimSuffix(req.Query, ")"), "(")
	switch name {
	case "value":
		_, _ = fmt.Fprintf(w, `{"data":{"value":%s}}`, arg)
	case "nodata":
		_, _ = fmt.Fprint(w, `{"data":null}`)
	case "slow":
		v, d, _ := strings.Cut(arg, ",")
		delay, _ := time.ParseDuration(d)
		select {
		case <-time.After(delay):
			_, _ = fmt.Fprintf(w, `{"data":{"value":%s}}`, v)
		case <-r.Context().Done():
		}
	default:
		_, _ = fmt.Fprint(w, `{"data":null,"errors":[{"message":"Validation error of type FieldUndefined: Field '`+name+`' in type 'Query' is undefined"}]}`)
	}
}

func TestConformance(t *testing.T) {
	addr := serveWith(t, conformanceReply)
	down := "http://" + providertest.UnreachableAddress(t)
	metric := func(address, query string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "skywalking", Provider: v1alpha1.MetricProvider{SkyWalking: &v1alpha1.SkyWalkingMetric{Address: address, Query: query}}}
	}
	providertest.Run(t, &providertest.Case{
		Provider: New(metricprovider.Deps{}),
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
		// The result is GraphQL's data object.
		Want: func(v float64) (any, string) {
			data := map[string]any{"value": v}
			b, _ := json.Marshal(data)
			return data, string(b)
		},
		Query: func(m v1alpha1.Metric) string { return m.Provider.SkyWalking.Query },
		Zero:  v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{SkyWalking: &v1alpha1.SkyWalkingMetric{}}},
	})
}
