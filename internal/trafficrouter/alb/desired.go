package alb

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// Type is the router's name.
const Type = "ALB"

// DefaultAnnotationPrefix is the annotation prefix the AWS Load Balancer Controller reads.
const DefaultAnnotationPrefix = "alb.ingress.kubernetes.io"

// UseAnnotation is the backend port name that makes the AWS Load Balancer Controller read the
// actions.<service> annotation instead of forwarding to the Service.
const UseAnnotation = "use-annotation"

// Action is the JSON of an actions.<name> annotation, in Argo Rollouts' spelling.
type Action struct {
	Type          string        `json:"Type"`
	ForwardConfig ForwardConfig `json:"ForwardConfig"`
}

// ForwardConfig is the forward action's target groups and stickiness.
type ForwardConfig struct {
	TargetGroups                []TargetGroup     `json:"TargetGroups"`
	TargetGroupStickinessConfig *StickinessConfig `json:"TargetGroupStickinessConfig,omitempty"`
}

// TargetGroup is one weighted Service of a forward action.
type TargetGroup struct {
	ServiceName string `json:"ServiceName,omitempty"`
	ServicePort string `json:"ServicePort,omitempty"`
	Weight      *int64 `json:"Weight,omitempty"`
}

// StickinessConfig is target-group stickiness.
type StickinessConfig struct {
	Enabled         bool  `json:"Enabled"`
	DurationSeconds int64 `json:"DurationSeconds"`
}

// Condition is one entry of a conditions.<name> annotation.
type Condition struct {
	Field            string           `json:"field"`
	HTTPHeaderConfig HTTPHeaderConfig `json:"httpHeaderConfig"`
}

// HTTPHeaderConfig matches a request header against exact values.
type HTTPHeaderConfig struct {
	HTTPHeaderName string   `json:"httpHeaderName"`
	Values         []string `json:"values"`
}

// Config is what the router takes from the Rollout.
type Config struct {
	// Rollout and Namespace are the Rollout's name and namespace.
	Rollout, Namespace string
	// ALB is spec.strategy.canary.trafficRouting.alb.
	ALB v1alpha1.ALBTrafficRouting
	// ManagedRoutes are the names in trafficRouting.managedRoutes, in order.
	ManagedRoutes []string
	// Services are the Rollout's canaryService and stableService, for Cleanup.
	Services contract.Services
}

// ConfigFor reads the Config of a Rollout whose trafficRouting.alb is set.
func ConfigFor(ro *v1alpha1.Rollout) Config {
	c := ro.Spec.Strategy.Canary
	cfg := Config{
		Rollout: ro.Name, Namespace: ro.Namespace, ALB: *c.TrafficRouting.ALB,
		Services: contract.Services{Canary: c.CanaryService, Stable: c.StableService},
	}
	for _, m := range c.TrafficRouting.ManagedRoutes {
		cfg.ManagedRoutes = append(cfg.ManagedRoutes, m.Name)
	}
	return cfg
}

// Prefix is the annotation prefix (annotationPrefix or the default).
func (c Config) Prefix() string {
	if c.ALB.AnnotationPrefix != "" {
		return c.ALB.AnnotationPrefix
	}
	return DefaultAnnotationPrefix
}

// Ingresses lists ingress or ingresses.
func (c Config) Ingresses() []string {
	if c.ALB.Ingress != "" {
		return []string{c.ALB.Ingress}
	}
	return c.ALB.Ingresses
}

// ActionService is the Service the weighted action is named after: rootService, or stable.
func (c Config) ActionService(stable string) string {
	if c.ALB.RootService != "" {
		return c.ALB.RootService
	}
	return stable
}

// ActionKey is the annotation key of the action named name.
func (c Config) ActionKey(name string) string { return c.Prefix() + "/actions." + name }

// ConditionKey is the annotation key of the conditions of the action named name.
func (c Config) ConditionKey(name string) string { return c.Prefix() + "/conditions." + name }

func (c Config) port() string { return strconv.Itoa(int(c.ALB.ServicePort)) }

func (c Config) action(groups []TargetGroup) string {
	a := Action{Type: "forward", ForwardConfig: ForwardConfig{TargetGroups: groups}}
	if s := c.ALB.StickinessConfig; s != nil && s.Enabled {
		a.ForwardConfig.TargetGroupStickinessConfig = &StickinessConfig{Enabled: true, DurationSeconds: s.DurationSeconds}
	}
	b, _ := json.Marshal(a) // plain structs always marshal
	return string(b)
}

func weight(w int32) *int64 {
	v := int64(w)
	return &v
}

