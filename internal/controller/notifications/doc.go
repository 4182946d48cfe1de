// Package notifications sends Argo Rollouts' notifications: it reads
// argo-rollouts-notification-configmap and argo-rollouts-notification-secret in the
// controller's namespace (services, templates, triggers, subscriptions, defaultTriggers, with
// $key references into the Secret) and the notifications.argoproj.io/subscribe.<trigger>.<service>
// annotations of Rollouts, and sends through argoproj/notifications-engine, the library Argo
// Rollouts uses, so configuration, templates and services behave as they do under Argo.
//
// Two paths, as in Argo Rollouts:
//
//	Rollout controller ──Eventf(reason)──▶ Recorder wrapper ──▶ bounded queue ──▶ worker
//	   (records the Event first)           (never blocks)      (drops when full)   │
//	                                                                               ▼
//	  trigger on-<kebab-case reason> ─▶ subscribed destinations ─▶ conditions without `when`,
//	  or whose `when` holds ─▶ engine Send (templates), retried, NotificationFailed event
//
//	Rollout changed ──▶ conditionWatch ─▶ triggers with `when` ─▶ send once per condition,
//	  destination and oncePer value ─▶ notified.notifications.argoproj.io annotation
//
// The first path covers the catalog Argo ships (on-rollout-completed, on-rollout-step-completed,
// on-rollout-updated, on-rollout-aborted, on-rollout-paused, on-scaling-replica-set,
// on-analysis-run-*), whose conditions have no `when`: they fire with the Event of the same
// reason. The second covers custom triggers with a `when` expression (expr-lang, over
// rollout and time), evaluated at every change of a subscribed Rollout.
//
// Nothing is sent when the ConfigMap does not exist; Argo compiles in no default triggers or
// templates either (they come from its notifications-install.yaml, see
// examples/notifications/).
package notifications
