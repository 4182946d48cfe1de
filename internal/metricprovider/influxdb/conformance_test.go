package influxdb

import (
	"fmt"
	"io"
	"net/http"
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

// oneRecord is an annotated-CSV answer with one record whose _value is v.
func oneRecord(v string) string {
	return "#datatype,string,long,dateTime:RFC3339,double,string,string\r\n" +
		"#group,false,false,false,false,true,true\r\n" +
		"#default,_result,,,,,\r\n" +
		",result,table,_time,_value,_field,_measurement\r\n" +
		",,0,2026-01-01T00:10:00Z," + v + ",rate,errors\r\n" +
		"\r\n"
}

// conformanceReply answers the Flux value(v), nodata(), slow(v,delay) with one record of v or
// none; anything else does not compile.
func conformanceReply(w http.ResponseWriter, r *http.Request, query string) {
	csv := func(body string) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = io.WriteString(w, body)
	}
	name, arg, _ := strings.Cut(strings.TrimSuffix(query, ")"), "(")
	switch name {
	case "value":
		csv(oneRecord(arg))
	case "nodata":
		csv("\r\n")
	case "slow":
		v, d, _ := strings.Cut(arg, ",")
		delay, _ := time.ParseDuration(d)
		select {
		case <-time.After(delay):
			csv(oneRecord(v))
		case <-r.Context().Done():
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"code":"invalid","message":"compilation failed: error at @1:1-1:6: undefined identifier %s"}`, name)
	}
}

func TestConformance(t *testing.T) {
	creds := serveWith(t, conformanceReply)
	secret := func(name, address string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "sluice", Name: name}, Data: map[string][]byte{
			"address": []byte(address), "authToken": []byte(creds.AuthToken), "org": []byte(creds.Org),
		}}
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret(DefaultProfile, creds.Address), secret("down", "http://"+providertest.UnreachableAddress(t)),
	).Build()
	metric := func(profile, query string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "influxdb", Provider: v1alpha1.MetricProvider{Influxdb: &v1alpha1.InfluxdbMetric{Profile: profile, Query: query}}}
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
		// The result is the list of the records' _value.
		Want:  func(v float64) (any, string) { return []any{v}, fmt.Sprint([]any{v}) },
		Query: func(m v1alpha1.Metric) string { return m.Provider.Influxdb.Query },
		Zero:  v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{Influxdb: &v1alpha1.InfluxdbMetric{}}},
	})
}