// ForwardAction is the weighted action for the split d: canary, the additional destinations,
// then stable, all at servicePort.
func (c Config) ForwardAction(d contract.Desired) string {
	groups := make([]TargetGroup, 0, len(d.Additional)+2)
	groups = append(groups, TargetGroup{ServiceName: d.Canary, ServicePort: c.port(), Weight: weight(d.Weight)})
	for _, a := range d.Additional {
		groups = append(groups, TargetGroup{ServiceName: a.ServiceName, ServicePort: c.port(), Weight: weight(a.Weight)})
	}
	groups = append(groups, TargetGroup{ServiceName: d.Stable, ServicePort: c.port(), Weight: weight(d.StableWeight())})
	return c.action(groups)
}

// SingleAction forwards everything to one Service, without stickiness (what Cleanup leaves
// behind).
func (c Config) SingleAction(service string) string {
	a := Action{Type: "forward", ForwardConfig: ForwardConfig{TargetGroups: []TargetGroup{{ServiceName: service, ServicePort: c.port(), Weight: weight(100)}}}}
	b, _ := json.Marshal(a)
	return string(b)
}

// Conditions is the conditions.<route> value of a header route; ALB matches exact values only.
func Conditions(hr contract.HeaderRoute) (string, error) {
	conds := make([]Condition, 0, len(hr.Match))
	for _, m := range hr.Match {
		if m.HeaderValue == nil || m.HeaderValue.Exact == "" {
			return "", contract.Invalidf(Type, "setHeaderRoute %q: ALB matches header values exactly; header %q must use headerValue.exact", hr.Name, m.HeaderName)
		}
		conds = append(conds, Condition{Field: "http-header", HTTPHeaderConfig: HTTPHeaderConfig{HTTPHeaderName: m.HeaderName, Values: []string{m.HeaderValue.Exact}}})
	}
	b, _ := json.Marshal(conds)
	return string(b), nil
}

// managed reads the bookkeeping annotation: Rollout name → annotation keys it manages.
func managed(ing *networkingv1.Ingress) (map[string][]string, error) {
	m := map[string][]string{}
	if s := ing.Annotations[v1alpha1.AnnotationManagedALBAnnotations]; s != "" {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, contract.Invalidf(Type, "Ingress `%s`: annotation %s is not valid JSON: %v", ing.Name, v1alpha1.AnnotationManagedALBAnnotations, err)
		}
	}
	return m, nil
}

// setManaged adds (or removes) keys in the Rollout's bookkeeping entry; an empty map removes
// the annotation.
func (c Config) setManaged(ing *networkingv1.Ingress, add bool, keys ...string) error {
	m, err := managed(ing)
	if err != nil {
		return err
	}
	own := m[c.Rollout]
	for _, k := range keys {
		if add && !slices.Contains(own, k) {
			own = append(own, k)
		}
		if !add {
			own = slices.DeleteFunc(own, func(s string) bool { return s == k })
		}
	}
	if len(own) == 0 {
		delete(m, c.Rollout)
	} else {
		m[c.Rollout] = own
	}
	if len(m) == 0 {
		delete(ing.Annotations, v1alpha1.AnnotationManagedALBAnnotations)
		return nil
	}
	b, _ := json.Marshal(m)
	ing.Annotations[v1alpha1.AnnotationManagedALBAnnotations] = string(b)
	return nil
}

// checkBackend requires a path whose backend is the action Service with port use-annotation.
func (c Config) checkBackend(ing *networkingv1.Ingress, service string) error {
	found := false
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if s := p.Backend.Service; s != nil && s.Name == service {
				if s.Port.Name == UseAnnotation {
					return nil
				}
				found = true
			}
		}
	}
	if found {
		return contract.Invalidf(Type, "Ingress `%s` routes to Service `%s` by port, so the AWS Load Balancer Controller ignores %s: set the backend's port to name: %s",
			ing.Name, service, c.ActionKey(service), UseAnnotation)
	}
	return contract.Invalidf(Type, "Ingress `%s` has no path with backend Service `%s` (port name %s); the weighted action %s applies only to such a path",
		ing.Name, service, UseAnnotation, c.ActionKey(service))
}

func withAnnotations(ing *networkingv1.Ingress) *networkingv1.Ingress {
	out := ing.DeepCopy()
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	return out
}

// Ingress returns ing with the weighted action for the split d and the bookkeeping entry.
func (c Config) Ingress(ing *networkingv1.Ingress, d contract.Desired) (*networkingv1.Ingress, error) {
	svc := c.ActionService(d.Stable)
	if err := c.checkBackend(ing, svc); err != nil {
		return nil, err
	}
	out := withAnnotations(ing)
	out.Annotations[c.ActionKey(svc)] = c.ForwardAction(d)
	if err := c.setManaged(out, true, c.ActionKey(svc)); err != nil {
		return nil, err
	}
	return out, nil
}

