package rollout

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sluicehq/sluice/internal/plan"
)

// passEvents holds the events of what one pass did (ReplicaSet created or scaled, Service
// switched, weight updated, …) so that they are recorded after the plan's events that explain
// them: "Rollout updated", then "Created ReplicaSet", then "Scaled"; "step completed", then the
// next step's scaling. A pass that fails records what it did, but not the plan's transitions
// (its status was not written, so the next pass decides them again).
type passEvents struct {
	mu      sync.Mutex
	pending []func(recorder.EventRecorder)
}

type passEventsKey struct{}

func withPassEvents(ctx context.Context) (context.Context, *passEvents) {
	pe := &passEvents{}
	return context.WithValue(ctx, passEventsKey{}, pe), pe
}

// eventf records an event of this pass (at once when there is no pass, e.g. in tests).
func (r *Reconciler) eventf(ctx context.Context, regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	pe, _ := ctx.Value(passEventsKey{}).(*passEvents)
	if pe == nil {
		r.Recorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
		return
	}
	pe.mu.Lock()
	defer pe.mu.Unlock()
	pe.pending = append(pe.pending, func(rec recorder.EventRecorder) {
		rec.Eventf(regarding, related, eventtype, reason, action, note, args...)
	})
}

// flush records the plan's events (nil when the pass failed), then what the pass did.
func (pe *passEvents) flush(rec recorder.EventRecorder, regarding runtime.Object, planned []plan.Event) {
	for _, e := range planned {
		t := corev1.EventTypeNormal
		if e.Warning {
			t = corev1.EventTypeWarning
		}
		rec.Eventf(regarding, nil, t, e.Reason, "Reconcile", "%s", e.Message)
	}
	pe.mu.Lock()
	defer pe.mu.Unlock()
	for _, f := range pe.pending {
		f(rec)
	}
	pe.pending = nil
}
