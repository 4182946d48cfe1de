package istio

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// canaryDestination is the destination (host, subset, port) of the canary in the first
// selected HTTP route, for header and mirror routes.
func (c Config) canaryDestination(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, svc contract.Services) (map[string]any, []any, error) {
	sel, err := c.selectRoutes(vs, ref, svc)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range sel {
		if s.kind != httpRoutes {
			continue
		}
		route := kubeobj.Map(routes(vs, httpRoutes)[s.index])
		for _, dv := range kubeobj.Slice(route["route"]) {
			dest := kubeobj.Map(dv)
			if c.roleOf(dest, svc) == roleCanary {
				return kubeobj.Map(kubeobj.DeepCopy(dest["destination"])), kubeobj.Slice(kubeobj.DeepCopy(route["route"])), nil
			}
		}
		return nil, nil, contract.Invalidf(Type, "%s in %s of VirtualService %q", c.missing("Canary", svc.Canary), s.label, vs.GetName())
	}
	return nil, nil, contract.Invalidf(Type, "VirtualService %q: header and mirror routes need an HTTP route to copy the canary destination from, and the Rollout weights no HTTP route", vs.GetName())
}

func stringMatch(m *v1alpha1.StringMatch) map[string]any {
	out := map[string]any{}
	switch {
	case m == nil:
	case m.Exact != "":
		out["exact"] = m.Exact
	case m.Prefix != "":
		out["prefix"] = m.Prefix
	case m.Regex != "":
		out["regex"] = m.Regex
	}
	return out
}

// WithHeaderRoute returns vs with the header route hr (→ canary, weight 100) in place of any
// earlier route of that name, or without it when hr.Match is empty. As with Argo Rollouts, each
// header of hr.Match is a match block of its own, so a request with any one of the headers goes
// to the canary (Istio ORs the blocks of a route's match list).
func (c Config) WithHeaderRoute(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, hr contract.HeaderRoute) (*unstructured.Unstructured, error) {
	out := vs.DeepCopy()
	var route map[string]any
	if len(hr.Match) > 0 {
		dest, _, err := c.canaryDestination(out, ref, hr.Services)
		if err != nil {
			return nil, err
		}
		matches := make([]any, 0, len(hr.Match))
		for _, m := range hr.Match {
			matches = append(matches, map[string]any{"headers": map[string]any{m.HeaderName: stringMatch(m.HeaderValue)}})
		}
		route = map[string]any{
			"name":  hr.Name,
			"match": matches,
			"route": []any{map[string]any{"destination": dest, "weight": int64(100)}},
		}
	}
	c.putManagedRoute(out, hr.Name, route)
	return out, nil
}

// WithMirrorRoute returns vs with the mirror route mr — a copy of the first weighted HTTP
// route's destinations, with mirror set to the canary and mirrorPercentage — in place of any
// earlier route of that name, or without it when mr.Match is empty.
func (c Config) WithMirrorRoute(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, mr contract.MirrorRoute) (*unstructured.Unstructured, error) {
	out := vs.DeepCopy()
	var route map[string]any
	if len(mr.Match) > 0 {
		dest, weighted, err := c.canaryDestination(out, ref, mr.Services)
		if err != nil {
			return nil, err
		}
		matches := make([]any, 0, len(mr.Match))
		for _, m := range mr.Match {
			im := map[string]any{}
			if m.Method != nil {
				im["method"] = stringMatch(m.Method)
			}
			if m.Path != nil {
				im["uri"] = stringMatch(m.Path)
			}
			if len(m.Headers) > 0 {
				h := map[string]any{}
				for name, sm := range m.Headers {
					h[name] = stringMatch(&sm)
				}
				im["headers"] = h
			}
			matches = append(matches, im)
		}
		route = map[string]any{
			"name":             mr.Name,
			"match":            matches,
			"route":            weighted,
			"mirror":           dest,
			"mirrorPercentage": map[string]any{"value": int64(mr.MirrorPercent())},
		}
	}
	c.putManagedRoute(out, mr.Name, route)
	return out, nil
}

// WithoutManagedRoutes returns vs without the HTTP routes named in managedRoutes.
func (c Config) WithoutManagedRoutes(vs *unstructured.Unstructured) *unstructured.Unstructured {
	out := vs.DeepCopy()
	for _, name := range c.ManagedRoutes {
		c.putManagedRoute(out, name, nil)
	}
	return out
}

// putManagedRoute replaces (or, with a nil route, removes) the managed route name and orders
// spec.http: managed routes first, in managedRoutes order, then the others as they were.
func (c Config) putManagedRoute(vs *unstructured.Unstructured, name string, route map[string]any) {
	http := routes(vs, httpRoutes)
	if http == nil && route == nil {
		return
	}
	managed := map[string]any{}
	var others []any
	for _, r := range http {
		n := routeName(r)
		if slices.Contains(c.ManagedRoutes, n) {
			managed[n] = r
		} else {
			others = append(others, r)
		}
	}
	if route == nil {
		delete(managed, name)
	} else {
		managed[name] = route
	}
	out := make([]any, 0, len(managed)+len(others))
	for _, n := range c.ManagedRoutes {
		if r, ok := managed[n]; ok {
			out = append(out, r)
		}
	}
	out = append(out, others...)
	kubeobj.SetNested(vs.Object, out, "spec", string(httpRoutes))
}
