package v1alpha1

import (
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// AnalysisTemplate describes how to judge a version: metrics to measure, each
// with a provider, a schedule and success or failure conditions. Rollouts and
// Experiments instantiate it as an AnalysisRun.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=analysistemplates,shortName=at
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,description="Time since resource was created"
type AnalysisTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the metrics and arguments of the template.
	// +required
	Spec AnalysisTemplateSpec `json:"spec"`
}

// AnalysisTemplateList is a list of AnalysisTemplates.
//
// +kubebuilder:object:root=true
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the AnalysisTemplates.
	Items []AnalysisTemplate `json:"items"`
}

// ClusterAnalysisTemplate is an AnalysisTemplate usable from every namespace
// (clusterScope: true in a reference).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=clusteranalysistemplates,shortName=cat,scope=Cluster
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,description="Time since resource was created"
type ClusterAnalysisTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the metrics and arguments of the template.
	// +required
	Spec AnalysisTemplateSpec `json:"spec"`
}

// ClusterAnalysisTemplateList is a list of ClusterAnalysisTemplates.
//
// +kubebuilder:object:root=true
type ClusterAnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the ClusterAnalysisTemplates.
	Items []ClusterAnalysisTemplate `json:"items"`
}

// AnalysisTemplateSpec is the content of an AnalysisTemplate or
// ClusterAnalysisTemplate.
//
// +kubebuilder:validation:XValidation:rule="(has(self.metrics) && size(self.metrics) > 0) || (has(self.templates) && size(self.templates) > 0)",message="a template needs at least one metric, or templates to take metrics from"
type AnalysisTemplateSpec struct {
	// metrics are measured during the analysis.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Metrics []Metric `json:"metrics,omitempty"`
	// args are the template's arguments, used as {{args.name}} in the metrics. An
	// argument without value or valueFrom must be supplied by the caller.
	// +optional
	// +listType=atomic
	Args []Argument `json:"args,omitempty"`
	// dryRun lists the metrics (by name, "*" for all) whose results do not affect
	// the outcome.
	// +optional
	// +listType=atomic
	DryRun []DryRun `json:"dryRun,omitempty"`
	// measurementRetention sets how many measurements are kept per metric (default
	// 10).
	// +optional
	// +listType=atomic
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// templates are other templates whose metrics, args, dryRun and
	// measurementRetention are merged into this one.
	// +optional
	// +listType=atomic
	Templates []AnalysisTemplateRef `json:"templates,omitempty"`
}

// AnalysisTemplateRef references an AnalysisTemplate or
// ClusterAnalysisTemplate.
type AnalysisTemplateRef struct {
	// templateName is the name of the template.
	// +optional
	TemplateName string `json:"templateName"`
	// clusterScope looks templateName up as a ClusterAnalysisTemplate.
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
}

// DurationString is a Go duration string, such as 30s, 5m or 1h.
type DurationString string

// Duration parses the string.
func (d DurationString) Duration() (time.Duration, error) { return time.ParseDuration(string(d)) }

// Metric is something measured during an analysis.
//
// +kubebuilder:validation:XValidation:rule="!has(self.count) || type(self.count) != int || self.count <= 1 || has(self.interval)",message="a metric with count greater than 1 needs an interval between measurements"
type Metric struct {
	// name of the metric, unique in the analysis.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// interval between measurements (30s, 5m, 1h). Without it a single measurement
	// is taken.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// initialDelay before the first measurement.
	// +optional
	InitialDelay DurationString `json:"initialDelay,omitempty"`
	// count is the number of measurements. Default: 1 without interval, unlimited
	// with an interval. May be an {{args.…}} placeholder.
	// +optional
	Count *intstr.IntOrString `json:"count,omitempty"`
	// successCondition is an expression over `result` (the measured value) that
	// marks a measurement successful, for example result[0] >= 0.95.
	// +optional
	SuccessCondition string `json:"successCondition,omitempty"`
	// failureCondition is an expression over `result` that marks a measurement
	// failed. With both conditions set, a measurement matching neither is
	// inconclusive.
	// +optional
	FailureCondition string `json:"failureCondition,omitempty"`
	// failureLimit is the number of failed measurements tolerated; one more fails
	// the metric. Default 0; -1 disables the limit.
	// +optional
	FailureLimit *intstr.IntOrString `json:"failureLimit,omitempty"`
	// inconclusiveLimit is the number of inconclusive measurements tolerated.
	// Default 0.
	// +optional
	InconclusiveLimit *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	// consecutiveErrorLimit is the number of measurement errors in a row
	// tolerated. Default 4.
	// +optional
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	// provider is where the value is measured: exactly one provider.
	// +required
	Provider MetricProvider `json:"provider"`
	// consecutiveSuccessLimit makes the metric successful after this many
	// successful measurements in a row. Default 0 (off).
	// +optional
	ConsecutiveSuccessLimit *intstr.IntOrString `json:"consecutiveSuccessLimit,omitempty"`
}

