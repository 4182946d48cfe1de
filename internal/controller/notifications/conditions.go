package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	enginecontroller "github.com/argoproj/notifications-engine/pkg/controller"
	"github.com/argoproj/notifications-engine/pkg/subscriptions"
	"github.com/argoproj/notifications-engine/pkg/triggers"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// conditionWatch sends the notifications of triggers whose `when` condition holds, on any
// change of a subscribed Rollout, as Argo Rollouts' notifications controller does: each
// condition, destination and oncePer value is notified once, and the record of what was sent
// is kept on the Rollout in the notified.notifications.argoproj.io annotation (Argo's own, so
// a Rollout taken over from Argo is not notified again). A condition that stops holding is
// forgotten (it notifies again when it holds again), unless it has oncePer. Conditions
// without `when` are left to the events (Notifier.Recorder).
type conditionWatch struct {
	client.Client
	n    *Notifier
	argo ArgoLease
}

func (w *conditionWatch) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ro := &v1alpha1.Rollout{}
	if err := w.Get(ctx, req.NamespacedName, ro); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ro.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	c, err := w.n.source.get(ctx)
	if errors.Is(err, errConfigInvalid) {
		return ctrl.Result{}, nil // logged, with an event on the ConfigMap; a fix applies at the Rollout's next change
	}
	if c == nil || err != nil {
		return ctrl.Result{}, err // no configuration (nothing to send), or the read failed (retried)
	}
	dests := c.destinations(ro)
	if len(dests) == 0 {
		return ctrl.Result{}, nil
	}
	if w.argo != nil {
		if st, err := w.argo.Check(ctx); err != nil || st.Live {
			return ctrl.Result{}, err // Argo's controller sends them; the status write at take-over brings the Rollout back
		}
	}
	obj, err := objectMap(ro)
	if err != nil {
		return ctrl.Result{}, err
	}
	log := w.n.log.WithValues("rollout", req.String())
	state := enginecontroller.NewStateFromRes(ro)
	var errs []error
	for trigger, to := range dests {
		conds := c.conditions(trigger)
		if !hasWhen(conds) {
			continue
		}
		results, err := c.api.RunTrigger(trigger, obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("trigger %s: %w", trigger, err))
			continue
		}
		for i, r := range results {
			if conds[i].When == "" {
				continue
			}
			for _, d := range to {
				if !r.Triggered {
					state.SetAlreadyNotified(false, c.cfg.Namespace, trigger, r, d, false)
					continue
				}
				if !state.SetAlreadyNotified(false, c.cfg.Namespace, trigger, r, d, true) {
					continue // already notified
				}
				if err := w.n.send(ctx, c, obj, r.Templates, d); err != nil {
					state.SetAlreadyNotified(false, c.cfg.Namespace, trigger, r, d, false)
					sendErrors.WithLabelValues(ro.Namespace, ro.Name, "", trigger).Inc()
					log.Error(err, "Notification not sent", "trigger", trigger, "service", d.Service, "recipient", d.Recipient)
					errs = append(errs, fmt.Errorf("%s notification to %s: %w", trigger, describe(d), err))
					continue
				}
				sendSuccess.WithLabelValues(ro.Namespace, ro.Name, "", trigger).Inc()
				log.V(1).Info("Notification sent", "trigger", trigger, "service", d.Service, "recipient", d.Recipient)
			}
		}
	}
	if err := w.persist(ctx, ro, state); err != nil {
		errs = append(errs, err)
	}
	// An error retries with the controller's backoff: what was sent is recorded, what
	// failed is sent again.
	return ctrl.Result{}, errors.Join(errs...)
}

// persist writes the notified annotation when it changed.
func (w *conditionWatch) persist(ctx context.Context, ro *v1alpha1.Rollout, state enginecontroller.NotificationsState) error {
	key := subscriptions.NotifiedAnnotationKey()
	ann, err := state.Persist(ro)
	if err != nil {
		return err
	}
	old, had := ro.Annotations[key]
	cur, has := ann[key]
	if had == has && old == cur {
		return nil
	}
	var v any
	if has {
		v = cur
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: v}}})
	if err != nil {
		return err
	}
	if err := w.Patch(ctx, ro, client.RawPatch(types.MergePatchType, body)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("recording the notifications sent on the Rollout: %w", err)
	}
	return nil
}

func hasWhen(conds []triggers.Condition) bool {
	for _, c := range conds {
		if c.When != "" {
			return true
		}
	}
	return false
}
