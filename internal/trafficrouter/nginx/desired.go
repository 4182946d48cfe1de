package nginx

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// Type is the router's name.
const Type = "NGINX"

// DefaultAnnotationPrefix is the annotation prefix NGINX Ingress reads by default.
const DefaultAnnotationPrefix = "nginx.ingress.kubernetes.io"

// AnnotationManagedAnnotations records on the canary Ingress, as a JSON list, the annotation
// keys sluice set, so that keys removed from the Rollout are removed from the Ingress while
// annotations added by others are kept.
const AnnotationManagedAnnotations = "sluice.dev/managed-annotations"

// ingressClassAnnotation is the legacy class annotation, copied from the stable Ingress.
const ingressClassAnnotation = "kubernetes.io/ingress.class"

const canarySuffix = "-canary"

// maxNameLength is the longest Ingress name (a DNS subdomain).
const maxNameLength = 253

// CanaryIngressName is Argo Rollouts' name for the canary Ingress of a stable Ingress:
// <rollout>-<stableIngress>-canary, the prefix cut so the name fits in 253 characters.
func CanaryIngressName(rollout, stableIngress string) string {
	prefix := rollout + "-" + stableIngress
	if len(prefix) > maxNameLength-len(canarySuffix) {
		prefix = prefix[:maxNameLength-len(canarySuffix)]
	}
	return prefix + canarySuffix
}

// Config is what the router takes from the Rollout.
type Config struct {
	// Rollout and Namespace are the Rollout's name and namespace.
	Rollout, Namespace string
	// Nginx is spec.strategy.canary.trafficRouting.nginx.
	Nginx v1alpha1.NginxTrafficRouting
	// MaxTrafficWeight is trafficRouting.maxTrafficWeight; when set, canary-weight-total is
	// written.
	MaxTrafficWeight *int32
}

// ConfigFor reads the Config of a Rollout whose trafficRouting.nginx is set.
func ConfigFor(ro *v1alpha1.Rollout) Config {
	tr := ro.Spec.Strategy.Canary.TrafficRouting
	return Config{Rollout: ro.Name, Namespace: ro.Namespace, Nginx: *tr.Nginx, MaxTrafficWeight: tr.MaxTrafficWeight}
}

// Prefix is the annotation prefix (annotationPrefix or the default).
func (c Config) Prefix() string {
	if c.Nginx.AnnotationPrefix != "" {
		return c.Nginx.AnnotationPrefix
	}
	return DefaultAnnotationPrefix
}

// StableIngresses lists stableIngress or stableIngresses.
func (c Config) StableIngresses() []string {
	if c.Nginx.StableIngress != "" {
		return []string{c.Nginx.StableIngress}
	}
	return c.Nginx.StableIngresses
}

// CanaryIngress returns the canary Ingress sluice wants for a stable Ingress at the split d: the
// stable Ingress's paths whose backend is the stable Service, with the backend swapped to the
// canary Service (grouped in their rules, with the rules' hosts), its TLS, ingressClassName and
// kubernetes.io/ingress.class, and the annotations, in increasing precedence:
// additionalIngressAnnotations (prefixed), canaryIngressAnnotations (verbatim), then the keys
// that carry the split, which no user annotation can override (see WeightKeys):
// <prefix>/canary "true", <prefix>/canary-weight and, with maxTrafficWeight,
// <prefix>/canary-weight-total (without it the key is dropped, so NGINX's total of 100 holds).
// It has no owner reference and no resourceVersion.
func CanaryIngress(cfg Config, stable *networkingv1.Ingress, d contract.Desired) (*networkingv1.Ingress, error) {
	if msg := canaryAnnotationsProblem(cfg, stable); msg != "" {
		return nil, contract.Invalidf(Type, "%s", msg)
	}
	canary := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Name:        CanaryIngressName(cfg.Rollout, stable.Name),
			Namespace:   stable.Namespace,
			Annotations: map[string]string{},
		},
	}
	for _, rule := range stable.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		var paths []networkingv1.HTTPIngressPath
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service == nil || p.Backend.Service.Name != d.Stable {
				continue
			}
			p = *p.DeepCopy()
			p.Backend.Service.Name = d.Canary
			paths = append(paths, p)
		}
		if len(paths) > 0 {
			canary.Spec.Rules = append(canary.Spec.Rules, networkingv1.IngressRule{
				Host:             rule.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
			})
		}
	}
	if len(canary.Spec.Rules) == 0 {
		return nil, contract.Invalidf(Type, "Ingress `%s` has no rules using Service `%s` as a backend: the canary Ingress copies the stable Ingress's paths to stableService with the backend swapped to canaryService `%s`; route the stable Ingress to `%s`",
			stable.Name, d.Stable, d.Canary, d.Stable)
	}
	for _, tls := range stable.Spec.TLS {
		canary.Spec.TLS = append(canary.Spec.TLS, *tls.DeepCopy())
	}
	if stable.Spec.IngressClassName != nil {
		class := *stable.Spec.IngressClassName
		canary.Spec.IngressClassName = &class
	}
	if class, ok := stable.Annotations[ingressClassAnnotation]; ok {
		canary.Annotations[ingressClassAnnotation] = class
	}
	maps.Copy(canary.Annotations, cfg.userAnnotations())
	prefix := cfg.Prefix()
	canary.Annotations[prefix+"/canary"] = "true"
	canary.Annotations[prefix+"/canary-weight"] = fmt.Sprint(d.Weight)
	delete(canary.Annotations, prefix+"/canary-weight-total")
	if cfg.MaxTrafficWeight != nil {
		canary.Annotations[prefix+"/canary-weight-total"] = fmt.Sprint(d.TotalWeight())
	}
	return canary, nil
}

