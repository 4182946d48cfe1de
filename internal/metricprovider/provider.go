package metricprovider

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Provider measures the metrics of one provider type. Providers are stateless and safe for
// concurrent use: what a running measurement needs later (a Job's name) goes in the
// measurement's Metadata.
type Provider interface {
	// Type is the provider's key in a metric's provider block: "prometheus", "web", "job", …
	Type() string
	// Measure takes one measurement. A synchronous provider returns it finished; an
	// asynchronous one (job) returns Running with a ResumeAt and finishes it in Resume.
	Measure(ctx context.Context, req Request) Result
	// Resume looks again at a measurement that Measure or Resume returned Running.
	Resume(ctx context.Context, req Request, m v1alpha1.Measurement) Result
	// Terminate stops a running measurement because the run was terminated (or completed);
	// the result it returns is recorded (Successful unless the provider knows better).
	Terminate(ctx context.Context, req Request, m v1alpha1.Measurement) Result
	// GarbageCollect removes what measurements of this metric left behind (Jobs), keeping the
	// newest keep of them.
	GarbageCollect(ctx context.Context, req Request, keep int) error
}

// Request is one measurement of one metric of an AnalysisRun.
type Request struct {
	// Run is the AnalysisRun being measured (read only).
	Run *v1alpha1.AnalysisRun
	// Metric is the metric with every {{args.x}} placeholder resolved, secrets included: it
	// must never be written to the API or a log.
	Metric v1alpha1.Metric
	// Now is the controller's clock at the start of the measurement.
	Now time.Time
}

// Result is what a provider measured.
type Result struct {
	// Value is the measured value as conditions see it (`result`): a float64 for a scalar,
	// []float64 for a Prometheus vector, the decoded JSON for a web metric, …
	Value any
	// Display is Value as it is stored in the measurement (status.metricResults[].
	// measurements[].value), e.g. "[0.95]" or "0.95".
	Display string
	// Empty is true when the backend answered but returned no data (an empty vector, no
	// series): the most common reason an analysis fails, so it is reported as such.
	Empty bool
	// Phase is the provider's own verdict, when it has one (job: Successful or Failed); ""
	// means the conditions decide. Running means the measurement is still going on.
	Phase v1alpha1.AnalysisPhase
	// ResumeAt is when to call Resume for a Running measurement.
	ResumeAt time.Time
	// Message explains the result (always set for an error).
	Message string
	// Metadata is stored with the measurement (a Job's name, a query's resolved text, …).
	Metadata map[string]string
	// Err, when set, makes the measurement an Error; Message then says what failed.
	Err error
}

// Deps are what providers may use besides the network.
type Deps struct {
	// Client reads Secrets and creates Jobs (cached reads are fine).
	Client client.Client
	// Namespace is the controller's namespace, where provider profiles and credentials live
	// (the datadog, newrelic and influxdb Secrets), as in Argo Rollouts.
	Namespace string
}

// Errorf is a Result for a measurement that failed to measure.
func Errorf(err error) Result { return Result{Err: err, Message: err.Error()} }
