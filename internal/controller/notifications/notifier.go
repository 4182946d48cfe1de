package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/argoproj/notifications-engine/pkg/services"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller/argolease"
)

// ReasonNotificationFailed is the Warning event recorded on a Rollout when a notification
// could not be sent (after its retries). Argo Rollouts only logs it.
const ReasonNotificationFailed = "NotificationFailed"

// ArgoLease tells whether Argo Rollouts' own controller is running (argolease.Detector).
type ArgoLease interface {
	Check(ctx context.Context) (argolease.State, error)
}

// Options configure notifications.
type Options struct {
	// Namespace holds argo-rollouts-notification-configmap and -secret.
	Namespace string
	// Workers is the number of Rollouts whose trigger conditions are evaluated at once.
	Workers int
	// ArgoLease, when set, holds condition-triggered notifications back while Argo Rollouts'
	// controller runs (it sends them itself). Event-triggered ones need no gate: a held
	// Rollout records no events.
	ArgoLease ArgoLease
}

// Queue and send limits.
const (
	queueSize   = 1000
	sendTimeout = time.Minute
	// retries of a failed send for services that do not retry by themselves (the webhook
	// service retries on its own: retryMax, retryWaitMin, retryWaitMax).
	retries      = 2
	retryBackoff = 2 * time.Second
)

// Notifier sends the notifications of the events the Rollout controller records (see
// Recorder), one at a time from a bounded queue, so that a slow or failing notification
// service never holds a reconcile up.
type Notifier struct {
	source *source
	events recorder.EventRecorder // for NotificationFailed, never notified itself
	log    logr.Logger
	queue  chan job

	sendTimeout  time.Duration
	retries      int
	retryBackoff time.Duration
}

type job struct {
	ro        *v1alpha1.Rollout
	eventtype string
	reason    string
}

// The ConfigMap and Secret are watched in the controller's namespace only (a field selector on
// their names), so reading them is granted there only, by name: the Role sluice-notifications
// (config/manager/notifications_role.yaml, the chart's rbac.yaml), not the generated
// ClusterRole. The Rollout's notified annotation is patched.
// +kubebuilder:rbac:groups=argoproj.io,resources=rollouts,verbs=get;list;watch;patch

// Setup registers notifications with mgr: a cache that watches only the ConfigMap and Secret
// in o.Namespace, the queue's worker, and a controller that evaluates the trigger conditions
// on every change of a subscribed Rollout. Wrap the Rollout controller's recorder with
// Recorder for the event-triggered notifications.
func Setup(mgr ctrl.Manager, o Options) (*Notifier, error) {
	log := mgr.GetLogger().WithName("notifications")
	bridgeEngineLogs(log)
	registerMetrics()
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{o.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Field: fields.OneTermEqualSelector("metadata.name", ConfigMapName)},
			&corev1.Secret{}:    {Field: fields.OneTermEqualSelector("metadata.name", SecretName)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("notifications: creating the ConfigMap and Secret cache: %w", err)
	}
	for _, obj := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}} {
		if _, err := c.GetInformer(context.Background(), obj); err != nil {
			return nil, fmt.Errorf("notifications: %w", err)
		}
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	events := mgr.GetEventRecorder("sluice")
	n := &Notifier{
		source: &source{reader: c, namespace: o.Namespace, log: log, invalid: func(cm *corev1.ConfigMap, err error) {
			events.Eventf(cm, nil, corev1.EventTypeWarning, ReasonConfigInvalid, "Parse", "%s", err.Error())
		}},
		events: events, log: log, queue: make(chan job, queueSize),
		sendTimeout: sendTimeout, retries: retries, retryBackoff: retryBackoff,
	}
	if err := mgr.Add(n); err != nil {
		return nil, err
	}
	w := &conditionWatch{Client: mgr.GetClient(), n: n, argo: o.ArgoLease}
	err = ctrl.NewControllerManagedBy(mgr).Named("notifications").For(&v1alpha1.Rollout{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(o.Workers, 1)}).Complete(w)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	return n, nil
}

// Recorder wraps rec: every event recorded about a Rollout is also handed to the notifier,
// which sends the notifications its trigger (on-<kebab-case reason>) has subscribers for.
func (n *Notifier) Recorder(rec recorder.EventRecorder) recorder.EventRecorder {
	return notifyingRecorder{EventRecorder: rec, n: n}
}

type notifyingRecorder struct {
	recorder.EventRecorder
	n *Notifier
}

func (r notifyingRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
	r.n.enqueue(regarding, eventtype, reason)
}

func (r notifyingRecorder) AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.AnnotatedEventf(regarding, related, annotations, eventtype, reason, action, note, args...)
	r.n.enqueue(regarding, eventtype, reason)
}

// enqueue never blocks: when the queue is full the notification is dropped (logged, counted
// as a failed send).
func (n *Notifier) enqueue(obj runtime.Object, eventtype, reason string) {
	ro, ok := obj.(*v1alpha1.Rollout)
	if !ok || reason == "" {
		return
	}
	select {
	case n.queue <- job{ro: ro.DeepCopy(), eventtype: eventtype, reason: reason}:
	default:
		n.log.Error(nil, "Notification queue full: notification dropped", "rollout", ro.Namespace+"/"+ro.Name, "reason", reason)
		sendErrors.WithLabelValues(ro.Namespace, ro.Name, eventtype, reason).Inc()
	}
}

