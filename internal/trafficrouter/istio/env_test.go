package istio_test

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/istio"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// cluster is where a test's objects live, and the VirtualService/DestinationRule version the
// test itself reads and writes them at.
type cluster struct {
	client    func(testing.TB) client.Client
	namespace func(testing.TB) string
	version   string
}

// current is the package's cluster, with the Istio CRDs of Istio 1.22+ (v1, v1beta1, v1alpha3).
var current = cluster{client: routertest.Client, namespace: devclustertest.Namespace, version: "v1"}

type env struct {
	c      client.Client
	ro     *v1alpha1.Rollout
	r      trafficrouter.Router
	vs, dr schema.GroupVersionKind
}

func setup(t *testing.T, objs []*unstructured.Unstructured) *env {
	t.Helper()
	return setupOn(t, current, objs)
}

// setupOn creates objs (their VirtualServices and DestinationRules at cl.version) in a new
// namespace of cl and builds the router the way the controller does (no explicit version).
func setupOn(t *testing.T, cl cluster, objs []*unstructured.Unstructured) *env {
	t.Helper()
	c := cl.client(t)
	for _, o := range objs {
		if o.GroupVersionKind().Group == istio.Group {
			o.SetAPIVersion(istio.Group + "/" + cl.version)
		}
	}
	ro := routertest.Apply(t, c, cl.namespace(t), objs)
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(routers) != 1 || routers[0].Type() != istio.Type {
		t.Fatalf("routers: %v", routers)
	}
	return &env{c: c, ro: ro, r: routers[0], vs: vsGVK.GroupKind().WithVersion(cl.version), dr: drGVK.GroupKind().WithVersion(cl.version)}
}

func (e *env) get(ctx context.Context, gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := e.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, u)
	return u, err
}

// httpRoutes returns spec.http itself (not a copy), so tests can edit it in place.
func httpRoutes(vs *unstructured.Unstructured) []any {
	rs, _ := vs.Object["spec"].(map[string]any)["http"].([]any)
	return rs
}

// routeWeights reads a route's canary and stable weights; isCanary/isStable pick the
// destinations.
func routeWeights(vs *unstructured.Unstructured, route string, isCanary, isStable func(dest map[string]any) bool) (canary, stable int32, err error) {
	for _, r := range httpRoutes(vs) {
		rm := r.(map[string]any)
		if rm["name"] != route {
			continue
		}
		for _, d := range rm["route"].([]any) {
			dm := d.(map[string]any)
			dest := dm["destination"].(map[string]any)
			w, _, _ := unstructured.NestedInt64(dm, "weight")
			switch {
			case isCanary(dest):
				canary = int32(w)
			case isStable(dest):
				stable = int32(w)
			}
		}
		return canary, stable, nil
	}
	return 0, 0, fmt.Errorf("no route %q", route)
}

func host(name string) func(map[string]any) bool {
	return func(d map[string]any) bool { return d["host"] == name }
}

func subset(name string) func(map[string]any) bool {
	return func(d map[string]any) bool { return d["subset"] == name }
}

// mutateVS edits a VirtualService by hand.
func (e *env) mutateVS(ctx context.Context, ns, name string, f func(vs *unstructured.Unstructured)) error {
	vs, err := e.get(ctx, e.vs, ns, name)
	if err != nil {
		return err
	}
	f(vs)
	return e.c.Update(ctx, vs)
}

func setWeights(route map[string]any, isCanary func(map[string]any) bool, canary, stable int64) {
	for _, d := range route["route"].([]any) {
		dm := d.(map[string]any)
		if isCanary(dm["destination"].(map[string]any)) {
			dm["weight"] = canary
		} else {
			dm["weight"] = stable
		}
	}
}

func namedRoute(vs *unstructured.Unstructured, name string) map[string]any {
	for _, r := range httpRoutes(vs) {
		if rm := r.(map[string]any); rm["name"] == name {
			return rm
		}
	}
	return nil
}

func (e *env) countManaged(ctx context.Context) (int, error) {
	vs, err := e.get(ctx, e.vs, e.ro.Namespace, "my-app")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range httpRoutes(vs) {
		if name := r.(map[string]any)["name"]; name == "header" || name == "mirror" {
			n++
		}
	}
	return n, nil
}

func headerRoute(ro *v1alpha1.Rollout) *trafficrouter.HeaderRoute {
	for _, s := range ro.Spec.Strategy.Canary.Steps {
		if s.SetHeaderRoute != nil {
			return &trafficrouter.HeaderRoute{Services: trafficrouter.ServicesFor(ro), Name: s.SetHeaderRoute.Name, Match: s.SetHeaderRoute.Match}
		}
	}
	return &trafficrouter.HeaderRoute{Services: trafficrouter.ServicesFor(ro), Name: "header", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}},
	}}
}

func mirrorRoute(ro *v1alpha1.Rollout) *trafficrouter.MirrorRoute {
	for _, s := range ro.Spec.Strategy.Canary.Steps {
		if m := s.SetMirrorRoute; m != nil {
			return &trafficrouter.MirrorRoute{Services: trafficrouter.ServicesFor(ro), Name: m.Name, Match: m.Match, Percentage: m.Percentage}
		}
	}
	return &trafficrouter.MirrorRoute{Services: trafficrouter.ServicesFor(ro), Name: "mirror", Match: []v1alpha1.RouteMatch{
		{Path: &v1alpha1.StringMatch{Prefix: "/api"}},
	}}
}
