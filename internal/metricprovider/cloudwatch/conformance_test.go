package cloudwatch

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/fxamacker/cbor/v2"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

// pointAt is the timestamp of every datapoint the conformance backend answers.
var pointAt = time.Unix(1700000000, 0)

// conformanceReply answers GetMetricData whose first query's expression is value(v), nodata(),
// slow(v,delay) with one result holding v or nothing; any other expression is invalid.
func conformanceReply(w http.ResponseWriter, r *http.Request, got map[string]any) {
	expr := ""
	if qs, _ := got["MetricDataQueries"].([]any); len(qs) > 0 {
		q, _ := qs[0].(map[any]any)
		expr, _ = q["Expression"].(string)
	}
	write := func(values ...float64) {
		ts := make([]any, len(values))
		for i := range ts {
			ts[i] = epoch(pointAt)
		}
		b, _ := cbor.Marshal(map[string]any{"MetricDataResults": []any{map[string]any{
			"Id": "q", "Label": "q", "StatusCode": "Complete", "Timestamps": ts, "Values": values,
		}}})
		_, _ = w.Write(b)
	}
	name, arg, _ := strings.Cut(strings.TrimSuffix(expr, ")"), "(")
	switch name {
	case "value":
		var v float64
		_, _ = fmt.Sscan(arg, &v)
		write(v)
	case "nodata":
		write()
	case "slow":
		vs, d, _ := strings.Cut(arg, ",")
		var v float64
		_, _ = fmt.Sscan(vs, &v)
		delay, _ := time.ParseDuration(d)
		select {
		case <-time.After(delay):
			write(v)
		case <-r.Context().Done():
		}
	default:
		w.WriteHeader(http.StatusBadRequest)
		b, _ := cbor.Marshal(map[string]any{
			"__type":  "com.amazonaws.cloudwatch#InvalidParameterValueException",
			"message": "The value " + expr + " for parameter MetricDataQueries.member.1.Expression is not valid.",
		})
		_, _ = w.Write(b)
	}
}

// routed measures a metric whose expression is "unreachable" with a provider whose endpoint
// nobody listens on: CloudWatch's endpoint is the controller's AWS configuration, not part of
// the metric, so the suite's unreachable backend needs a second configuration.
type routed struct {
	*Provider
	down *Provider
}

func (p routed) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	if m := req.Metric.Provider.CloudWatch; m != nil && len(m.MetricDataQueries) > 0 && aws.ToString(m.MetricDataQueries[0].Expression) == "unreachable" {
		return p.down.Measure(ctx, req)
	}
	return p.Provider.Measure(ctx, req)
}

func TestConformance(t *testing.T) {
	up := provider(t, &fakeCloudWatch{reply: conformanceReply}, "AKIDTEST")
	down := NewWithConfig(aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String("http://" + providertest.UnreachableAddress(t)),
	})
	metric := func(expr string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: "cloudwatch", Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{
			MetricDataQueries: []v1alpha1.CloudWatchMetricDataQuery{{ID: "q", Expression: &expr}},
		}}}
	}
	providertest.Run(t, &providertest.Case{
		Provider: routed{Provider: up, down: down},
		Metric: func(t *testing.T, a providertest.Answer) v1alpha1.Metric {
			t.Helper()
			switch a.Kind {
			case providertest.KindValue:
				return metric(fmt.Sprintf("value(%g)", a.Value))
			case providertest.KindNoData:
				return metric("nodata()")
			case providertest.KindError:
				return metric("error()")
			case providertest.KindSlow:
				return metric(fmt.Sprintf("slow(%g,%s)", a.Value, a.Delay))
			case providertest.KindUnreachable:
				return metric("unreachable")
			}
			t.Fatalf("unknown answer %s", a)
			return v1alpha1.Metric{}
		},
		// The result is the list of MetricDataResults; the value shown is their Values.
		Want: func(v float64) (any, string) {
			return []map[string]any{{
				"Id": "q", "Label": "q", "StatusCode": "Complete", "Timestamps": []time.Time{pointAt}, "Values": []float64{v},
			}}, fmt.Sprintf("%v", [][]float64{{v}})
		},
		Query: func(m v1alpha1.Metric) string {
			q := m.Provider.CloudWatch.MetricDataQueries[0]
			return q.ID + " = " + aws.ToString(q.Expression)
		},
		Zero: v1alpha1.Metric{Name: "zero", Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{}}},
	})
}