// DryRun marks metrics whose results do not affect the outcome.
type DryRun struct {
	// metricName is the metric's name, or "*" for all metrics.
	// +required
	// +kubebuilder:validation:MinLength=1
	MetricName string `json:"metricName"`
}

// MeasurementRetention sets how many measurements are kept for metrics.
type MeasurementRetention struct {
	// metricName is a regular expression matched against metric names.
	// +required
	// +kubebuilder:validation:MinLength=1
	MetricName string `json:"metricName"`
	// limit is the number of measurements kept.
	// +required
	// +kubebuilder:validation:Minimum=0
	Limit int32 `json:"limit"`
}

// MetricProvider is the source of a metric's measurements. Set exactly one
// provider.
//
// +kubebuilder:validation:XValidation:rule="(has(self.prometheus) ? 1 : 0) + (has(self.kayenta) ? 1 : 0) + (has(self.web) ? 1 : 0) + (has(self.datadog) ? 1 : 0) + (has(self.wavefront) ? 1 : 0) + (has(self.newRelic) ? 1 : 0) + (has(self.job) ? 1 : 0) + (has(self.cloudWatch) ? 1 : 0) + (has(self.graphite) ? 1 : 0) + (has(self.influxdb) ? 1 : 0) + (has(self.skywalking) ? 1 : 0) + (has(self.plugin) ? 1 : 0) == 1",message="a metric provider must set exactly one of prometheus, kayenta, web, datadog, wavefront, newRelic, job, cloudWatch, graphite, influxdb, skywalking or plugin"
type MetricProvider struct {
	// prometheus runs a PromQL query.
	// +optional
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	// kayenta runs a Kayenta canary judgement.
	// +optional
	Kayenta *KayentaMetric `json:"kayenta,omitempty"`
	// web calls an HTTP endpoint and reads a JSON value from the response.
	// +optional
	Web *WebMetric `json:"web,omitempty"`
	// datadog runs a Datadog metrics query.
	// +optional
	Datadog *DatadogMetric `json:"datadog,omitempty"`
	// wavefront runs a Wavefront query.
	// +optional
	Wavefront *WavefrontMetric `json:"wavefront,omitempty"`
	// newRelic runs an NRQL query.
	// +optional
	NewRelic *NewRelicMetric `json:"newRelic,omitempty"`
	// job runs a Kubernetes Job; the measurement succeeds if the Job succeeds.
	// +optional
	Job *JobMetric `json:"job,omitempty"`
	// cloudWatch runs AWS CloudWatch metric data queries.
	// +optional
	CloudWatch *CloudWatchMetric `json:"cloudWatch,omitempty"`
	// graphite runs a Graphite query.
	// +optional
	Graphite *GraphiteMetric `json:"graphite,omitempty"`
	// influxdb runs an InfluxDB Flux query.
	// +optional
	Influxdb *InfluxdbMetric `json:"influxdb,omitempty"`
	// skywalking runs an Apache SkyWalking GraphQL query.
	// +optional
	SkyWalking *SkyWalkingMetric `json:"skywalking,omitempty"`
	// plugin runs a metric-provider plugin, by plugin name; each value is the
	// plugin's own configuration object.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Plugin map[string]json.RawMessage `json:"plugin,omitempty"`
}