// WithHeaderRoute returns ing with the header route hr — actions.<route> (all to the canary),
// conditions.<route>, and a path to backend <route> (port use-annotation) before each path of
// the action Service — or without them when hr.Match is empty.
func (c Config) WithHeaderRoute(ing *networkingv1.Ingress, hr contract.HeaderRoute) (*networkingv1.Ingress, error) {
	out := withAnnotations(ing)
	c.removeRoute(out, hr.Name)
	if len(hr.Match) == 0 {
		return out, c.setManaged(out, false, c.ActionKey(hr.Name), c.ConditionKey(hr.Name))
	}
	svc := c.ActionService(hr.Stable)
	if err := c.checkBackend(ing, svc); err != nil {
		return nil, err
	}
	conds, err := Conditions(hr)
	if err != nil {
		return nil, err
	}
	out.Annotations[c.ActionKey(hr.Name)] = c.action([]TargetGroup{{ServiceName: hr.Canary, ServicePort: c.port(), Weight: weight(100)}})
	out.Annotations[c.ConditionKey(hr.Name)] = conds
	for i := range out.Spec.Rules {
		rule := &out.Spec.Rules[i]
		if rule.HTTP == nil {
			continue
		}
		var paths []networkingv1.HTTPIngressPath
		for _, p := range rule.HTTP.Paths {
			if s := p.Backend.Service; s != nil && s.Name == svc {
				hp := *p.DeepCopy()
				hp.Backend.Service.Name = hr.Name
				hp.Backend.Service.Port = networkingv1.ServiceBackendPort{Name: UseAnnotation}
				paths = append(paths, hp)
			}
			paths = append(paths, p)
		}
		rule.HTTP.Paths = c.sortPaths(paths)
	}
	return out, c.setManaged(out, true, c.ActionKey(hr.Name), c.ConditionKey(hr.Name))
}

// sortPaths puts the managed-route paths first, in managedRoutes order, keeping the others'
// order (the AWS Load Balancer Controller evaluates paths in order).
func (c Config) sortPaths(paths []networkingv1.HTTPIngressPath) []networkingv1.HTTPIngressPath {
	rank := func(p networkingv1.HTTPIngressPath) int {
		if p.Backend.Service != nil {
			if i := slices.Index(c.ManagedRoutes, p.Backend.Service.Name); i >= 0 {
				return i
			}
		}
		return len(c.ManagedRoutes)
	}
	slices.SortStableFunc(paths, func(a, b networkingv1.HTTPIngressPath) int { return rank(a) - rank(b) })
	return paths
}

// removeRoute deletes the annotations and paths of one managed route, in place.
func (c Config) removeRoute(ing *networkingv1.Ingress, name string) {
	delete(ing.Annotations, c.ActionKey(name))
	delete(ing.Annotations, c.ConditionKey(name))
	for i := range ing.Spec.Rules {
		rule := &ing.Spec.Rules[i]
		if rule.HTTP == nil {
			continue
		}
		rule.HTTP.Paths = slices.DeleteFunc(rule.HTTP.Paths, func(p networkingv1.HTTPIngressPath) bool {
			return p.Backend.Service != nil && p.Backend.Service.Name == name && p.Backend.Service.Port.Name == UseAnnotation
		})
	}
}

// WithoutManagedRoutes returns ing without the header routes of every managed route.
func (c Config) WithoutManagedRoutes(ing *networkingv1.Ingress) (*networkingv1.Ingress, error) {
	out := withAnnotations(ing)
	keys := make([]string, 0, 2*len(c.ManagedRoutes))
	for _, name := range c.ManagedRoutes {
		c.removeRoute(out, name)
		keys = append(keys, c.ActionKey(name), c.ConditionKey(name))
	}
	return out, c.setManaged(out, false, keys...)
}

// Clean returns ing with every annotation this Rollout manages undone: managed routes removed,
// a weighted action reset to a single target group (its own Service at weight 100, which is
// what the AWS Load Balancer Controller needs for a use-annotation backend), the Rollout's
// bookkeeping entry removed.
func (c Config) Clean(ing *networkingv1.Ingress) (*networkingv1.Ingress, error) {
	out, err := c.WithoutManagedRoutes(ing)
	if err != nil {
		return nil, err
	}
	m, err := managed(out)
	if err != nil {
		return nil, err
	}
	prefix := c.Prefix() + "/actions."
	for _, k := range m[c.Rollout] {
		if svc, ok := strings.CutPrefix(k, prefix); ok {
			out.Annotations[k] = c.SingleAction(svc)
		} else {
			delete(out.Annotations, k)
		}
	}
	return out, c.setManaged(out, false, slices.Clone(m[c.Rollout])...)
}

// Changed reports whether want differs from cur in annotations or spec.
func Changed(cur, want *networkingv1.Ingress) bool {
	return !maps.Equal(cur.Annotations, want.Annotations) || !jsonEqual(cur.Spec, want.Spec)
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// describe is the canary weight an action annotation carries, for messages.
func describe(value string, canary string) string {
	var a Action
	if json.Unmarshal([]byte(value), &a) != nil {
		return "unreadable"
	}
	for _, g := range a.ForwardConfig.TargetGroups {
		if g.ServiceName == canary && g.Weight != nil {
			return fmt.Sprint(*g.Weight)
		}
	}
	return "none"
}
