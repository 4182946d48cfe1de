package trafficrouter

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/gatewayapi"
	"github.com/sluicehq/sluice/internal/trafficrouter/nginx"
)

const p = "spec.strategy.canary."

// ruleNameRE is the pattern of a Gateway API rule name (header and mirror rules are named
// after the managed route).
var ruleNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Validate returns the first router-specific reason a Rollout's trafficRouting cannot work,
// in a sentence for the InvalidSpec condition, or "" (see ValidateAll).
func Validate(ro *v1alpha1.Rollout) string {
	if all := ValidateAll(ro); len(all) > 0 {
		return all[0]
	}
	return ""
}

// ValidateAll returns every router-specific reason a Rollout's trafficRouting cannot work
// (one per area: routers, maxTrafficWeight, Services, router settings, steps), in sentences
// for the InvalidSpec condition. It is pure: it checks the spec only (argo-compat §1.13);
// problems with the referenced objects come from the routers as *InvalidConfigError and from
// Diagnose. internal/rolloutspec joins it with plan.ValidateAll.
func ValidateAll(ro *v1alpha1.Rollout) []string {
	c := ro.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil {
		return nil
	}
	tr := c.TrafficRouting
	if what := unsupportedRouter(tr); what != "" {
		return []string{p + what + " is not supported by sluice yet; supported: nginx, istio, smi, alb and plugins[\"" + gatewayapi.PluginName + "\"]"}
	}
	_, hasGW := tr.Plugins[gatewayapi.PluginName]
	istio, alb, nginxOn, smiOn := tr.Istio != nil, tr.ALB != nil, tr.Nginx != nil, tr.SMI != nil
	if !istio && !alb && !nginxOn && !smiOn && !hasGW {
		return []string{p + "trafficRouting configures no router: set nginx, istio, smi, alb or plugins[\"" + gatewayapi.PluginName + "\"]"}
	}
	var out []string
	if tr.MaxTrafficWeight != nil {
		for _, r := range []struct {
			name string
			on   bool
		}{{"istio", istio}, {"alb", alb}, {"smi", smiOn}} {
			if r.on {
				out = append(out, fmt.Sprintf(p+"trafficRouting.maxTrafficWeight is only supported with nginx and plugins; %s weights are percentages of 100", r.name))
				break
			}
		}
	}
	for _, msg := range []string{validateServices(c, tr), validateRouters(tr), validateSteps(c, tr)} {
		if msg != "" {
			out = append(out, msg)
		}
	}
	return out
}

func validateServices(c *v1alpha1.CanaryStrategy, tr *v1alpha1.RolloutTrafficRouting) string {
	var need []string
	switch {
	case tr.Nginx != nil:
		need = append(need, "nginx")
	case tr.SMI != nil:
		need = append(need, "smi")
	}
	if tr.ALB != nil && c.PingPong == nil {
		need = append(need, "alb")
	}
	if tr.Istio != nil && tr.Istio.DestinationRule == nil && c.PingPong == nil {
		need = append(need, "istio (host-level split, without destinationRule)")
	}
	if _, ok := tr.Plugins[gatewayapi.PluginName]; ok {
		need = append(need, "plugins[\""+gatewayapi.PluginName+"\"] (it weights the backendRefs named after them)")
	}
	if len(need) > 0 && (c.CanaryService == "" || c.StableService == "") {
		return fmt.Sprintf(p+"trafficRouting.%s needs canaryService and stableService: sluice points stableService at the stable pods and canaryService at the canary pods, and the router splits the traffic between the two Services", need[0])
	}
	if c.PingPong != nil && tr.ALB != nil && tr.ALB.RootService == "" {
		return p + "trafficRouting.alb.rootService is required with pingPong"
	}
	return ""
}

