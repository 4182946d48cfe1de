package newrelic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

// conformanceReply answers the NRQL value(v), nodata(), slow(v,delay) with one row
// {"value": v} or none; anything else is an NRQL syntax error.
func conformanceReply(w http.ResponseWriter, r *http.Request, req gqlRequest) {
	rows := func(v string) {
		_, _ = fmt.Fprintf(w, `{"data":{"actor":{"account":{"nrql":{"results":[{"value":%s}]}}}}}`, v)
	}
	if req.Variables.AccountID != 42 {
		_, _ = fmt.Fprint(w, `{"data":{"actor":{"account":null}},"errors":[{"message":"Access denied to account"}]}`)
		return
	}
	name, arg, _ := strings.Cut(strings.TrimSuffix(req.Variables.Query, ")"), "(")
	switch name {
	case "value":
		rows(arg)
	case "nodata":
		_, _ = fmt.Fprint(w, `{"data":{"actor":{"account":{"nrql":{"results":[]}}}}}`)
	case "slow":
		v, d, _ := strings.Cut(arg, ",")
		delay, _ := time.ParseDuration(d)
		select {
		case <-time.After(delay):
			rows(v)
		case <-r.Context().Done():
		}
	default:
		_, _ = fmt.Fprint(w, `{"data":{"actor":{"account":{"nrql":null}}},"errors":[{"message":"NRQL Syntax Error: Error at line 1 position 1"}]}`)
	}
}

func TestConformance(t *testing.T) {
	creds := serveWith(t, conformanceReply)
	secret := func(name, url string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "sluice", Name: name}, Data: map[string][]byte{
			"personal-api-key": []byte(creds.APIKey), "account-id": []byte(strconv.Itoa(creds.AccountID)), "base-url-nerdgraph": []byte(url),
		}}
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret(DefaultProfile, creds.NerdGraphURL), secret("down", "http://"+providertest.UnreachableAddress(t)+"/graphql"),
	).Build()
	metric := func(profile, query string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "newrelic", Provider: v1alpha1.MetricProvider{NewRelic: &v1alpha1.NewRelicMetric{Profile: profile, Query: query}}}
	}
	providertest.Run(t, &providertest.Case{
		Provider: New(metricprovider.Deps{Client: c, Namespace: "sluice"}),
		Metric: func(t *testing.T, a providertest.Answer) v1alpha1.Metric {
			t.Helper()
			switch a.Kind {
			case providertest.KindValue:
				return metric("", fmt.Sprintf("value(%g)", a.Value))
			case providertest.KindNoData:
				return metric("", "nodata()")
			case providertest.KindError:
				return metric("", "error()")
			case providertest.KindSlow:
				return metric("", fmt.Sprintf("slow(%g,%s)", a.Value, a.Delay))
			case providertest.KindUnreachable:
				return metric("down", "value(1)")
			}
			t.Fatalf("unknown answer %s", a)
			return v1alpha1.Metric{}
		},
		// One row is the result, as a map.
		Want: func(v float64) (any, string) {
			row := map[string]any{"value": v}
			b, _ := json.Marshal(row)
			return row, string(b)
		},
		Query: func(m v1alpha1.Metric) string { return m.Provider.NewRelic.Query },
		SetTimeout: func(m *v1alpha1.Metric, s int64) {
			m.Provider.NewRelic.Timeout = &s
		},
		Zero: v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{NewRelic: &v1alpha1.NewRelicMetric{}}},
	})
}