// AnalysisPhase is the phase of an AnalysisRun, a metric result, a measurement
// or an Experiment.
type AnalysisPhase string

// Analysis phases.
const (
	AnalysisPhasePending      AnalysisPhase = "Pending"
	AnalysisPhaseRunning      AnalysisPhase = "Running"
	AnalysisPhaseSuccessful   AnalysisPhase = "Successful"
	AnalysisPhaseFailed       AnalysisPhase = "Failed"
	AnalysisPhaseError        AnalysisPhase = "Error"
	AnalysisPhaseInconclusive AnalysisPhase = "Inconclusive"
)

// Completed reports whether the phase is final.
func (p AnalysisPhase) Completed() bool {
	switch p {
	case AnalysisPhaseSuccessful, AnalysisPhaseFailed, AnalysisPhaseError, AnalysisPhaseInconclusive:
		return true
	case AnalysisPhasePending, AnalysisPhaseRunning:
		return false
	}
	return false
}

// PrometheusMetric is a Prometheus query.
type PrometheusMetric struct {
	// address of the Prometheus server, for example
	// http://prometheus.monitoring:9090.
	// +optional
	Address string `json:"address,omitempty"`
	// query is the PromQL query; the result is a vector, so conditions usually
	// read result[0].
	// +optional
	Query string `json:"query,omitempty"`
	// authentication to the server: SigV4 (Amazon Managed Prometheus), OAuth2 or
	// basic.
	// +optional
	Authentication Authentication `json:"authentication,omitzero"`
	// timeout of the query, in seconds. Default 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Timeout *int64 `json:"timeout,omitempty"`
	// insecure skips TLS certificate verification.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// headers are added to the request (for example an Authorization header).
	// +optional
	// +listType=atomic
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// rangeQuery runs a range query instead of an instant query.
	// +optional
	RangeQuery *PrometheusRangeQueryArgs `json:"rangeQuery,omitempty"`
}

// PrometheusRangeQueryArgs are the bounds of a Prometheus range query.
type PrometheusRangeQueryArgs struct {
	// start of the range, an expression such as now() - duration('5m').
	// +optional
	Start string `json:"start,omitempty"`
	// end of the range, an expression such as now().
	// +optional
	End string `json:"end,omitempty"`
	// step between points, a duration such as 1m.
	// +optional
	Step string `json:"step,omitempty"`
}

// Authentication configures how a provider authenticates.
type Authentication struct {
	// sigv4 signs requests with AWS SigV4.
	// +optional
	Sigv4 Sigv4Config `json:"sigv4,omitzero"`
	// oauth2 obtains a token with the OAuth2 client-credentials flow.
	// +optional
	OAuth2 OAuth2Config `json:"oauth2,omitzero"`
	// basicAuth sends a user name and password.
	// +optional
	BasicAuth BasicAuth `json:"basicAuth,omitzero"`
}

// Sigv4Config is AWS SigV4 signing.
type Sigv4Config struct {
	// region of the AWS service.
	// +optional
	Region string `json:"region,omitempty"`
	// profile is the AWS credentials profile.
	// +optional
	Profile string `json:"profile,omitempty"`
	// roleArn is the role assumed to sign.
	// +optional
	RoleARN string `json:"roleArn,omitempty"`
}