func validateRouters(tr *v1alpha1.RolloutTrafficRouting) string {
	managed := make([]string, 0, len(tr.ManagedRoutes))
	for _, m := range tr.ManagedRoutes {
		if slices.Contains(managed, m.Name) {
			return fmt.Sprintf(p+"trafficRouting.managedRoutes lists %q twice", m.Name)
		}
		managed = append(managed, m.Name)
	}
	if n := tr.Nginx; n != nil {
		if (n.StableIngress == "") == (len(n.StableIngresses) == 0) {
			return p + "trafficRouting.nginx must set exactly one of stableIngress or stableIngresses"
		}
		if dup := duplicate(n.StableIngresses); dup != "" {
			return fmt.Sprintf(p+"trafficRouting.nginx.stableIngresses lists %q twice", dup)
		}
	}
	if a := tr.ALB; a != nil {
		if (a.Ingress == "") == (len(a.Ingresses) == 0) {
			return p + "trafficRouting.alb must set exactly one of ingress or ingresses"
		}
		if a.ServicePort == 0 {
			return p + "trafficRouting.alb.servicePort is required"
		}
	}
	if i := tr.Istio; i != nil {
		if (i.VirtualService == nil) == (len(i.VirtualServices) == 0) {
			return p + "trafficRouting.istio must set exactly one of virtualService or virtualServices"
		}
		vss := i.VirtualServices
		if i.VirtualService != nil {
			vss = []v1alpha1.IstioVirtualService{*i.VirtualService}
		}
		for _, vs := range vss {
			for _, r := range vs.Routes {
				if slices.Contains(managed, r) {
					return fmt.Sprintf(p+"trafficRouting.istio: route %q of VirtualService %q is also a managed route; managed routes are created and deleted by sluice, name the weighted routes differently", r, vs.Name)
				}
			}
		}
		if dr := i.DestinationRule; dr != nil && dr.CanarySubsetName == dr.StableSubsetName {
			return p + "trafficRouting.istio.destinationRule: canarySubsetName and stableSubsetName must differ"
		}
	}
	if raw, ok := tr.Plugins[gatewayapi.PluginName]; ok {
		if _, err := gatewayapi.ParseConfig(raw); err != nil {
			return p + err.Error()
		}
		for _, m := range managed {
			if !ruleNameRE.MatchString(m) || len(m) > 250 {
				return fmt.Sprintf(p+"trafficRouting.managedRoutes: %q cannot name a Gateway API route rule (lowercase letters, digits, '-' and '.')", m)
			}
		}
	}
	return ""
}

func duplicate(s []string) string {
	for i, v := range s {
		if slices.Contains(s[:i], v) {
			return v
		}
	}
	return ""
}

func validateSteps(c *v1alpha1.CanaryStrategy, tr *v1alpha1.RolloutTrafficRouting) string {
	for i, s := range c.Steps {
		at := fmt.Sprintf(p+"steps[%d]", i)
		if h := s.SetHeaderRoute; h != nil {
			if msg := validateHeaderRoute(tr, at+".setHeaderRoute", h); msg != "" {
				return msg
			}
		}
		if m := s.SetMirrorRoute; m != nil {
			if msg := validateMirrorRoute(tr, at+".setMirrorRoute", m); msg != "" {
				return msg
			}
		}
		if e := s.Experiment; e != nil {
			for _, t := range e.Templates {
				if t.Weight == nil {
					continue
				}
				_, gw := tr.Plugins[gatewayapi.PluginName]
				if tr.SMI == nil && tr.ALB == nil && tr.Istio == nil && !gw {
					return at + ".experiment: template weights need trafficRouting.smi, alb, istio or plugins[\"" + gatewayapi.PluginName + "\"] (sluice's NGINX router does not take experiment destinations yet)"
				}
				if tr.Nginx != nil {
					return at + ".experiment: template weights need every router to take experiment destinations: smi, alb, istio and Gateway API do, sluice's NGINX router not yet"
				}
			}
		}
	}
	return ""
}

func validateHeaderRoute(tr *v1alpha1.RolloutTrafficRouting, at string, h *v1alpha1.SetHeaderRoute) string {
	_, hasGW := tr.Plugins[gatewayapi.PluginName]
	if tr.Istio == nil && tr.ALB == nil && !hasGW {
		msg := at + " needs trafficRouting.istio, alb or plugins[\"" + gatewayapi.PluginName + "\"]"
		if tr.Nginx != nil {
			msg += "; with NGINX, route by header with trafficRouting.nginx.additionalIngressAnnotations (canary-by-header: <header>, canary-by-header-value: <value>)"
		}
		return msg
	}
	if msg := checkManaged(tr, at, h.Name); msg != "" {
		return msg
	}
	for j, m := range h.Match {
		if msg := checkStringMatch(fmt.Sprintf("%s.match[%d].headerValue", at, j), m.HeaderValue); msg != "" {
			return msg
		}
		if tr.ALB != nil && m.HeaderValue.Exact == "" {
			return fmt.Sprintf("%s.match[%d]: ALB matches header values exactly; use headerValue.exact", at, j)
		}
	}
	if hasGW && !gatewayHeaderRoutes(tr) {
		return at + " needs an httpRoute or grpcRoute with useHeaderRoutes: true in trafficRouting.plugins[\"" + gatewayapi.PluginName + "\"] (the singular httpRoute field implies it)"
	}
	return ""
}

