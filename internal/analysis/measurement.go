package analysis

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Measurement turns what a provider returned into a measurement of metric m (resolved), which
// started at started (the in-flight measurement's start when resumed). The phase is the
// provider's own, else the conditions' verdict on the value; a result without data says so,
// with the query, whatever the conditions made of it. secrets are redacted from the message.
func Measurement(m *v1alpha1.Metric, r metricprovider.Result, started, now time.Time, secrets []string) v1alpha1.Measurement {
	out := v1alpha1.Measurement{
		StartedAt: &metav1.Time{Time: started},
		Value:     r.Display,
		Metadata:  r.Metadata,
		Message:   r.Message,
	}
	switch {
	case r.Err != nil:
		out.Phase = v1alpha1.AnalysisPhaseError
		if out.Message == "" {
			out.Message = r.Err.Error()
		}
	case r.Phase == v1alpha1.AnalysisPhaseRunning:
		out.Phase = v1alpha1.AnalysisPhaseRunning
		if !r.ResumeAt.IsZero() {
			out.ResumeAt = &metav1.Time{Time: r.ResumeAt}
		}
	case r.Phase != "":
		out.Phase = r.Phase
	default:
		phase, err := Evaluate(m, r.Value)
		out.Phase = phase
		if err != nil {
			out.Message = join(out.Message, err.Error())
		}
	}
	if r.Empty && out.Phase != v1alpha1.AnalysisPhaseSuccessful && !strings.Contains(out.Message, "no data") && !strings.Contains(out.Message, "no samples") {
		out.Message = join("the metric returned no data", out.Message)
	}
	if Completed(out.Phase) {
		out.FinishedAt = &metav1.Time{Time: now}
	}
	out.Message = Redact(out.Message, secrets)
	out.Value = Redact(out.Value, secrets)
	if len(secrets) > 0 && len(out.Metadata) > 0 {
		md := make(map[string]string, len(out.Metadata))
		for k, v := range out.Metadata {
			md[k] = Redact(v, secrets)
		}
		out.Metadata = md
	}
	return out
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ": " + b
}

// Redact replaces every secret value in s by *****.
func Redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "*****")
		}
	}
	return s
}

// ProviderError is the measurement for a metric whose provider could not be built or whose
// arguments could not be resolved: an Error, retried like any other.
func ProviderError(err error, started, now time.Time, secrets []string) v1alpha1.Measurement {
	return v1alpha1.Measurement{
		Phase:      v1alpha1.AnalysisPhaseError,
		Message:    Redact(fmt.Sprint(err), secrets),
		StartedAt:  &metav1.Time{Time: started},
		FinishedAt: &metav1.Time{Time: now},
	}
}
