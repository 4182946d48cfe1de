package notifications

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Argo Rollouts' notification counters, labelled namespace, name (the Rollout), type and
// reason (the event's; for a condition trigger type is "" and reason the trigger's name).
var (
	sendSuccess = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notification_send_success", Help: "Notification send success.",
	}, []string{"namespace", "name", "type", "reason"})
	sendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notification_send_error", Help: "Error sending the notification",
	}, []string{"namespace", "name", "type", "reason"})
	registerOnce sync.Once
)

// registerMetrics adds the counters to controller-runtime's registry once per process; if a
// collector of the same name is already there, that one is counted in.
func registerMetrics() {
	registerOnce.Do(func() {
		for _, c := range []**prometheus.CounterVec{&sendSuccess, &sendErrors} {
			if err := crmetrics.Registry.Register(*c); err != nil {
				if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
					if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
						*c = existing
					}
				}
			}
		}
	})
}