// OAuth2Config is the OAuth2 client-credentials flow.
type OAuth2Config struct {
	// tokenUrl is the token endpoint.
	// +optional
	TokenURL string `json:"tokenUrl,omitempty"`
	// clientId is the OAuth2 client id.
	// +optional
	ClientID string `json:"clientId,omitempty"`
	// clientSecret is the OAuth2 client secret (use an {{args.…}} placeholder fed
	// from a Secret).
	// +optional
	ClientSecret string `json:"clientSecret,omitempty"`
	// scopes requested.
	// +optional
	// +listType=atomic
	Scopes []string `json:"scopes,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	// username to send.
	// +optional
	Username string `json:"username,omitempty"`
	// password to send (use an {{args.…}} placeholder fed from a Secret).
	// +optional
	Password string `json:"password,omitempty"`
}

// WavefrontMetric is a Wavefront query.
type WavefrontMetric struct {
	// address of the Wavefront server.
	// +optional
	Address string `json:"address,omitempty"`
	// query is the Wavefront query.
	// +optional
	Query string `json:"query,omitempty"`
}

// NewRelicMetric is a New Relic NRQL query.
type NewRelicMetric struct {
	// profile is the Secret holding the New Relic account configuration. Default
	// newrelic.
	// +optional
	Profile string `json:"profile,omitempty"`
	// query is the NRQL query.
	// +required
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
	// timeout of the query, in seconds. Default 5.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Timeout *int64 `json:"timeout,omitempty"`
}

// JobMetric runs a Kubernetes Job as a measurement.
type JobMetric struct {
	// metadata are labels and annotations given to the Job.
	// +optional
	Metadata PodTemplateMetadata `json:"metadata,omitzero"`
	// spec of the Job.
	// +required
	Spec JobSpec `json:"spec"`
}

// GraphiteMetric is a Graphite query.
type GraphiteMetric struct {
	// address of the Graphite server.
	// +optional
	Address string `json:"address,omitempty"`
	// query is the Graphite target expression.
	// +optional
	Query string `json:"query,omitempty"`
}

// InfluxdbMetric is an InfluxDB Flux query.
type InfluxdbMetric struct {
	// profile is the Secret holding the InfluxDB account configuration. Default
	// influxdb.
	// +optional
	Profile string `json:"profile,omitempty"`
	// query is the Flux query.
	// +optional
	Query string `json:"query,omitempty"`
}

// SkyWalkingMetric is an Apache SkyWalking query.
type SkyWalkingMetric struct {
	// address of the SkyWalking OAP server.
	// +optional
	Address string `json:"address,omitempty"`
	// query is the GraphQL query.
	// +optional
	Query string `json:"query,omitempty"`
	// interval of the queried time window.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
}

// CloudWatchMetric is a set of AWS CloudWatch metric data queries.
type CloudWatchMetric struct {
	// interval of the queried time window. Default 5m.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// metricDataQueries are the GetMetricData queries.
	// +required
	// +listType=atomic
	MetricDataQueries []CloudWatchMetricDataQuery `json:"metricDataQueries"`
}

// CloudWatchMetricDataQuery is one CloudWatch GetMetricData query.
type CloudWatchMetricDataQuery struct {
	// id of the query.
	// +optional
	ID string `json:"id,omitempty"`
	// expression is a metric math expression.
	// +optional
	Expression *string `json:"expression,omitempty"`
	// label of the result.
	// +optional
	Label *string `json:"label,omitempty"`
	// metricStat selects a metric and statistic.
	// +optional
	MetricStat *CloudWatchMetricStat `json:"metricStat,omitempty"`
	// period in seconds.
	// +optional
	Period *intstr.IntOrString `json:"period,omitempty"`
	// returnData says whether the query's result is returned.
	// +optional
	ReturnData *bool `json:"returnData,omitempty"`
}

// CloudWatchMetricStat is a CloudWatch metric and statistic.
type CloudWatchMetricStat struct {
	// metric to query.
	// +optional
	Metric CloudWatchMetricStatMetric `json:"metric,omitzero"`
	// period in seconds.
	// +optional
	Period intstr.IntOrString `json:"period,omitzero"`
	// stat is the statistic, such as Average or p99.
	// +optional
	Stat string `json:"stat,omitempty"`
	// unit of the statistic.
	// +optional
	Unit string `json:"unit,omitempty"`
}

// CloudWatchMetricStatMetric identifies a CloudWatch metric.
type CloudWatchMetricStatMetric struct {
	// dimensions of the metric.
	// +optional
	// +listType=atomic
	Dimensions []CloudWatchMetricStatMetricDimension `json:"dimensions,omitempty"`
	// metricName of the metric.
	// +optional
	MetricName string `json:"metricName,omitempty"`
	// namespace of the metric.
	// +optional
	Namespace *string `json:"namespace,omitempty"`
}

// CloudWatchMetricStatMetricDimension is a dimension of a CloudWatch metric.
type CloudWatchMetricStatMetricDimension struct {
	// name of the dimension.
	// +optional
	Name string `json:"name,omitempty"`
	// value of the dimension.
	// +optional
	Value string `json:"value,omitempty"`
}

// KayentaMetric is a Kayenta canary judgement.
type KayentaMetric struct {
	// address of the Kayenta server.
	// +required
	Address string `json:"address"`
	// application name sent to Kayenta.
	// +required
	Application string `json:"application"`
	// canaryConfigName is the Kayenta canary configuration.
	// +required
	CanaryConfigName string `json:"canaryConfigName"`
	// metricsAccountName is the Kayenta metrics account.
	// +required
	MetricsAccountName string `json:"metricsAccountName"`
	// configurationAccountName is the Kayenta configuration account.
	// +required
	ConfigurationAccountName string `json:"configurationAccountName"`
	// storageAccountName is the Kayenta storage account.
	// +required
	StorageAccountName string `json:"storageAccountName"`
	// threshold are the pass and marginal scores.
	// +required
	Threshold KayentaThreshold `json:"threshold"`
	// scopes compare the experiment (canary) and control (baseline) scopes.
	// +required
	// +listType=atomic
	Scopes []KayentaScope `json:"scopes"`
	// lookback judges the whole interval since the start instead of the latest
	// window.
	// +optional
	Lookback bool `json:"lookback,omitempty"`
}

// KayentaThreshold are the Kayenta score thresholds.
type KayentaThreshold struct {
	// pass is the score at or above which the judgement passes.
	// +required
	Pass int64 `json:"pass"`
	// marginal is the score at or above which the judgement is inconclusive.
	// +required
	Marginal int64 `json:"marginal"`
}

// KayentaScope is a pair of scopes to compare.
type KayentaScope struct {
	// name of the scope.
	// +required
	Name string `json:"name"`
	// controlScope is the baseline.
	// +required
	ControlScope ScopeDetail `json:"controlScope"`
	// experimentScope is the canary.
	// +required
	ExperimentScope ScopeDetail `json:"experimentScope"`
}

// ScopeDetail is a Kayenta scope.
type ScopeDetail struct {
	// scope is the query scope, such as a label selector.
	// +required
	Scope string `json:"scope"`
	// region of the scope.
	// +required
	Region string `json:"region"`
	// step between points, in seconds.
	// +required
	Step int64 `json:"step"`
	// start of the window (RFC 3339).
	// +optional
	Start string `json:"start,omitempty"`
	// end of the window (RFC 3339).
	// +optional
	End string `json:"end,omitempty"`
}

// WebMetric calls an HTTP endpoint.
type WebMetric struct {
	// method of the request: GET (default), POST or PUT.
	// +optional
	Method WebMetricMethod `json:"method,omitempty"`
	// url to call.
	// +required
	// +kubebuilder:validation:MinLength=1
	URL string `json:"url"`
	// headers added to the request.
	// +optional
	// +listType=atomic
	Headers []WebMetricHeader `json:"headers,omitempty"`
	// body of the request, as a string (POST and PUT).
	// +optional
	Body string `json:"body,omitempty"`
	// timeoutSeconds of the request. Default 10.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// jsonPath selects the result in the JSON response, for example {$.data.ok}.
	// Default {$}.
	// +optional
	JSONPath string `json:"jsonPath,omitempty"`
	// insecure skips TLS certificate verification.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// jsonBody is the body of the request as a JSON object (POST and PUT).
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	JSONBody json.RawMessage `json:"jsonBody,omitempty"`
	// authentication to the endpoint.
	// +optional
	Authentication Authentication `json:"authentication,omitzero"`
}

// WebMetricMethod is an HTTP method.
type WebMetricMethod string

// HTTP methods of web metrics.
const (
	WebMetricMethodGet  WebMetricMethod = "GET"
	WebMetricMethodPost WebMetricMethod = "POST"
	WebMetricMethodPut  WebMetricMethod = "PUT"
)

// WebMetricHeader is an HTTP header.
type WebMetricHeader struct {
	// key is the header name.
	// +required
	Key string `json:"key"`
	// value is the header value.
	// +required
	Value string `json:"value"`
}

// DatadogMetric is a Datadog metrics query.
type DatadogMetric struct {
	// interval of the queried time window. Default 5m.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// query is a single Datadog metrics query.
	// +optional
	Query string `json:"query,omitempty"`
	// queries are named queries combined by formula (API v2).
	// +optional
	Queries map[string]string `json:"queries,omitempty"`
	// formula combines the named queries (API v2), for example a / b * 100.
	// +optional
	Formula string `json:"formula,omitempty"`
	// apiVersion is the Datadog API version: v1 (default) or v2.
	// +optional
	// +kubebuilder:validation:Enum=v1;v2
	APIVersion string `json:"apiVersion,omitempty"`
	// aggregator reduces the series to one value (API v2): avg, min, max, sum,
	// last, percentile, mean, l2norm or area.
	// +optional
	// +kubebuilder:validation:Enum=avg;min;max;sum;last;percentile;mean;l2norm;area
	Aggregator string `json:"aggregator,omitempty"`
	// secretRef names the Secret holding the Datadog address and keys.
	// +optional
	SecretRef SecretRef `json:"secretRef,omitzero"`
	// requestTimeout is the HTTP timeout of Datadog API requests (10s, 30s).
	// Default 10s.
	// +optional
	RequestTimeout DurationString `json:"requestTimeout,omitempty"`
}

// SecretRef names a Secret.
type SecretRef struct {
	// name of the Secret.
	// +optional
	Name string `json:"name,omitempty"`
	// namespaced looks the Secret up in the analysis's namespace instead of the
	// controller's.
	// +optional
	Namespaced bool `json:"namespaced,omitempty"`
}

// AnalysisRun is one execution of an analysis: its metrics are measured until
// they succeed, fail or run out.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=analysisruns,shortName=ar
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`,description="AnalysisRun status"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,description="Time since resource was created"
type AnalysisRun struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the resolved metrics and arguments.
	// +required
	Spec AnalysisRunSpec `json:"spec"`
	// status holds the measurements and the outcome.
	// +optional
	Status AnalysisRunStatus `json:"status,omitzero"`
}

