package cloudwatch

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/fxamacker/cbor/v2"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

var now = time.Date(2026, 2, 3, 4, 5, 0, 0, time.UTC)

// fakeCloudWatch answers GetMetricData in the Smithy RPC v2 CBOR protocol the SDK speaks
// (POST /service/GraniteServiceVersion20100801/operation/GetMetricData). It checks the SigV4
// credential and records the decoded request, or, when reply is set, lets reply answer it.
type fakeCloudWatch struct {
	t      *testing.T
	answer map[string]any
	status int
	got    map[string]any
	reply  func(w http.ResponseWriter, r *http.Request, got map[string]any)
}

func (f *fakeCloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/service/GraniteServiceVersion20100801/operation/GetMetricData" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-west-1/monitoring/aws4_request") {
		w.WriteHeader(http.StatusForbidden)
		b, _ := cbor.Marshal(map[string]any{"__type": "com.amazon.coral.service#AccessDeniedException", "message": "bad signature"})
		_, _ = w.Write(b)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var got map[string]any
	if err := cbor.Unmarshal(b, &got); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if f.reply != nil {
		f.reply(w, r, got)
		return
	}
	f.got = got
	if f.status != 0 {
		w.WriteHeader(f.status)
	}
	out, err := cbor.Marshal(f.answer)
	if err != nil {
		f.t.Fatal(err)
	}
	_, _ = w.Write(out)
}

func provider(t *testing.T, f *fakeCloudWatch, key string) *Provider {
	t.Helper()
	f.t = t
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return NewWithConfig(aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider(key, "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.Client(),
	})
}

func epoch(t time.Time) cbor.Tag { return cbor.Tag{Number: 1, Content: float64(t.Unix())} }

func request() metricprovider.Request {
	expr := "errors / requests"
	ns := "app"
	no := false
	return metricprovider.Request{Now: now, Metric: v1alpha1.Metric{Name: "rate", Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{
		Interval: "30m",
		MetricDataQueries: []v1alpha1.CloudWatchMetricDataQuery{
			{ID: "rate", Expression: &expr},
			{ID: "errors", ReturnData: &no, MetricStat: &v1alpha1.CloudWatchMetricStat{
				Metric: v1alpha1.CloudWatchMetricStatMetric{Namespace: &ns, MetricName: "errors", Dimensions: []v1alpha1.CloudWatchMetricStatMetricDimension{{Name: "svc", Value: "web"}}},
				Period: intstr.FromInt32(300), Stat: "Sum", Unit: "Count",
			}},
		},
	}}}}
}

func TestGetMetricData(t *testing.T) {
	f := &fakeCloudWatch{answer: map[string]any{
		"MetricDataResults": []any{map[string]any{
			"Id": "rate", "Label": "rate", "StatusCode": "Complete",
			"Timestamps": []any{epoch(now.Add(-5 * time.Minute)), epoch(now.Add(-10 * time.Minute))},
			"Values":     []any{0.004, 0.006},
		}},
		"Messages": []any{map[string]any{"Code": "MaxQueryTimeRangeExceed", "Value": "partial"}},
	}}
	res := provider(t, f, "AKIDTEST").Measure(t.Context(), request())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	results := res.Value.([]map[string]any)
	if len(results) != 1 || results[0]["Id"] != "rate" || results[0]["StatusCode"] != "Complete" {
		t.Fatalf("got %+v", results)
	}
	if v := results[0]["Values"].([]float64); len(v) != 2 || v[1] != 0.006 || res.Display != "[[0.004 0.006]]" {
		t.Fatalf("values %v display %q", v, res.Display)
	}
	if ts := results[0]["Timestamps"].([]time.Time); !ts[0].Equal(now.Add(-5 * time.Minute)) {
		t.Fatalf("timestamps %v", ts)
	}
	if res.Metadata["messages"] != "MaxQueryTimeRangeExceed: partial" {
		t.Fatalf("metadata %v", res.Metadata)
	}
	start, _ := f.got["StartTime"].(time.Time) // CBOR tag 1, epoch seconds
	end, _ := f.got["EndTime"].(time.Time)
	if !start.Equal(now.Add(-30*time.Minute)) || !end.Equal(now) {
		t.Fatalf("window %v..%v: want the last 30m", f.got["StartTime"], f.got["EndTime"])
	}
	qs := f.got["MetricDataQueries"].([]any)
	stat := qs[1].(map[any]any)["MetricStat"].(map[any]any)
	metric := stat["Metric"].(map[any]any)
	if qs[0].(map[any]any)["Expression"] != "errors / requests" || stat["Stat"] != "Sum" || stat["Unit"] != "Count" ||
		metric["Namespace"] != "app" || qs[1].(map[any]any)["ReturnData"] != false || toFloat(stat["Period"]) != 300 {
		t.Fatalf("queries %v", qs)
	}
	if dims := metric["Dimensions"].([]any); dims[0].(map[any]any)["Value"] != "web" {
		t.Fatalf("dimensions %v", dims)
	}
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case uint64:
		return float64(v)
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return -1
}

func TestEmptyAndErrors(t *testing.T) {
	f := &fakeCloudWatch{answer: map[string]any{"MetricDataResults": []any{
		map[string]any{"Id": "rate", "Label": "rate", "StatusCode": "Complete", "Timestamps": []any{}, "Values": []any{}},
	}}}
	p := provider(t, f, "AKIDTEST")
	res := p.Measure(t.Context(), request())
	if res.Err != nil || !res.Empty || !strings.Contains(res.Message, "rate = errors / requests") {
		t.Fatalf("got %+v, want empty naming the queries", res)
	}
	if v := res.Value.([]map[string]any)[0]["Values"].([]float64); v == nil || len(v) != 0 {
		t.Fatalf("empty values %v: want an empty list, so len(result[0].Values) works", v)
	}
	f.status = http.StatusBadRequest
	f.answer = map[string]any{"__type": "com.amazonaws.cloudwatch#InvalidParameterValueException", "message": "The value errors / requests for parameter Expression is not valid."}
	if res := p.Measure(t.Context(), request()); res.Err == nil || !strings.Contains(res.Message, "InvalidParameterValue") {
		t.Fatalf("got %+v, want CloudWatch's error", res)
	}
	f.status = 0
	if res := provider(t, &fakeCloudWatch{}, "AKIDOTHER").Measure(t.Context(), request()); res.Err == nil || !strings.Contains(res.Message, "AccessDenied") {
		t.Fatalf("got %+v, want access denied", res)
	}
}