func validateMirrorRoute(tr *v1alpha1.RolloutTrafficRouting, at string, m *v1alpha1.SetMirrorRoute) string {
	_, hasGW := tr.Plugins[gatewayapi.PluginName]
	if tr.Istio == nil && !hasGW {
		return at + " needs trafficRouting.istio or plugins[\"" + gatewayapi.PluginName + "\"]"
	}
	if msg := checkManaged(tr, at, m.Name); msg != "" {
		return msg
	}
	for j, rm := range m.Match {
		w := fmt.Sprintf("%s.match[%d]", at, j)
		if rm.Method != nil {
			if msg := checkStringMatch(w+".method", rm.Method); msg != "" {
				return msg
			}
			if hasGW && rm.Method.Exact == "" {
				return w + ".method: Gateway API matches the HTTP method exactly; use method.exact"
			}
		}
		if rm.Path != nil {
			if msg := checkStringMatch(w+".path", rm.Path); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func gatewayHeaderRoutes(tr *v1alpha1.RolloutTrafficRouting) bool {
	pc, err := gatewayapi.ParseConfig(tr.Plugins[gatewayapi.PluginName])
	if err != nil {
		return false
	}
	for _, r := range pc.Routes() {
		if r.UseHeaderRoutes && (r.Kind == gatewayapi.KindHTTPRoute || r.Kind == gatewayapi.KindGRPCRoute) {
			return true
		}
	}
	return false
}

func checkManaged(tr *v1alpha1.RolloutTrafficRouting, at, name string) string {
	for _, m := range tr.ManagedRoutes {
		if m.Name == name {
			return ""
		}
	}
	return fmt.Sprintf("%s.name %q must be listed in trafficRouting.managedRoutes", at, name)
}

func checkStringMatch(at string, m *v1alpha1.StringMatch) string {
	if m == nil {
		return at + " is required"
	}
	n := 0
	for _, v := range []string{m.Exact, m.Prefix, m.Regex} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return at + " must set exactly one of exact, prefix or regex"
	}
	return ""
}

// Warnings lists, in sentences for `sluice lint`, what sluice does with the Rollout's
// trafficRouting that differs from what its author may expect, without refusing it: today the
// NGINX annotations sluice ignores because they would override the weight
// (canary, canary-weight, canary-weight-total in additionalIngressAnnotations or
// canaryIngressAnnotations; Argo Rollouts lets canaryIngressAnnotations win).
func Warnings(ro *v1alpha1.Rollout) []string {
	tr := trafficRouting(ro)
	if tr == nil || tr.Nginx == nil {
		return nil
	}
	var out []string
	for _, w := range nginx.Warnings(nginx.ConfigFor(ro)) {
		out = append(out, p+w)
	}
	return out
}

// DiagnoseNGINX explains, for a Rollout with trafficRouting.nginx and one of its stable
// Ingresses, everything that keeps them from working — canary annotations on the stable
// Ingress, missing canaryService/stableService, no path to stableService — in sentences for the
// InvalidSpec condition; "" when there is nothing to say.
func DiagnoseNGINX(ro *v1alpha1.Rollout, stable *networkingv1.Ingress) string {
	return nginx.Diagnose(ro, stable)
}

// DiagnoseAll is ValidateAll plus what only the referenced objects tell: for NGINX, the
// explanation the stable Ingresses give (the canary annotations found on them, and which
// Services to create, named after their backends) replaces the plain "needs canaryService and
// stableService" problem.
func DiagnoseAll(ctx context.Context, c client.Reader, ro *v1alpha1.Rollout) ([]string, error) {
	all := ValidateAll(ro)
	tr := trafficRouting(ro)
	if tr == nil || tr.Nginx == nil {
		return all, nil
	}
	msgs, err := diagnoseIngresses(ctx, c, ro)
	if err != nil || len(msgs) == 0 {
		return all, err
	}
	if svc := validateServices(ro.Spec.Strategy.Canary, tr); svc != "" {
		all = slices.DeleteFunc(all, func(m string) bool { return m == svc })
	}
	return append(all, msgs...), nil
}

func diagnoseIngresses(ctx context.Context, c client.Reader, ro *v1alpha1.Rollout) ([]string, error) {
	var msgs []string
	for _, name := range nginx.ConfigFor(ro).StableIngresses() {
		ing := &networkingv1.Ingress{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, ing); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("reading stable Ingress %s: %w", name, err)
		}
		if msg := DiagnoseNGINX(ro, ing); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	return msgs, nil
}

// Diagnose is Validate plus what only the referenced objects tell: for NGINX it reads the
// stable Ingresses and returns DiagnoseNGINX's fuller explanation when there is one (which
// also covers missing canary/stable Services). Use it where Validate's message goes, when a
// client is at hand.
func Diagnose(ctx context.Context, c client.Reader, ro *v1alpha1.Rollout) (string, error) {
	tr := trafficRouting(ro)
	if tr == nil || tr.Nginx == nil {
		return Validate(ro), nil
	}
	msgs, err := diagnoseIngresses(ctx, c, ro)
	if err != nil {
		return "", err
	}
	if len(msgs) > 0 {
		return strings.Join(msgs, " "), nil
	}
	return Validate(ro), nil
}
