package datadog_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
	"github.com/sluicehq/sluice/internal/metricprovider/datadog"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

// backend is Datadog's v1 query API whose query says what to answer: value:<v>, nodata,
// error, or slow:<v>:<delay>.
func backend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.Header.Get("DD-API-KEY") != "k" {
			http.Error(w, `{"errors":["Forbidden"]}`, http.StatusForbidden)
			return
		}
		parts := strings.Split(r.URL.Query().Get("query"), ":")
		switch parts[0] {
		case "value":
			_, _ = fmt.Fprintf(w, `{"status":"ok","series":[{"pointlist":[[1700000000000,%s]]}]}`, parts[1])
		case "nodata":
			_, _ = fmt.Fprint(w, `{"status":"ok","series":[]}`)
		case "slow":
			delay, _ := time.ParseDuration(parts[2])
			select {
			case <-time.After(delay):
				_, _ = fmt.Fprintf(w, `{"status":"ok","series":[{"pointlist":[[1,%s]]}]}`, parts[1])
			case <-r.Context().Done():
			}
		default:
			http.Error(w, `{"errors":["Error parsing query"]}`, http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestConformance(t *testing.T) {
	secret := func(name, address string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "sluice", Name: name}, Data: map[string][]byte{
			"address": []byte(address), "api-key": []byte("k"), "app-key": []byte("a"),
		}}
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret("datadog", backend(t)), secret("down", "http://"+providertest.UnreachableAddress(t)),
	).Build()
	metric := func(query string, ref v1alpha1.SecretRef) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "datadog", Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{Query: query, SecretRef: ref}}}
	}
	providertest.Run(t, &providertest.Case{
		Provider: datadog.New(metricprovider.Deps{Client: c, Namespace: "sluice"}),
		Metric: func(t *testing.T, a providertest.Answer) v1alpha1.Metric {
			t.Helper()
			switch a.Kind {
			case providertest.KindValue:
				return metric(fmt.Sprintf("value:%g", a.Value), v1alpha1.SecretRef{})
			case providertest.KindNoData:
				return metric("nodata", v1alpha1.SecretRef{})
			case providertest.KindError:
				return metric("error", v1alpha1.SecretRef{})
			case providertest.KindSlow:
				return metric(fmt.Sprintf("slow:%g:%s", a.Value, a.Delay), v1alpha1.SecretRef{})
			case providertest.KindUnreachable:
				return metric("value:1", v1alpha1.SecretRef{Name: "down"})
			}
			t.Fatalf("unknown answer %s", a)
			return v1alpha1.Metric{}
		},
		Want:  func(v float64) (any, string) { return v, strconv.FormatFloat(v, 'f', -1, 64) },
		Query: func(m v1alpha1.Metric) string { return m.Provider.Datadog.Query },
		SetTimeout: func(m *v1alpha1.Metric, s int64) {
			m.Provider.Datadog.RequestTimeout = v1alpha1.DurationString(fmt.Sprintf("%ds", s))
		},
		Zero: v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{Datadog: &v1alpha1.DatadogMetric{}}},
	})
}
