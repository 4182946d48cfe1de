package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "cloudWatch"

const (
	defaultInterval = 5 * time.Minute
	timeout         = 30 * time.Second
)

// Provider measures cloudWatch metrics.
type Provider struct {
	config func(ctx context.Context) (aws.Config, error)
}

// New returns a provider that loads the AWS configuration from the SDK's default chain at each
// measurement (so rotated web-identity credentials are picked up); deps are not needed.
func New(metricprovider.Deps) *Provider {
	return &Provider{config: func(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }}
}

// NewWithConfig returns a provider that uses cfg (region, credentials, BaseEndpoint) as is.
func NewWithConfig(cfg aws.Config) *Provider {
	return &Provider{config: func(context.Context) (aws.Config, error) { return cfg, nil }}
}

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

// Measure runs GetMetricData once.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	m := req.Metric.Provider.CloudWatch
	if m == nil {
		return metricprovider.Errorf(errors.New("metric has no cloudWatch provider"))
	}
	if len(m.MetricDataQueries) == 0 {
		return metricprovider.Errorf(errors.New("cloudWatch metric has no metricDataQueries"))
	}
	interval := defaultInterval
	if m.Interval != "" {
		var err error
		if interval, err = m.Interval.Duration(); err != nil {
			return metricprovider.Errorf(fmt.Errorf("cloudWatch interval %q: %w", m.Interval, err))
		}
	}
	cfg, err := p.config(ctx)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("cloudwatch: loading the AWS configuration: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start, end := req.Now.Add(-interval), req.Now
	out, err := cloudwatch.NewFromConfig(cfg).GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: &start, EndTime: &end, MetricDataQueries: queries(m.MetricDataQueries),
	})
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("cloudwatch: %w", err))
	}
	meta := map[string]string{}
	if len(out.Messages) > 0 {
		msgs := make([]string, len(out.Messages))
		for i, msg := range out.Messages {
			msgs[i] = aws.ToString(msg.Code) + ": " + aws.ToString(msg.Value)
		}
		meta["messages"] = strings.Join(msgs, "; ")
	}
	results := make([]map[string]any, len(out.MetricDataResults))
	values := make([][]float64, len(out.MetricDataResults))
	points := 0
	for i, r := range out.MetricDataResults {
		values[i] = r.Values
		if values[i] == nil {
			values[i] = []float64{}
		}
		points += len(r.Values)
		results[i] = map[string]any{
			"Id": aws.ToString(r.Id), "Label": aws.ToString(r.Label), "StatusCode": string(r.StatusCode),
			"Timestamps": r.Timestamps, "Values": values[i],
		}
	}
	res := metricprovider.Result{Value: results, Display: fmt.Sprintf("%v", values), Metadata: meta}
	if points == 0 {
		res.Empty = true
		res.Message = "the queries returned no datapoints: " + describe(m.MetricDataQueries)
	}
	return res
}

// queries converts the API's queries to the SDK's.
func queries(in []v1alpha1.CloudWatchMetricDataQuery) []types.MetricDataQuery {
	out := make([]types.MetricDataQuery, len(in))
	for i, q := range in {
		out[i] = types.MetricDataQuery{
			Id: aws.String(q.ID), Expression: q.Expression, Label: q.Label, ReturnData: q.ReturnData,
		}
		if q.Period != nil {
			out[i].Period = aws.Int32(int32(q.Period.IntValue()))
		}
		if s := q.MetricStat; s != nil {
			ms := &types.MetricStat{
				Metric: &types.Metric{MetricName: aws.String(s.Metric.MetricName), Namespace: s.Metric.Namespace},
				Period: aws.Int32(int32(s.Period.IntValue())),
				Stat:   aws.String(s.Stat),
				Unit:   types.StandardUnit(s.Unit),
			}
			for _, d := range s.Metric.Dimensions {
				ms.Metric.Dimensions = append(ms.Metric.Dimensions, types.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)})
			}
			out[i].MetricStat = ms
		}
	}
	return out
}

func describe(qs []v1alpha1.CloudWatchMetricDataQuery) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		switch {
		case q.Expression != nil:
			parts[i] = q.ID + " = " + *q.Expression
		case q.MetricStat != nil:
			parts[i] = fmt.Sprintf("%s = %s(%s/%s)", q.ID, q.MetricStat.Stat, aws.ToString(q.MetricStat.Metric.Namespace), q.MetricStat.Metric.MetricName)
		default:
			parts[i] = q.ID
		}
	}
	return strings.Join(parts, "; ")
}

// Resume is never called: cloudWatch measurements finish in Measure.
func (p *Provider) Resume(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Errorf(errors.New("cloudWatch measurements are never running"))
}

// Terminate records a running measurement as successful; cloudWatch has none.
func (p *Provider) Terminate(context.Context, metricprovider.Request, v1alpha1.Measurement) metricprovider.Result {
	return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseSuccessful, Message: "terminated"}
}

// GarbageCollect does nothing: cloudWatch measurements leave nothing behind.
func (p *Provider) GarbageCollect(context.Context, metricprovider.Request, int) error { return nil }