// userAnnotations are the annotations the Rollout asks for on the canary Ingress:
// additionalIngressAnnotations (prefixed when they are not), then canaryIngressAnnotations
// (verbatim), which win a collision.
func (c Config) userAnnotations() map[string]string {
	out := map[string]string{}
	for k, v := range c.Nginx.AdditionalIngressAnnotations {
		out[c.prefixed(k)] = v
	}
	maps.Copy(out, c.Nginx.CanaryIngressAnnotations)
	return out
}

func (c Config) prefixed(key string) string {
	if strings.HasPrefix(key, c.Prefix()) {
		return key
	}
	return c.Prefix() + "/" + key
}

// WeightKeys are the annotation keys that carry the split: sluice writes them last, over any
// additionalIngressAnnotations or canaryIngressAnnotations of the same key.
func (c Config) WeightKeys() []string {
	p := c.Prefix()
	return []string{p + "/canary", p + "/canary-weight", p + "/canary-weight-total"}
}

// Warnings explains, in sentences for `sluice lint`, the annotations of the Rollout that sluice
// ignores: additionalIngressAnnotations or canaryIngressAnnotations that set a key of
// WeightKeys. Argo Rollouts ignores such additionalIngressAnnotations too, but lets
// canaryIngressAnnotations override the keys, which freezes the weight at the annotation's
// value; sluice always writes the step's weight.
func Warnings(cfg Config) []string {
	var out []string
	for _, k := range cfg.WeightKeys() {
		if v, ok := cfg.Nginx.CanaryIngressAnnotations[k]; ok {
			out = append(out, fmt.Sprintf("trafficRouting.nginx.canaryIngressAnnotations sets %s: %q, which sluice ignores: it writes %s itself at every step (Argo Rollouts lets canaryIngressAnnotations override it, which freezes the canary's traffic); remove it%s",
				k, v, k, weightKeyHint(cfg, k)))
		}
		for ak, v := range cfg.Nginx.AdditionalIngressAnnotations {
			if cfg.prefixed(ak) == k {
				out = append(out, fmt.Sprintf("trafficRouting.nginx.additionalIngressAnnotations sets %s: %q, which sluice (like Argo Rollouts) ignores: it writes %s itself at every step; remove it%s",
					ak, v, k, weightKeyHint(cfg, k)))
			}
		}
	}
	slices.Sort(out)
	return out
}

func weightKeyHint(cfg Config, key string) string {
	switch key {
	case cfg.Prefix() + "/canary-weight-total":
		return " and set trafficRouting.maxTrafficWeight for a total other than 100"
	case cfg.Prefix() + "/canary-weight":
		return " and set the weight with setWeight steps"
	}
	return ""
}