// Start runs the queue's worker until ctx ends (manager.Runnable).
func (n *Notifier) Start(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-n.queue:
			n.deliver(ctx, j)
		}
	}
}

// NeedLeaderElection is true: only the leader records events.
func (n *Notifier) NeedLeaderElection() bool { return true }

func (n *Notifier) deliver(ctx context.Context, j job) {
	c, err := n.source.get(ctx)
	if err != nil {
		n.log.Error(err, "Notification not sent", "rollout", j.ro.Namespace+"/"+j.ro.Name, "reason", j.reason)
		return
	}
	if c != nil {
		n.deliverWith(ctx, c, j)
	}
}

// deliverWith sends the notifications of one event as Argo Rollouts does: to every
// destination subscribed to the trigger named after the event's reason, each condition of the
// trigger that has no `when`, or whose `when` holds, with its templates.
func (n *Notifier) deliverWith(ctx context.Context, c *config, j job) {
	trigger := TriggerName(j.reason)
	dests := c.destinations(j.ro)[trigger]
	if len(dests) == 0 {
		return
	}
	log := n.log.WithValues("rollout", j.ro.Namespace+"/"+j.ro.Name, "trigger", trigger)
	conds := c.conditions(trigger)
	if len(conds) == 0 {
		err := fmt.Errorf("trigger %s is not defined in ConfigMap %s", trigger, ConfigMapName)
		n.failed(log, j, dests[0], "", err)
		return
	}
	obj, err := objectMap(j.ro)
	if err != nil {
		n.failed(log, j, dests[0], "", err)
		return
	}
	results, err := c.api.RunTrigger(trigger, obj)
	if err != nil {
		n.failed(log, j, dests[0], "", err)
		return
	}
	for _, d := range dests {
		for i, r := range results {
			if i < len(conds) && conds[i].When != "" && !r.Triggered {
				continue
			}
			if err := n.sendRetrying(ctx, c, obj, r.Templates, d); err != nil {
				n.failed(log, j, d, strings.Join(r.Templates, ","), err)
				continue
			}
			sendSuccess.WithLabelValues(j.ro.Namespace, j.ro.Name, j.eventtype, j.reason).Inc()
			log.V(1).Info("Notification sent", "service", d.Service, "recipient", d.Recipient, "templates", r.Templates)
		}
	}
}

func (n *Notifier) failed(log logr.Logger, j job, d services.Destination, templates string, err error) {
	sendErrors.WithLabelValues(j.ro.Namespace, j.ro.Name, j.eventtype, j.reason).Inc()
	log.Error(err, "Notification not sent", "service", d.Service, "recipient", d.Recipient, "templates", templates)
	n.events.Eventf(j.ro, nil, corev1.EventTypeWarning, ReasonNotificationFailed, "Notify",
		"%s notification to %s failed: %s", TriggerName(j.reason), describe(d), err.Error())
}

func describe(d services.Destination) string {
	if d.Recipient == "" {
		return d.Service
	}
	return d.Service + ":" + d.Recipient
}

// sendRetrying sends once, and for services that do not retry by themselves (all but
// webhook) retries a failure with a growing backoff.
func (n *Notifier) sendRetrying(ctx context.Context, c *config, obj map[string]any, templates []string, d services.Destination) error {
	attempts := 1
	if c.serviceTypes[d.Service] != "webhook" {
		attempts += n.retries
	}
	backoff := n.retryBackoff
	var err error
	for a := range attempts {
		if a > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		if err = n.send(ctx, c, obj, templates, d); err == nil {
			return nil
		}
	}
	return err
}

// send runs one engine send with a deadline: the engine's HTTP clients have none, and a
// service that never answers must not stop every later notification. (A send that times out
// keeps its goroutine until the connection ends.)
func (n *Notifier) send(ctx context.Context, c *config, obj map[string]any, templates []string, d services.Destination) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("notifications engine panicked: %v", r)
			}
		}()
		done <- c.api.Send(obj, templates, d)
	}()
	t := time.NewTimer(n.sendTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("no answer within %s", n.sendTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// objectMap is the Rollout as the templates see it (.rollout): its JSON form.
func objectMap(ro *v1alpha1.Rollout) (map[string]any, error) {
	b, err := json.Marshal(ro)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

var (
	firstCap = regexp.MustCompile("(.)([A-Z][a-z]+)")
	allCap   = regexp.MustCompile("([a-z0-9])([A-Z])")
)

// TriggerName is the trigger an event reason sends to, as Argo Rollouts names it: "on-" and
// the reason in kebab case (RolloutStepCompleted → on-rollout-step-completed,
// ScalingReplicaSet → on-scaling-replica-set).
func TriggerName(reason string) string {
	s := firstCap.ReplaceAllString(reason, "${1}-${2}")
	s = allCap.ReplaceAllString(s, "${1}-${2}")
	return "on-" + strings.ToLower(s)
}
