package trafficrouter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/alb"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/gatewayapi"
	"github.com/sluicehq/sluice/internal/trafficrouter/istio"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
	"github.com/sluicehq/sluice/internal/trafficrouter/nginx"
	"github.com/sluicehq/sluice/internal/trafficrouter/smi"
)

// Options are the controller-wide router settings. The routers read and write every kind at
// the newest version the cluster serves among the ones they know (for a
// CustomResourceDefinition, its preferred version), looked up through the client's RESTMapper
// at every call, so an older Istio (v1beta1/v1alpha3 only) or a CRD installed after the
// controller started just work. A version set here is an explicit choice that wins; the
// cluster must serve it.
type Options struct {
	// SMIAPIVersion is the TrafficSplit version written: v1alpha1 (Argo Rollouts' default for
	// --traffic-split-api-version), v1alpha2 or v1alpha3; "" = discovered.
	SMIAPIVersion string
	// IstioAPIVersion is the VirtualService/DestinationRule version used: v1, v1beta1 or
	// v1alpha3; "" = discovered.
	IstioAPIVersion string
	// GatewayAPIStreamVersion is the TCPRoute/TLSRoute version used: v1 (Gateway API v1.5+
	// standard channel) or v1alpha2 (the plugin's); "" = discovered. HTTPRoute and GRPCRoute
	// versions are always discovered.
	GatewayAPIStreamVersion string
}

// Validate reports an explicit version no router knows (for the controller to refuse to
// start with).
func (o Options) Validate() error {
	return errors.Join(
		smi.API(o.SMIAPIVersion).CheckVersion(),
		istio.API(istio.KindVirtualService, o.IstioAPIVersion).CheckVersion(),
		gatewayapi.CheckStreamVersion(o.GatewayAPIStreamVersion),
	)
}

// apis are the router kinds (other than Ingress) with how their versions are chosen, as the
// routers choose them.
func (o Options) apis() []kubeobj.API {
	return []kubeobj.API{
		istio.API(istio.KindVirtualService, o.IstioAPIVersion),
		istio.API(istio.KindDestinationRule, o.IstioAPIVersion),
		smi.API(o.SMIAPIVersion),
		gatewayapi.API(gatewayapi.KindHTTPRoute, o.GatewayAPIStreamVersion),
		gatewayapi.API(gatewayapi.KindGRPCRoute, o.GatewayAPIStreamVersion),
		gatewayapi.API(gatewayapi.KindTCPRoute, o.GatewayAPIStreamVersion),
		gatewayapi.API(gatewayapi.KindTLSRoute, o.GatewayAPIStreamVersion),
	}
}

func trafficRouting(ro *v1alpha1.Rollout) *v1alpha1.RolloutTrafficRouting {
	if ro == nil || ro.Spec.Strategy.Canary == nil {
		return nil
	}
	return ro.Spec.Strategy.Canary.TrafficRouting
}