// Merge returns current changed to carry desired (as built by CanaryIngress): desired's spec
// (except that an ingressClassName the API server defaulted is kept when desired has none),
// desired's annotations, the annotations sluice set earlier but no longer wants removed,
// everything else (annotations and labels added by others, owner references) kept. With a nil
// current it returns the Ingress to create.
func Merge(current, desired *networkingv1.Ingress) *networkingv1.Ingress {
	var out *networkingv1.Ingress
	if current == nil {
		out = desired.DeepCopy()
		out.Annotations = map[string]string{}
	} else {
		out = current.DeepCopy()
		out.Spec = *desired.Spec.DeepCopy()
		if out.Spec.IngressClassName == nil {
			out.Spec.IngressClassName = current.Spec.IngressClassName
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		for _, k := range managedKeys(current) {
			delete(out.Annotations, k)
		}
	}
	maps.Copy(out.Annotations, desired.Annotations)
	keys := slices.Sorted(maps.Keys(desired.Annotations))
	b, _ := json.Marshal(keys) // a []string always marshals
	out.Annotations[AnnotationManagedAnnotations] = string(b)
	return out
}

// Changed reports whether merged (from Merge) differs from current in what sluice manages.
func Changed(current, merged *networkingv1.Ingress) bool {
	return !apiequality.Semantic.DeepEqual(current.Spec, merged.Spec) ||
		!apiequality.Semantic.DeepEqual(current.Annotations, merged.Annotations)
}

func managedKeys(ing *networkingv1.Ingress) []string {
	var keys []string
	if s, ok := ing.Annotations[AnnotationManagedAnnotations]; ok {
		_ = json.Unmarshal([]byte(s), &keys) // a hand-edited value only loses the cleanup
	}
	return keys
}

// canaryAnnotationsProblem explains why a stable Ingress that carries <prefix>/canary*
// annotations cannot work, or returns "".
func canaryAnnotationsProblem(cfg Config, stable *networkingv1.Ingress) string {
	prefix := cfg.Prefix() + "/canary"
	var keys []string
	for k := range stable.Annotations {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return fmt.Sprintf("the stable Ingress `%s` carries the canary annotations %s: that makes it a canary Ingress itself, so NGINX has no primary Ingress for its hosts and paths. "+
		"Remove them from `%s`: sluice creates its own canary Ingress `%s` (routing to canaryService) and sets its canary-weight at every setWeight step; "+
		"put other canary settings (canary-by-header, canary-by-cookie, …) in trafficRouting.nginx.additionalIngressAnnotations.",
		stable.Name, strings.Join(keys, ", "), stable.Name, CanaryIngressName(cfg.Rollout, stable.Name))
}

// Diagnose explains, for a Rollout with trafficRouting.nginx and one of its stable Ingresses,
// everything that keeps the pair from working, in sentences meant for the InvalidSpec
// condition, or returns "": canary annotations on the stable Ingress, missing canaryService or
// stableService, a stable Ingress with no path to stableService.
func Diagnose(ro *v1alpha1.Rollout, stable *networkingv1.Ingress) string {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil || c.TrafficRouting.Nginx == nil || stable == nil {
		return ""
	}
	cfg := ConfigFor(ro)
	var problems []string
	if msg := canaryAnnotationsProblem(cfg, stable); msg != "" {
		problems = append(problems, strings.ToUpper(msg[:1])+msg[1:])
	}
	backends := backendServices(stable)
	if c.CanaryService == "" || c.StableService == "" {
		msg := "trafficRouting.nginx needs spec.strategy.canary.canaryService and stableService: sluice points stableService at the stable pods and canaryService at the canary pods, and the canary Ingress sends canary-weight percent of the requests to canaryService."
		if c.StableService == "" && len(backends) > 0 {
			msg += fmt.Sprintf(" The stable Ingress `%s` routes to Service `%s`: set stableService: %s, and create a second Service with the same selector and ports (for example `%s`) for canaryService.",
				stable.Name, backends[0], backends[0], suggestCanaryName(backends[0]))
		}
		problems = append(problems, msg)
	} else if !slices.Contains(backends, c.StableService) {
		problems = append(problems, fmt.Sprintf("The stable Ingress `%s` has no path whose backend is stableService `%s` (its backends: %s).",
			stable.Name, c.StableService, strings.Join(backends, ", ")))
	}
	return strings.Join(problems, " ")
}

func backendServices(ing *networkingv1.Ingress) []string {
	var out []string
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil && !slices.Contains(out, p.Backend.Service.Name) {
				out = append(out, p.Backend.Service.Name)
			}
		}
	}
	return out
}

func suggestCanaryName(stable string) string {
	if base, ok := strings.CutSuffix(stable, "-stable"); ok {
		return base + "-canary"
	}
	return stable + "-canary"
}
