package influxdb

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

const flux = `from(bucket: "app") |> range(start: -15m) |> filter(fn: (r) => r._measurement == "errors")`

// twoTables is an annotated-CSV answer with two tables, as InfluxDB 2 writes it.
const twoTables = "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string\r\n" +
	"#group,false,false,true,true,false,false,true,true\r\n" +
	"#default,_result,,,,,,,\r\n" +
	",result,table,_start,_stop,_time,_value,_field,_measurement\r\n" +
	",,0,2026-01-01T00:00:00Z,2026-01-01T00:15:00Z,2026-01-01T00:10:00Z,0.005,rate,errors\r\n" +
	",,1,2026-01-01T00:00:00Z,2026-01-01T00:15:00Z,2026-01-01T00:10:00Z,0.02,rate,errors\r\n" +
	"\r\n"

func serve(t *testing.T, status int, answer string) Credentials {
	t.Helper()
	return serveWith(t, func(w http.ResponseWriter, _ *http.Request, query string) {
		switch {
		case query != flux:
			http.Error(w, "want the Flux query in the JSON body", http.StatusBadRequest)
		case status != http.StatusOK:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, answer)
		default:
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			_, _ = io.WriteString(w, answer)
		}
	})
}

// serveWith is InfluxDB's query API: it checks the token, the org and the JSON body, then lets
// reply answer the Flux query.
func serveWith(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, query string)) Credentials {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Query string `json:"query"`
			Type  string `json:"type"`
		}
		b, _ := io.ReadAll(r.Body)
		switch {
		case r.Header.Get("Authorization") != "Token tok":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"unauthorized","message":"unauthorized access"}`)
		case r.Method != http.MethodPost || r.URL.Path != "/api/v2/query" || r.URL.Query().Get("org") != "acme":
			http.Error(w, "want POST /api/v2/query?org=acme", http.StatusBadRequest)
		case json.Unmarshal(b, &body) != nil || body.Query == "":
			http.Error(w, "want a Flux query in the JSON body", http.StatusBadRequest)
		default:
			reply(w, r, body.Query)
		}
	}))
	t.Cleanup(srv.Close)
	return Credentials{Address: srv.URL, AuthToken: "tok", Org: "acme"}
}

func request() metricprovider.Request {
	return metricprovider.Request{Metric: v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{
		Influxdb: &v1alpha1.InfluxdbMetric{Query: flux},
	}}}
}

func TestValuesOfEveryRecord(t *testing.T) {
	res := NewWithCredentials(serve(t, http.StatusOK, twoTables)).Measure(t.Context(), request())
	got, ok := res.Value.([]any)
	if res.Err != nil || !ok || len(got) != 2 || got[0] != 0.005 || got[1] != 0.02 || res.Display != "[0.005 0.02]" {
		t.Fatalf("got %+v, want [0.005 0.02]", res)
	}
}

func TestEmptyAndErrors(t *testing.T) {
	res := NewWithCredentials(serve(t, http.StatusOK, "\r\n")).Measure(t.Context(), request())
	if res.Err != nil || !res.Empty || !strings.Contains(res.Message, "range(start: -15m)") {
		t.Fatalf("got %+v, want empty naming the query", res)
	}
	creds := serve(t, http.StatusBadRequest, `{"code":"invalid","message":"compilation failed: error at @1:1-1:5: undefined identifier fron"}`)
	res = NewWithCredentials(creds).Measure(t.Context(), request())
	if res.Err == nil || !strings.Contains(res.Message, "compilation failed") {
		t.Fatalf("got %+v, want InfluxDB's error", res)
	}
	creds.AuthToken = "wrong"
	if res := NewWithCredentials(creds).Measure(t.Context(), request()); res.Err == nil || !strings.Contains(res.Message, "unauthorized") {
		t.Fatalf("got %+v", res)
	}
}

func TestProfileSecret(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "sluice", Name: "influxdb"}, Data: map[string][]byte{
			"address": []byte("http://influx:8086"), "authToken": []byte("tok"), "org": []byte("acme"),
		}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "sluice", Name: "partial"}, Data: map[string][]byte{"address": []byte("x")}},
	).Build()
	deps := metricprovider.Deps{Client: c, Namespace: "sluice"}
	if got, err := secretCredentials(t.Context(), deps, "influxdb"); err != nil || got != (Credentials{"http://influx:8086", "tok", "acme"}) {
		t.Fatalf("got %+v %v", got, err)
	}
	if _, err := secretCredentials(t.Context(), deps, "partial"); err == nil {
		t.Fatal("want an error for a Secret without authToken and org")
	}
}
