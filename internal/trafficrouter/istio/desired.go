package istio

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Type is the router's name.
const Type = "Istio"

// Group is Istio's networking API group.
const Group = "networking.istio.io"

// DefaultAPIVersion is the VirtualService/DestinationRule version the router uses (served by
// Istio 1.22 and later; Argo Rollouts uses v1alpha3).
const DefaultAPIVersion = "v1"

// Kinds.
const (
	KindVirtualService  = "VirtualService"
	KindDestinationRule = "DestinationRule"
)

// Config is what the router takes from the Rollout.
type Config struct {
	// Rollout and Namespace are the Rollout's name and namespace.
	Rollout, Namespace string
	// Istio is spec.strategy.canary.trafficRouting.istio.
	Istio v1alpha1.IstioTrafficRouting
	// ManagedRoutes are the names in trafficRouting.managedRoutes, in order.
	ManagedRoutes []string
	// APIVersion of VirtualService and DestinationRule; "" means DefaultAPIVersion.
	APIVersion string
	// Services are the Rollout's canaryService and stableService, for Cleanup (the other
	// methods take them from their arguments).
	Services contract.Services
}

// ConfigFor reads the Config of a Rollout whose trafficRouting.istio is set.
func ConfigFor(ro *v1alpha1.Rollout, apiVersion string) Config {
	tr := ro.Spec.Strategy.Canary.TrafficRouting
	cfg := Config{
		Rollout: ro.Name, Namespace: ro.Namespace, Istio: *tr.Istio, APIVersion: apiVersion,
		Services: contract.Services{Canary: ro.Spec.Strategy.Canary.CanaryService, Stable: ro.Spec.Strategy.Canary.StableService},
	}
	for _, m := range tr.ManagedRoutes {
		cfg.ManagedRoutes = append(cfg.ManagedRoutes, m.Name)
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	return cfg
}

// VirtualServices lists virtualService or virtualServices.
func (c Config) VirtualServices() []v1alpha1.IstioVirtualService {
	if c.Istio.VirtualService != nil {
		return []v1alpha1.IstioVirtualService{*c.Istio.VirtualService}
	}
	return c.Istio.VirtualServices
}

// GVK of a kind at the configured version.
func (c Config) GVK(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: Group, Version: c.APIVersion, Kind: kind}
}

// routeKind is a section of a VirtualService spec.
type routeKind string

const (
	httpRoutes routeKind = "http"
	tlsRoutes  routeKind = "tls"
	tcpRoutes  routeKind = "tcp"
)

// selected is one weighted route of a VirtualService.
type selected struct {
	kind  routeKind
	index int
	label string // for messages: `HTTP route "primary"`
}

// role of a destination in a weighted route.
type role int

const (
	roleForeign role = iota
	roleCanary
	roleStable
	roleKept // an additionalSubsetNames subset: keeps its weight
)

// roleOf classifies a route destination. With a DestinationRule the subsets decide (host and
// subset both given), else the host's first label is compared with the Service names.
func (c Config) roleOf(dest map[string]any, svc contract.Services) role {
	inner := kubeobj.Map(dest["destination"])
	if dr := c.Istio.DestinationRule; dr != nil {
		switch subset := kubeobj.String(inner, "subset"); {
		case subset == "":
			return roleForeign
		case subset == dr.CanarySubsetName:
			return roleCanary
		case subset == dr.StableSubsetName:
			return roleStable
		case slices.Contains(dr.AdditionalSubsetNames, subset):
			return roleKept
		}
		return roleForeign
	}
	host, _, _ := strings.Cut(kubeobj.String(inner, "host"), ".")
	switch host {
	case "":
		return roleForeign
	case svc.Canary:
		return roleCanary
	case svc.Stable:
		return roleStable
	}
	return roleForeign
}

func (c Config) describeDest(dest map[string]any) string {
	inner := kubeobj.Map(dest["destination"])
	if s := kubeobj.String(inner, "subset"); s != "" {
		return fmt.Sprintf("%s (subset %s)", kubeobj.String(inner, "host"), s)
	}
	return kubeobj.String(inner, "host")
}

func routes(vs *unstructured.Unstructured, kind routeKind) []any {
	return kubeobj.Slice(kubeobj.Nested(vs.Object, "spec", string(kind)))
}

func routeName(r any) string { return kubeobj.String(kubeobj.Map(r), "name") }

