package istio

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

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

func routes(vs *unstructured.Unstructured, kind routeKind) []any {
	return kubeobj.Slice(kubeobj.Nested(vs.Object, "spec", string(kind)))
}

func routeName(r any) string { return kubeobj.String(kubeobj.Map(r), "name") }

// sectionField is the trafficRouting.istio.virtualService field that names the routes of a
// section.
var sectionField = map[routeKind]string{httpRoutes: "routes", tlsRoutes: "tlsRoutes", tcpRoutes: "tcpRoutes"}

// sectionLabel names a section in messages.
var sectionLabel = map[routeKind]string{httpRoutes: "HTTP", tlsRoutes: "TLS", tcpRoutes: "TCP"}

// routeLabel names a route of a section in messages: `HTTP route "primary"`, `TCP route 0`.
func routeLabel(kind routeKind, i int, r any) string {
	if n := routeName(r); n != "" {
		return fmt.Sprintf("%s route %q", sectionLabel[kind], n)
	}
	return fmt.Sprintf("%s route %d", sectionLabel[kind], i)
}

// selectRoutes finds the routes of vs the Rollout weights, or explains why it cannot.
//
// The routes named in routes (HTTP, by name), tlsRoutes (by port and SNI hosts) and tcpRoutes
// (by port) are taken as listed. A section (spec.http, spec.tls, spec.tcp) whose list is
// omitted is handled as Argo Rollouts handles it: its only route is weighted (HTTP: managed
// routes aside). Where Argo gives no split at all, sluice differs: a section none of whose
// routes sends to the canary or the stable is left alone (Argo fails on it); a single HTTP
// route is weighted even when it has a name (Argo weights only an unnamed one and silently does
// nothing otherwise); a section with several routes is an InvalidConfigError when the Rollout
// names no route at all (as Argo) and is left alone when it names routes of another section
// (Argo fails). The VirtualService must end up with at least one weighted route.
func (c Config) selectRoutes(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, svc contract.Services) ([]selected, error) {
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
	named := map[routeKind]int{httpRoutes: len(ref.Routes), tlsRoutes: len(ref.TLSRoutes), tcpRoutes: len(ref.TCPRoutes)}
	anyNamed := len(out) > 0
	for _, kind := range []routeKind{httpRoutes, tlsRoutes, tcpRoutes} {
		if named[kind] > 0 {
			continue
		}
		only, err := c.onlyRoute(vs, kind, svc, anyNamed)
		if err != nil {
			return nil, err
		}
		out = append(out, only...)
	}
	if len(out) == 0 {
		return nil, contract.Invalidf(Type, "VirtualService %q has no route that sends to canaryService %q or stableService %q, so there is nothing to weight: add a route with both destinations, or name the routes in trafficRouting.istio.virtualService.routes (tlsRoutes, tcpRoutes)",
			vsName, svc.Canary, svc.Stable)
	}
	return out, nil
}

// onlyRoute selects, in a section whose routes the Rollout does not name, the section's only
// route (HTTP: managed routes aside); none when no route of the section sends to the canary or
// the stable. Several routes are an InvalidConfigError, or left alone when anyNamed (the
// Rollout names the routes of another section).
func (c Config) onlyRoute(vs *unstructured.Unstructured, kind routeKind, svc contract.Services, anyNamed bool) ([]selected, error) {
	var candidates []selected
	var labels []string
	concerned := false
	for i, r := range routes(vs, kind) {
		if kind == httpRoutes && slices.Contains(c.ManagedRoutes, routeName(r)) {
			continue
		}
		label := routeLabel(kind, i, r)
		candidates = append(candidates, selected{kind: kind, index: i, label: label})
		labels = append(labels, label)
		canary, stable := c.sendsTo(kubeobj.Map(r), svc)
		concerned = concerned || canary || stable
	}
	switch {
	case !concerned:
		return nil, nil
	case len(candidates) == 1:
		return candidates, nil
	case anyNamed:
		return nil, nil
	}
	return nil, contract.Invalidf(Type, "VirtualService %q has %d %s routes (%s) and trafficRouting.istio.virtualService.%s is omitted: name the ones to weight (without %s, as with Argo Rollouts, a VirtualService may have only one %s route)",
		vs.GetName(), len(candidates), sectionLabel[kind], strings.Join(labels, ", "), sectionField[kind], sectionField[kind], sectionLabel[kind])
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