// AnalysisRunList is a list of AnalysisRuns.
//
// +kubebuilder:object:root=true
type AnalysisRunList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the AnalysisRuns.
	Items []AnalysisRun `json:"items"`
}

// AnalysisRunSpec is the content of an AnalysisRun.
type AnalysisRunSpec struct {
	// metrics are measured during the run.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Metrics []Metric `json:"metrics"`
	// args are the arguments used in the metrics.
	// +optional
	// +listType=atomic
	Args []Argument `json:"args,omitempty"`
	// terminate, when true, stops the run early (for example once the rollout is
	// promoted).
	// +optional
	Terminate bool `json:"terminate,omitempty"`
	// dryRun lists the metrics (by name, "*" for all) whose results do not affect
	// the outcome.
	// +optional
	// +listType=atomic
	DryRun []DryRun `json:"dryRun,omitempty"`
	// measurementRetention sets how many measurements are kept per metric (default
	// 10).
	// +optional
	// +listType=atomic
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// ttlStrategy deletes the run some time after it finishes.
	// +optional
	TTLStrategy *TTLStrategy `json:"ttlStrategy,omitempty"`
}

// TTLStrategy sets when a finished AnalysisRun is deleted.
type TTLStrategy struct {
	// secondsAfterCompletion deletes the run this many seconds after it finishes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterCompletion *int32 `json:"secondsAfterCompletion,omitempty"`
	// secondsAfterFailure deletes an unsuccessful run this many seconds after it
	// finishes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterFailure *int32 `json:"secondsAfterFailure,omitempty"`
	// secondsAfterSuccess deletes a successful run this many seconds after it
	// finishes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterSuccess *int32 `json:"secondsAfterSuccess,omitempty"`
}

