package notifications

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/services"
	"github.com/argoproj/notifications-engine/pkg/subscriptions"
	"github.com/argoproj/notifications-engine/pkg/triggers"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The names Argo Rollouts reads its notification configuration from, in the controller's
// namespace.
const (
	ConfigMapName = "argo-rollouts-notification-configmap"
	SecretName    = "argo-rollouts-notification-secret"
)

// ReasonConfigInvalid is the Warning event recorded on the ConfigMap when it cannot be used
// (once per version of the ConfigMap and Secret); the message names the key.
const ReasonConfigInvalid = "NotificationConfigInvalid"

// errConfigInvalid marks a ConfigMap or Secret the engine refuses (not a failed read).
var errConfigInvalid = errors.New("notification configuration not usable")

// config is one version of the ConfigMap and Secret, parsed by the notifications engine.
type config struct {
	api api.API
	cfg api.Config
	// serviceTypes maps a service name to its type (service.<type>[.<name>]).
	serviceTypes map[string]string
}

// build parses a ConfigMap and Secret the way Argo Rollouts does. When the engine refuses
// them, the error names the key at fault (the engine's own errors do not always).
func build(cm *corev1.ConfigMap, secret *corev1.Secret) (*config, error) {
	c, err := parse(cm, secret)
	if err == nil {
		return c, nil
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		one := &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta, Data: map[string]string{k: cm.Data[k]}}
		if _, kerr := parse(one, secret); kerr != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s, key %q: %w", cm.Namespace, cm.Name, k, kerr)
		}
	}
	return nil, fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
}

func parse(cm *corev1.ConfigMap, secret *corev1.Secret) (c *config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("notifications engine panicked: %v", r)
		}
	}()
	cfg, err := api.ParseConfig(cm, secret)
	if err != nil {
		return nil, err
	}
	a, err := api.NewAPI(*cfg, templateVars)
	if err != nil {
		return nil, err
	}
	c = &config{api: a, cfg: *cfg, serviceTypes: map[string]string{}}
	for k := range cm.Data {
		parts := strings.Split(k, ".")
		switch {
		case len(parts) == 2 && parts[0] == "service":
			c.serviceTypes[parts[1]] = parts[1]
		case len(parts) == 3 && parts[0] == "service":
			c.serviceTypes[parts[2]] = parts[1]
		}
	}
	return c, nil
}

// templateVars are the variables of templates and trigger conditions: Argo's rollout (the
// Rollout as JSON) and time (Parse, Now), plus the engine's serviceType and recipient.
func templateVars(obj map[string]any, _ services.Destination) map[string]any {
	return map[string]any{"rollout": obj, "time": timeFuncs}
}

var timeFuncs = map[string]any{
	"Parse": func(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) },
	"Now":   time.Now,
}

// destinations are the subscriptions of a Rollout, by trigger: the ConfigMap's subscriptions
// that select its labels and its notifications.argoproj.io/subscribe.<trigger>.<service>
// annotations (with defaultTriggers for subscriptions that name no trigger).
func (c *config) destinations(obj metav1.Object) services.Destinations {
	d := c.cfg.GetGlobalDestinations(obj.GetLabels())
	d.Merge(subscriptions.NewAnnotations(obj.GetAnnotations()).GetDestinations(c.cfg.DefaultTriggers, c.cfg.ServiceDefaultTriggers))
	return d.Dedup()
}

// conditions returns the trigger's conditions, nil when the trigger is not configured.
func (c *config) conditions(trigger string) []triggers.Condition { return c.cfg.Triggers[trigger] }

// readTimeout bounds a read of the ConfigMap or Secret from the cache.
const readTimeout = 10 * time.Second

// source reads the ConfigMap and Secret (from a cache that watches only them) and keeps the
// parsed configuration until either changes.
type source struct {
	reader    client.Reader
	namespace string
	log       logr.Logger
	// invalid is told once per version of the pair that cannot be used.
	invalid func(cm *corev1.ConfigMap, err error)

	mu     sync.Mutex
	key    string // resource versions of the ConfigMap and Secret last parsed
	cur    *config
	curErr error
}

// get returns the configuration in force, nil when there is no ConfigMap (notifications
// are off, as in Argo Rollouts).
func (s *source) get(ctx context.Context) (*config, error) {
	// A cache read waits for the informer's first list: bounded, so that a controller whose
	// role may not list the two objects logs errors instead of holding the queue.
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	cm := &corev1.ConfigMap{}
	if err := s.reader.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: ConfigMapName}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", s.namespace, ConfigMapName, err)
	}
	secret := &corev1.Secret{}
	if err := s.reader.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: SecretName}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading Secret %s/%s: %w", s.namespace, SecretName, err)
		}
		secret = &corev1.Secret{}
	}
	key := cm.ResourceVersion + "/" + secret.ResourceVersion
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == s.key {
		return s.cur, s.curErr
	}
	s.key = key
	s.cur, s.curErr = build(cm, secret)
	if s.curErr != nil {
		s.curErr = fmt.Errorf("%w: %w", errConfigInvalid, s.curErr)
		s.log.Error(s.curErr, "No notifications are sent until the configuration is fixed")
		if s.invalid != nil {
			s.invalid(cm, s.curErr)
		}
	} else {
		s.log.Info("Notification configuration loaded", "configMap", s.namespace+"/"+ConfigMapName, "services", len(s.cur.cfg.Services),
			"triggers", len(s.cur.cfg.Triggers), "templates", len(s.cur.cfg.Templates))
	}
	return s.cur, s.curErr
}