// selectRoutes finds the routes of vs the Rollout weights, or explains why it cannot.
func (c Config) selectRoutes(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService) ([]selected, error) {
	vsName := vs.GetName()
	http := routes(vs, httpRoutes)
	var out []selected
	for _, name := range ref.Routes {
		i := slices.IndexFunc(http, func(r any) bool { return routeName(r) == name })
		if i < 0 {
			names := make([]string, 0, len(http))
			for _, r := range http {
				names = append(names, fmt.Sprintf("%q", routeName(r)))
			}
			return nil, contract.Invalidf(Type, "HTTP route %q is not found in VirtualService %q (its HTTP routes: %s)", name, vsName, orNone(names))
		}
		out = append(out, selected{kind: httpRoutes, index: i, label: fmt.Sprintf("HTTP route %q", name)})
	}
	for _, t := range ref.TLSRoutes {
		found := false
		for i, r := range routes(vs, tlsRoutes) {
			port, hosts := matchPortAndSNI(r)
			if port == t.Port && sameSet(hosts, t.SNIHosts) {
				out = append(out, selected{kind: tlsRoutes, index: i, label: fmt.Sprintf("TLS route %d (port %d)", i, port)})
				found = true
			}
		}
		if !found {
			return nil, contract.Invalidf(Type, "no TLS route matching port %d and sniHosts %v in VirtualService %q", t.Port, t.SNIHosts, vsName)
		}
	}
	for _, t := range ref.TCPRoutes {
		found := false
		for i, r := range routes(vs, tcpRoutes) {
			if port, _ := matchPortAndSNI(r); port == t.Port {
				out = append(out, selected{kind: tcpRoutes, index: i, label: fmt.Sprintf("TCP route %d (port %d)", i, port)})
				found = true
			}
		}
		if !found {
			return nil, contract.Invalidf(Type, "no TCP route matching port %d in VirtualService %q", t.Port, vsName)
		}
	}
	if len(ref.Routes) > 0 || len(ref.TLSRoutes) > 0 || len(ref.TCPRoutes) > 0 {
		return out, nil
	}
	// Nothing named: the VirtualService must have exactly one route (managed routes aside).
	var candidates []selected
	for i, r := range http {
		if !slices.Contains(c.ManagedRoutes, routeName(r)) {
			candidates = append(candidates, selected{kind: httpRoutes, index: i, label: fmt.Sprintf("HTTP route %q", routeName(r))})
		}
	}
	for i := range routes(vs, tlsRoutes) {
		candidates = append(candidates, selected{kind: tlsRoutes, index: i, label: fmt.Sprintf("TLS route %d", i)})
	}
	for i := range routes(vs, tcpRoutes) {
		candidates = append(candidates, selected{kind: tcpRoutes, index: i, label: fmt.Sprintf("TCP route %d", i)})
	}
	if len(candidates) != 1 {
		return nil, contract.Invalidf(Type, "VirtualService %q has %d routes; with trafficRouting.istio.virtualService.routes (or tlsRoutes/tcpRoutes) omitted it must have exactly one: name the routes to weight",
			vsName, len(candidates))
	}
	return candidates, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// matchPortAndSNI returns the single port of a TLS/TCP route's matches (0 when none or more
// than one port) and the union of their sniHosts, as Argo Rollouts compares them.
func matchPortAndSNI(route any) (int64, []string) {
	ports := map[int64]bool{}
	var hosts []string
	for _, m := range kubeobj.Slice(kubeobj.Map(route)["match"]) {
		mm := kubeobj.Map(m)
		p, _ := kubeobj.Int64(mm["port"])
		ports[p] = true
		for _, h := range kubeobj.Slice(mm["sniHosts"]) {
			if s, ok := h.(string); ok && !slices.Contains(hosts, s) {
				hosts = append(hosts, s)
			}
		}
	}
	if len(ports) != 1 {
		return -1, hosts
	}
	for p := range ports {
		return p, hosts
	}
	return -1, hosts
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// weightRoute sets the weights on one route's destinations in place. strict routes (the ones
// the Rollout names) must have both a canary and a stable destination.
func (c Config) weightRoute(route map[string]any, label, vsName string, d contract.Desired) error {
	dests := kubeobj.Slice(route["route"])
	var hasCanary, hasStable bool
	var kept int64
	for _, dv := range dests {
		dest := kubeobj.Map(dv)
		w, ok := kubeobj.Int64(dest["weight"])
		if !ok {
			w = 0
			if len(dests) == 1 {
				w = 100
			}
		}
		switch c.roleOf(dest, d.Services) {
		case roleCanary:
			hasCanary = true
		case roleStable:
			hasStable = true
		case roleKept:
			kept += w
		case roleForeign:
			if w != 0 {
				return contract.Invalidf(Type, "%s of VirtualService %q sends weight %d to %s, which is neither the canary nor the stable; sluice neither deletes nor re-weights it: remove it from the route%s",
					label, vsName, w, c.describeDest(dest), c.keptHint())
			}
		}
	}
	if !hasCanary {
		return contract.Invalidf(Type, "%s in %s of VirtualService %q; add a destination for it", c.missing("Canary", d.Canary), label, vsName)
	}
	if !hasStable {
		return contract.Invalidf(Type, "%s in %s of VirtualService %q; add a destination for it", c.missing("Stable", d.Stable), label, vsName)
	}
	stableW := int64(d.StableWeight()) - kept
	if stableW < 0 {
		return contract.Invalidf(Type, "the additional subsets of %s in VirtualService %q take weight %d, leaving nothing for the stable at canary weight %d", label, vsName, kept, d.Weight)
	}
	for _, dv := range dests {
		dest := kubeobj.Map(dv)
		switch c.roleOf(dest, d.Services) {
		case roleCanary:
			dest["weight"] = int64(d.Weight)
		case roleStable:
			dest["weight"] = stableW
		case roleKept, roleForeign:
		}
	}
	return nil
}

func (c Config) keptHint() string {
	if c.Istio.DestinationRule != nil {
		return " or list its subset in trafficRouting.istio.destinationRule.additionalSubsetNames"
	}
	return ""
}

func (c Config) missing(which, svc string) string {
	if dr := c.Istio.DestinationRule; dr != nil {
		subset := dr.CanarySubsetName
		if which == "Stable" {
			subset = dr.StableSubsetName
		}
		return fmt.Sprintf("%s DestinationRule subset %q is not found", which, subset)
	}
	return fmt.Sprintf("%s Service %q is not found", which, svc)
}

// isMirrorRoute: a managed HTTP route that carries weighted canary and stable destinations
// (setMirrorRoute copies the weighted route), so SetWeight keeps its weights in step.
func (c Config) isMirrorRoute(route map[string]any, svc contract.Services) bool {
	if !slices.Contains(c.ManagedRoutes, kubeobj.String(route, "name")) || route["mirror"] == nil {
		return false
	}
	var canary, stable bool
	for _, dv := range kubeobj.Slice(route["route"]) {
		switch c.roleOf(kubeobj.Map(dv), svc) {
		case roleCanary:
			canary = true
		case roleStable:
			stable = true
		case roleKept, roleForeign:
		}
	}
	return canary && stable
}

// VirtualService returns vs with the split d applied to the routes ref selects, and to the
// mirror routes sluice manages. It fails with an InvalidConfigError when a named route, or the
// canary or stable destination of a selected route, is missing.
func (c Config) VirtualService(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, d contract.Desired) (*unstructured.Unstructured, error) {
	out := vs.DeepCopy()
	sel, err := c.selectRoutes(out, ref)
	if err != nil {
		return nil, err
	}
	for _, s := range sel {
		route := kubeobj.Map(routes(out, s.kind)[s.index])
		if err := c.weightRoute(route, s.label, out.GetName(), d); err != nil {
			return nil, err
		}
	}
	for _, r := range routes(out, httpRoutes) {
		route := kubeobj.Map(r)
		if c.isMirrorRoute(route, d.Services) {
			if err := c.weightRoute(route, fmt.Sprintf("mirror route %q", routeName(route)), out.GetName(), d); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// canaryDestination is the destination (host, subset, port) of the canary in the first
// selected HTTP route, for header and mirror routes.
func (c Config) canaryDestination(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, svc contract.Services) (map[string]any, []any, error) {
	sel, err := c.selectRoutes(vs, ref)
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

// WithHeaderRoute returns vs with the header route hr (all headers must match → canary, weight
// 100) in place of any earlier route of that name, or without it when hr.Match is empty.
func (c Config) WithHeaderRoute(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, hr contract.HeaderRoute) (*unstructured.Unstructured, error) {
	out := vs.DeepCopy()
	var route map[string]any
	if len(hr.Match) > 0 {
		dest, _, err := c.canaryDestination(out, ref, hr.Services)
		if err != nil {
			return nil, err
		}
		headers := map[string]any{}
		for _, m := range hr.Match {
			headers[m.HeaderName] = stringMatch(m.HeaderValue)
		}
		route = map[string]any{
			"name":  hr.Name,
			"match": []any{map[string]any{"headers": headers}},
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

// DestinationRule returns dr with the canary and stable subsets labelled with the hashes (an
// empty hash leaves that label as it is) and annotated as managed by the Rollout.
func (c Config) DestinationRule(dr *unstructured.Unstructured, canaryHash, stableHash string) (*unstructured.Unstructured, error) {
	spec := c.Istio.DestinationRule
	out := dr.DeepCopy()
	subsets := kubeobj.Slice(kubeobj.Nested(out.Object, "spec", "subsets"))
	for _, s := range []struct{ which, name, hash string }{
		{"canarySubsetName", spec.CanarySubsetName, canaryHash},
		{"stableSubsetName", spec.StableSubsetName, stableHash},
	} {
		i := slices.IndexFunc(subsets, func(v any) bool { return routeName(v) == s.name })
		if i < 0 {
			names := make([]string, 0, len(subsets))
			for _, v := range subsets {
				names = append(names, fmt.Sprintf("%q", routeName(v)))
			}
			return nil, contract.Invalidf(Type, "DestinationRule %q has no subset %q (trafficRouting.istio.destinationRule.%s); its subsets: %s",
				out.GetName(), s.name, s.which, orNone(names))
		}
		if s.hash == "" {
			continue
		}
		subset := kubeobj.Map(subsets[i])
		labels := kubeobj.Map(subset["labels"])
		if labels == nil {
			labels = map[string]any{}
			subset["labels"] = labels
		}
		labels[v1alpha1.LabelPodTemplateHash] = s.hash
	}
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[v1alpha1.AnnotationManagedByRollouts] = c.Rollout
	out.SetAnnotations(ann)
	return out, nil
}

// CleanDestinationRule returns dr without the hash labels of the canary and stable subsets and
// without the managed-by annotation, if this Rollout manages it; else dr unchanged.
func (c Config) CleanDestinationRule(dr *unstructured.Unstructured) *unstructured.Unstructured {
	out := dr.DeepCopy()
	ann := out.GetAnnotations()
	if ann[v1alpha1.AnnotationManagedByRollouts] != c.Rollout {
		return out
	}
	spec := c.Istio.DestinationRule
	for _, v := range kubeobj.Slice(kubeobj.Nested(out.Object, "spec", "subsets")) {
		subset := kubeobj.Map(v)
		if n := routeName(subset); n != spec.CanarySubsetName && n != spec.StableSubsetName {
			continue
		}
		if labels := kubeobj.Map(subset["labels"]); labels != nil {
			delete(labels, v1alpha1.LabelPodTemplateHash)
			if len(labels) == 0 {
				delete(subset, "labels")
			}
		}
	}
	delete(ann, v1alpha1.AnnotationManagedByRollouts)
	if len(ann) == 0 {
		ann = nil
	}
	out.SetAnnotations(ann)
	return out
}

// subsetHashes returns the hash labels of the canary and stable subsets.
func (c Config) subsetHashes(dr *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, v := range kubeobj.Slice(kubeobj.Nested(dr.Object, "spec", "subsets")) {
		subset := kubeobj.Map(v)
		if h, ok := kubeobj.Map(subset["labels"])[v1alpha1.LabelPodTemplateHash].(string); ok {
			out[routeName(subset)] = h
		}
	}
	return out
}

// reconciled reads Istio's Reconciled condition of an object for its current generation:
// known is false when there is none (istiod status distribution off) or it is for an older
// generation.
func reconciled(u *unstructured.Unstructured) (ok, known bool, message string) {
	for _, cv := range kubeobj.Slice(kubeobj.Nested(u.Object, "status", "conditions")) {
		cond := kubeobj.Map(cv)
		if kubeobj.String(cond, "type") != "Reconciled" {
			continue
		}
		gen, hasGen := kubeobj.Int64(cond["observedGeneration"])
		if !hasGen {
			gen, hasGen = kubeobj.Int64(kubeobj.Nested(u.Object, "status", "observedGeneration"))
		}
		if !hasGen || gen != u.GetGeneration() {
			return false, false, ""
		}
		return kubeobj.String(cond, "status") == "True", true, kubeobj.String(cond, "message")
	}
	return false, false, ""
}