// Argument is an argument of an analysis.
type Argument struct {
	// name of the argument, used as {{args.name}}.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// value of the argument.
	// +optional
	Value *string `json:"value,omitempty"`
	// valueFrom takes the value from a Secret or from a field.
	// +optional
	ValueFrom *ValueFrom `json:"valueFrom,omitempty"`
}

// ValueFrom takes an argument's value from a Secret or from a field.
type ValueFrom struct {
	// secretKeyRef reads the value from a key of a Secret in the analysis's
	// namespace; it is resolved at measurement time and not stored in the run.
	// +optional
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
	// fieldRef reads the value from a field of the object that starts the
	// analysis.
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// SecretKeyRef selects a key of a Secret.
type SecretKeyRef struct {
	// name of the Secret.
	// +required
	Name string `json:"name"`
	// key in the Secret.
	// +required
	Key string `json:"key"`
}

// AnalysisRunStatus is the state of an AnalysisRun.
type AnalysisRunStatus struct {
	// phase of the run: Pending, Running, Successful, Failed, Error or
	// Inconclusive.
	// +optional
	Phase AnalysisPhase `json:"phase"`
	// message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// metricResults are the measurements of each metric.
	// +optional
	// +listType=atomic
	MetricResults []MetricResult `json:"metricResults,omitempty"`
	// startedAt is when the run started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// runSummary counts the metrics by outcome.
	// +optional
	RunSummary RunSummary `json:"runSummary,omitzero"`
	// dryRunSummary counts the dry-run metrics by outcome.
	// +optional
	DryRunSummary *RunSummary `json:"dryRunSummary,omitempty"`
	// completedAt is when the run finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// RunSummary counts metrics by outcome.
type RunSummary struct {
	// count of metrics.
	// +optional
	Count int32 `json:"count,omitempty"`
	// successful metrics.
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// failed metrics.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// inconclusive metrics.
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// error is the number of metrics that ended in Error.
	// +optional
	Error int32 `json:"error,omitempty"`
}

// MetricResult holds the latest measurements of one metric and its counters.
type MetricResult struct {
	// name of the metric.
	// +required
	Name string `json:"name"`
	// phase of the metric.
	// +required
	Phase AnalysisPhase `json:"phase"`
	// measurements are the most recent measurements (10 by default, see
	// measurementRetention).
	// +optional
	// +listType=atomic
	Measurements []Measurement `json:"measurements,omitempty"`
	// message explains the phase, for example a provider error.
	// +optional
	Message string `json:"message,omitempty"`
	// count of measurements taken without error.
	// +optional
	Count int32 `json:"count,omitempty"`
	// successful measurements.
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// failed measurements.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// inconclusive measurements.
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// error is the number of measurements that ended in Error.
	// +optional
	Error int32 `json:"error,omitempty"`
	// consecutiveError is the number of errors in a row.
	// +optional
	ConsecutiveError int32 `json:"consecutiveError,omitempty"`
	// dryRun is true for a dry-run metric.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// metadata set by the provider, such as the resolved query.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
	// consecutiveSuccess is the number of successes in a row.
	// +optional
	ConsecutiveSuccess int32 `json:"consecutiveSuccess,omitempty"`
}

// Measurement is one measurement of a metric.
type Measurement struct {
	// phase of the measurement.
	// +required
	Phase AnalysisPhase `json:"phase"`
	// message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// startedAt is when the measurement started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// finishedAt is when the value was collected.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// value measured, as a string.
	// +optional
	Value string `json:"value,omitempty"`
	// metadata set by the provider, such as a Job name or a Kayenta run id.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
	// resumeAt is when a measurement in progress is checked again.
	// +optional
	ResumeAt *metav1.Time `json:"resumeAt,omitempty"`
}
