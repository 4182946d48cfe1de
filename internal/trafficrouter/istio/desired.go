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

// APIVersions are the VirtualService/DestinationRule versions the router can use, all with the
// same fields: v1 (Istio 1.22 and later), v1beta1, and v1alpha3 (the one Argo Rollouts uses).
// Without an explicit version the router uses the newest one the cluster serves.
var APIVersions = []string{"v1", "v1beta1", "v1alpha3"}

// APIVersionFlag is the controller flag that picks the version explicitly.
const APIVersionFlag = "--istio-api-version"

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
	// APIVersion of VirtualService and DestinationRule, when chosen explicitly; "" means the
	// newest version the cluster serves (see API).
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
	return cfg
}

// VirtualServices lists virtualService or virtualServices.
func (c Config) VirtualServices() []v1alpha1.IstioVirtualService {
	if c.Istio.VirtualService != nil {
		return []v1alpha1.IstioVirtualService{*c.Istio.VirtualService}
	}
	return c.Istio.VirtualServices
}

// API is a kind (KindVirtualService or KindDestinationRule) with how its version is chosen:
// version when set, else the newest of APIVersions the cluster serves.
func API(kind, version string) kubeobj.API {
	return kubeobj.API{GroupKind: schema.GroupKind{Group: Group, Kind: kind}, Known: APIVersions, Version: version, Flag: APIVersionFlag}
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
		if c.isExperiment(dest, d) {
			continue // (its weight is d's, taken from the stable's share)
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
		if c.isExperiment(dest, d) {
			continue
		}
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

// sendsTo reports whether a route has a canary and a stable destination.
func (c Config) sendsTo(route map[string]any, svc contract.Services) (canary, stable bool) {
	for _, dv := range kubeobj.Slice(route["route"]) {
		switch c.roleOf(kubeobj.Map(dv), svc) {
		case roleCanary:
			canary = true
		case roleStable:
			stable = true
		case roleKept, roleForeign:
		}
	}
	return canary, stable
}

// isMirrorRoute: a managed HTTP route that carries weighted canary and stable destinations
// (setMirrorRoute copies the weighted route), so SetWeight keeps its weights in step.
func (c Config) isMirrorRoute(route map[string]any, svc contract.Services) bool {
	if !slices.Contains(c.ManagedRoutes, kubeobj.String(route, "name")) || route["mirror"] == nil {
		return false
	}
	canary, stable := c.sendsTo(route, svc)
	return canary && stable
}

// VirtualService returns vs with the split d applied to the routes ref selects, and to the
// mirror routes sluice manages. It fails with an InvalidConfigError when a named route, or the
// canary or stable destination of a selected route, is missing.
func (c Config) VirtualService(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService, d contract.Desired) (*unstructured.Unstructured, error) {
	out := vs.DeepCopy()
	sel, err := c.selectRoutes(out, ref, d.Services)
	if err != nil {
		return nil, err
	}
	prev := experimentHosts(out)
	for _, s := range sel {
		route := kubeobj.Map(routes(out, s.kind)[s.index])
		if len(prev) > 0 || len(d.Additional) > 0 {
			c.experimentDestinations(route, prev, d)
		}
		if err := c.weightRoute(route, s.label, out.GetName(), d); err != nil {
			return nil, err
		}
	}
	recordExperimentHosts(out, d)
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