// unsupportedRouter names the first router kind the spec sets that sluice does not implement,
// or "".
func unsupportedRouter(tr *v1alpha1.RolloutTrafficRouting) string {
	switch {
	case tr.Ambassador != nil:
		return "trafficRouting.ambassador"
	case tr.AppMesh != nil:
		return "trafficRouting.appMesh"
	case tr.Traefik != nil:
		return "trafficRouting.traefik"
	case tr.Apisix != nil:
		return "trafficRouting.apisix"
	}
	for _, name := range slices.Sorted(mapKeys(tr.Plugins)) {
		if name != gatewayapi.PluginName {
			return fmt.Sprintf("trafficRouting.plugins[%q]", name)
		}
	}
	return ""
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// New builds every router the Rollout's trafficRouting configures, in Argo Rollouts' order
// (ALB, Istio, NGINX, SMI, then the Gateway API plugin config); several run together. A Rollout
// without trafficRouting gets none. A router kind sluice does not implement, or a
// configuration a router cannot start from, is an *InvalidConfigError.
func New(c client.Client, ro *v1alpha1.Rollout, opts Options) ([]Router, error) {
	tr := trafficRouting(ro)
	if tr == nil {
		return nil, nil
	}
	if what := unsupportedRouter(tr); what != "" {
		return nil, contract.Invalidf("", "%s is not supported by sluice yet; supported: nginx, istio, smi, alb and plugins[%q]", what, gatewayapi.PluginName)
	}
	var routers []Router
	add := func(r Router, err error) error {
		if err != nil {
			return err
		}
		routers = append(routers, r)
		return nil
	}
	if tr.ALB != nil {
		if err := add(alb.New(c, ro)); err != nil {
			return nil, err
		}
	}
	if tr.Istio != nil {
		if err := add(istio.New(c, ro, opts.IstioAPIVersion)); err != nil {
			return nil, err
		}
	}
	if tr.Nginx != nil {
		if err := add(nginx.New(c, ro)); err != nil {
			return nil, err
		}
	}
	if tr.SMI != nil {
		if err := add(smi.New(c, ro, opts.SMIAPIVersion)); err != nil {
			return nil, err
		}
	}
	if _, ok := tr.Plugins[gatewayapi.PluginName]; ok {
		if err := add(gatewayapi.New(c, ro, opts.GatewayAPIStreamVersion)); err != nil {
			return nil, err
		}
	}
	if len(routers) == 0 {
		return nil, contract.Invalidf("", "trafficRouting configures no router: set nginx, istio, smi, alb or plugins[%q]", gatewayapi.PluginName)
	}
	return routers, nil
}

// Factory adapts New to the controller's router factory signature
// (internal/controller/rollout.RouterFactory).
func Factory(opts Options) func(ctx context.Context, c client.Client, ro *v1alpha1.Rollout) ([]Router, error) {
	return func(_ context.Context, c client.Client, ro *v1alpha1.Rollout) ([]Router, error) {
		return New(c, ro, opts)
	}
}

// ServicesFor returns the Rollout's canaryService and stableService.
func ServicesFor(ro *v1alpha1.Rollout) Services {
	c := ro.Spec.Strategy.Canary
	if c == nil {
		return Services{}
	}
	return Services{Canary: c.CanaryService, Stable: c.StableService}
}

// DesiredFor builds the Desired of a Rollout at a canary weight: its Services, the hashes, and
// the total from trafficRouting.maxTrafficWeight.
func DesiredFor(ro *v1alpha1.Rollout, weight int32, canaryHash, stableHash string) Desired {
	d := Desired{Services: ServicesFor(ro), Weight: weight, CanaryHash: canaryHash, StableHash: stableHash}
	if tr := trafficRouting(ro); tr != nil && tr.MaxTrafficWeight != nil {
		d.Total = *tr.MaxTrafficWeight
	}
	return d
}

// Objects lists the objects the Rollout's routers read or write, for watches: an event on one
// of them should enqueue the Rollout (index Rollouts by ObjectRef.Key). Unsupported or
// unparsable router configurations contribute nothing.
func Objects(ro *v1alpha1.Rollout) []ObjectRef {
	tr := trafficRouting(ro)
	if tr == nil {
		return nil
	}
	var refs []ObjectRef
	if tr.ALB != nil {
		refs = append(refs, alb.Objects(ro)...)
	}
	if tr.Istio != nil {
		refs = append(refs, istio.Objects(ro)...)
	}
	if tr.Nginx != nil {
		refs = append(refs, nginx.Objects(ro)...)
	}
	if tr.SMI != nil {
		refs = append(refs, smi.Objects(ro)...)
	}
	if _, ok := tr.Plugins[gatewayapi.PluginName]; ok {
		refs = append(refs, gatewayapi.Objects(ro)...)
	}
	return refs
}

// Kinds lists the kinds of every object a router may read or write that the cluster serves,
// each at the version the routers use (resolved with the same mapper and rules), for setting up
// watches. A kind whose CRD is not installed, or not at a version the routers can use, is left
// out (and skipped lists it): a Rollout that needs it gets an InvalidSpec message from its
// router. A CRD installed later is used by the routers at once but watched only after a
// controller restart.
func Kinds(mapper meta.RESTMapper, opts Options) (kinds []schema.GroupVersionKind, skipped []error) {
	kinds = []schema.GroupVersionKind{networkingv1.SchemeGroupVersion.WithKind("Ingress")}
	for _, api := range opts.apis() {
		gvk, err := api.Resolve(mapper)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		kinds = append(kinds, gvk)
	}
	return kinds, skipped
}

// Retired returns routers for what previous (an earlier trafficRouting of the same Rollout)
// configured and ro no longer references; calling Cleanup on each removes the canary Ingresses
// and TrafficSplits sluice created there and restores the VirtualServices, DestinationRules,
// ALB Ingresses and routes it changed. Objects ro still references are left out, so their
// traffic is not disturbed.
//
// Note: Cleanup needs to know what the old configuration was; the controller keeps it (for
// example the trafficRouting JSON in an annotation written after a successful SetWeight).
func Retired(c client.Client, ro *v1alpha1.Rollout, previous *v1alpha1.RolloutTrafficRouting, opts Options) ([]Router, error) {
	if previous == nil || ro.Spec.Strategy.Canary == nil {
		return nil, nil
	}
	current := map[string]bool{}
	for _, ref := range Objects(ro) {
		current[ref.Key()] = true
	}
	old := ro.DeepCopy()
	old.Spec.Strategy.Canary.TrafficRouting = previous.DeepCopy()
	r := retirement{old: old, current: current}
	prev := old.Spec.Strategy.Canary.TrafficRouting
	keep := &v1alpha1.RolloutTrafficRouting{ManagedRoutes: prev.ManagedRoutes, MaxTrafficWeight: prev.MaxTrafficWeight}
	keep.Nginx = r.nginx(prev.Nginx)
	keep.ALB = r.alb(prev.ALB)
	if prev.SMI != nil && len(r.stale(smi.Objects(old))) > 0 {
		keep.SMI = prev.SMI.DeepCopy()
	}
	var keepDR bool
	keep.Istio, keepDR = r.istio(prev.Istio)
	plugins, err := r.gatewayAPI(prev.Plugins)
	if err != nil {
		return nil, err
	}
	keep.Plugins = plugins
	if keep.ALB == nil && keep.Istio == nil && keep.Nginx == nil && keep.SMI == nil && keep.Plugins == nil {
		return nil, nil
	}
	old.Spec.Strategy.Canary.TrafficRouting = keep
	routers, err := New(c, old, opts)
	if err != nil {
		return nil, err
	}
	for i, rt := range routers {
		if ir, ok := rt.(*istio.Router); ok && keepDR {
			routers[i] = ir.WithoutDestinationRuleCleanup()
		}
	}
	return routers, nil
}

// retirement restricts an old trafficRouting to the objects the current one no longer uses.
type retirement struct {
	old     *v1alpha1.Rollout
	current map[string]bool
}

func (r retirement) stale(refs []ObjectRef) []ObjectRef {
	return slices.DeleteFunc(refs, func(ref ObjectRef) bool { return r.current[ref.Key()] })
}

func (r retirement) staleKeys(refs []ObjectRef) map[string]bool {
	keys := map[string]bool{}
	for _, ref := range r.stale(refs) {
		keys[ref.Key()] = true
	}
	return keys
}

func (r retirement) nginx(n *v1alpha1.NginxTrafficRouting) *v1alpha1.NginxTrafficRouting {
	if n == nil {
		return nil
	}
	stale := r.staleKeys(nginx.Objects(r.old))
	var names []string
	for _, name := range nginx.ConfigFor(r.old).StableIngresses() {
		if stale[contract.ObjectKey(networkingv1.GroupName, "Ingress", r.old.Namespace, nginx.CanaryIngressName(r.old.Name, name))] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	out := n.DeepCopy()
	out.StableIngress, out.StableIngresses = "", names
	return out
}

func (r retirement) alb(a *v1alpha1.ALBTrafficRouting) *v1alpha1.ALBTrafficRouting {
	if a == nil {
		return nil
	}
	stale := r.stale(alb.Objects(r.old))
	if len(stale) == 0 {
		return nil
	}
	out := a.DeepCopy()
	out.Ingress, out.Ingresses = "", nil
	for _, ref := range stale {
		out.Ingresses = append(out.Ingresses, ref.Name)
	}
	return out
}

// istio returns the stale VirtualServices (and DestinationRule); keepDR is true when the
// DestinationRule is still in use, so Cleanup must leave it alone.
func (r retirement) istio(in *v1alpha1.IstioTrafficRouting) (out *v1alpha1.IstioTrafficRouting, keepDR bool) {
	if in == nil {
		return nil, false
	}
	stale := r.staleKeys(istio.Objects(r.old))
	ns := r.old.Namespace
	var vss []v1alpha1.IstioVirtualService
	for _, vs := range istio.ConfigFor(r.old, "").VirtualServices() {
		key := kubeobj.SplitName(vs.Name, ns)
		if stale[contract.ObjectKey(istio.Group, istio.KindVirtualService, key.Namespace, key.Name)] {
			vss = append(vss, vs)
		}
	}
	drStale := false
	if in.DestinationRule != nil {
		key := kubeobj.SplitName(in.DestinationRule.Name, ns)
		drStale = stale[contract.ObjectKey(istio.Group, istio.KindDestinationRule, key.Namespace, key.Name)]
	}
	if len(vss) == 0 && !drStale {
		return nil, false
	}
	out = in.DeepCopy()
	out.VirtualService, out.VirtualServices = nil, vss
	return out, out.DestinationRule != nil && !drStale
}

func (r retirement) gatewayAPI(plugins map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	raw, ok := plugins[gatewayapi.PluginName]
	if !ok {
		return nil, nil
	}
	pc, err := gatewayapi.ParseConfig(raw)
	if err != nil {
		return nil, nil //nolint:nilerr // an unparsable old config has nothing to clean up
	}
	stale := r.staleKeys(gatewayapi.Objects(r.old))
	ns := pc.Namespace
	if ns == "" {
		ns = r.old.Namespace
	}
	restricted := gatewayapi.PluginConfig{Namespace: pc.Namespace, DisableInProgressLabel: pc.DisableInProgressLabel,
		InProgressLabelKey: pc.InProgressLabelKey, InProgressLabelValue: pc.InProgressLabelValue}
	for _, rt := range pc.Routes() {
		if !stale[contract.ObjectKey(gatewayapi.Group, rt.Kind, ns, rt.Name)] {
			continue
		}
		ref := gatewayapi.RouteRef{Name: rt.Name, UseHeaderRoutes: rt.UseHeaderRoutes}
		switch rt.Kind {
		case gatewayapi.KindHTTPRoute:
			restricted.HTTPRoutes = append(restricted.HTTPRoutes, ref)
		case gatewayapi.KindGRPCRoute:
			restricted.GRPCRoutes = append(restricted.GRPCRoutes, ref)
		case gatewayapi.KindTCPRoute:
			restricted.TCPRoutes = append(restricted.TCPRoutes, ref)
		case gatewayapi.KindTLSRoute:
			restricted.TLSRoutes = append(restricted.TLSRoutes, ref)
		}
	}
	if len(restricted.Routes()) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(restricted)
	if err != nil {
		return nil, err
	}
	return map[string]json.RawMessage{gatewayapi.PluginName: b}, nil
}
