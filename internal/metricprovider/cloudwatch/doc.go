// Package cloudwatch measures metrics with AWS CloudWatch GetMetricData through the official
// SDK, github.com/aws/aws-sdk-go-v2/service/cloudwatch, as Argo Rollouts' cloudWatch provider
// does: the metric's metricDataQueries over the last `interval` (default 5m).
//
// Credentials and region come from the SDK's default chain (config.LoadDefaultConfig): the
// AWS_REGION / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment of the controller, web
// identity (IRSA on EKS), or the instance profile, as in Argo. No Secret is read.
//
// `result` is the list of GetMetricData's MetricDataResults, each a map with Id, Label,
// StatusCode, Timestamps and Values, so Argo's conditions work unchanged, e.g.
// len(result[0].Values) >= 5 and all(result[0].Values, {# <= 0.01}). The measurement's value
// is the Values of every result, "[[0.1 0.2] [3]]". A response whose results hold no value is
// an empty result; CloudWatch's Messages are kept in the measurement's metadata.
package cloudwatch
