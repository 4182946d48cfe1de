package gatewayapi_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/gatewayapi"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{CRDs: []devcluster.CRDSet{devcluster.CRDsGatewayAPI}}))
}

const example = "examples/gatewayapi/rollout.yaml"

func gvk(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: gatewayapi.Group, Version: "v1", Kind: kind}
}

type env struct {
	c  client.Client
	ro *v1alpha1.Rollout
	r  trafficrouter.Router
}

func setup(t *testing.T, objs []*unstructured.Unstructured) *env {
	t.Helper()
	c := routertest.Client(t)
	ro := routertest.Apply(t, c, devclustertest.Namespace(t), objs)
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(routers) != 1 || routers[0].Type() != gatewayapi.Type {
		t.Fatalf("routers %v", routers)
	}
	return &env{c: c, ro: ro, r: routers[0]}
}

func (e *env) route(ctx context.Context, kind, name string) (*unstructured.Unstructured, error) {
	u := kubeobj.New(gvk(kind))
	err := e.c.Get(ctx, types.NamespacedName{Namespace: e.ro.Namespace, Name: name}, u)
	return u, err
}

func rules(u *unstructured.Unstructured) []any {
	return u.Object["spec"].(map[string]any)["rules"].([]any)
}

// ruleWeights reads the canary and stable weights of rule i.
func ruleWeights(u *unstructured.Unstructured, i int) (canary, stable int32) {
	for _, b := range rules(u)[i].(map[string]any)["backendRefs"].([]any) {
		bm := b.(map[string]any)
		w, _ := kubeobj.Int64(bm["weight"])
		switch bm["name"] {
		case "my-app-canary":
			canary = int32(w)
		case "my-app-stable":
			stable = int32(w)
		}
	}
	return canary, stable
}

func ruleNames(u *unstructured.Unstructured) string {
	var names []string
	for _, r := range rules(u) {
		names = append(names, fmt.Sprint(r.(map[string]any)["name"]))
	}
	return strings.Join(names, ",")
}

func steps(ro *v1alpha1.Rollout) (*trafficrouter.HeaderRoute, *trafficrouter.MirrorRoute) {
	var hr *trafficrouter.HeaderRoute
	var mr *trafficrouter.MirrorRoute
	for _, s := range ro.Spec.Strategy.Canary.Steps {
		if h := s.SetHeaderRoute; h != nil {
			hr = &trafficrouter.HeaderRoute{Services: trafficrouter.ServicesFor(ro), Name: h.Name, Match: h.Match}
		}
		if m := s.SetMirrorRoute; m != nil {
			mr = &trafficrouter.MirrorRoute{Services: trafficrouter.ServicesFor(ro), Name: m.Name, Match: m.Match, Percentage: m.Percentage}
		}
	}
	return hr, mr
}

func TestConformance(t *testing.T) {
	t.Parallel()
	routertest.Run(t, func(t *testing.T) *routertest.Case {
		t.Helper()
		e := setup(t, routertest.Load(t, example))
		hr, mr := steps(e.ro)
		return &routertest.Case{
			Client: e.c, Rollout: e.ro, Router: e.r,
			// No gateway controller runs in the local cluster: nothing accepts the route.
			Applied:     trafficrouter.NotVerified,
			Additional:  true,
			HeaderRoute: hr,
			MirrorRoute: mr,
			Weights: func(ctx context.Context) (int32, int32, error) {
				u, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
				if err != nil {
					return 0, 0, err
				}
				c, s := ruleWeights(u, 0)
				return c, s, nil
			},
			EditWeight: func(ctx context.Context, w int32) error {
				u, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
				if err != nil {
					return err
				}
				for _, b := range rules(u)[0].(map[string]any)["backendRefs"].([]any) {
					bm := b.(map[string]any)
					if bm["name"] == "my-app-canary" {
						bm["weight"] = int64(w)
					} else {
						bm["weight"] = int64(100 - w)
					}
				}
				return e.c.Update(ctx, u)
			},
			ManagedRoutes: func(ctx context.Context) (int, error) {
				u, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
				if err != nil {
					return 0, err
				}
				n := 0
				for _, r := range rules(u) {
					if name := fmt.Sprint(r.(map[string]any)["name"]); strings.HasPrefix(name, "header") || name == "mirror" {
						n++
					}
				}
				return n, nil
			},
			Break: func(ctx context.Context) error {
				u, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
				if err != nil {
					return err
				}
				r0 := rules(u)[0].(map[string]any)
				r0["backendRefs"] = r0["backendRefs"].([]any)[:1]
				return e.c.Update(ctx, u)
			},
			BreakMessage: `HTTPRoute "my-app" has no rule whose backendRefs include both the canary Service "my-app-canary" and the stable Service "my-app-stable"`,
		}
	})
}

// The walk-through of docs/traffic-routing.md; rules that do not reference both Services are
// never touched (the plugin's gw#158 and gw#217).
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	e := setup(t, routertest.Load(t, example))
	ctx := t.Context()
	hr, mr := steps(e.ro)
	d := func(w int32) trafficrouter.Desired { return trafficrouter.DesiredFor(e.ro, w, "", "") }
	original, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetHeaderRoute(ctx, *hr); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetWeight(ctx, d(20)); err != nil {
		t.Fatal(err)
	}
	routertest.ExpectObjects(t, e.c, e.ro.Namespace, "examples/gatewayapi/httproute-at-20.yaml")

	if err := e.r.SetMirrorRoute(ctx, *mr); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetWeight(ctx, d(60)); err != nil {
		t.Fatal(err)
	}
	u, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	if got := ruleNames(u); got != "main,admin,header,mirror" {
		t.Fatalf("rules %s", got)
	}
	for _, i := range []int{0, 3} {
		if c, s := ruleWeights(u, i); c != 60 || s != 40 {
			t.Errorf("rule %d: %d/%d, want 60/40", i, c, s)
		}
	}
	if c, _ := ruleWeights(u, 2); c != 1 {
		t.Errorf("the header rule was re-weighted: canary %d", c)
	}
	if fmt.Sprint(rules(u)[1]) != fmt.Sprint(rules(original)[1]) {
		t.Errorf("the admin rule changed:\n got %v\nwant %v", rules(u)[1], rules(original)[1])
	}
	mirror := rules(u)[3].(map[string]any)
	if got := fmt.Sprint(mirror["filters"]); !strings.Contains(got, "requestMirror:map[backendRef:map[group: kind:Service name:my-app-canary port:80] percent:50]") {
		t.Errorf("mirror filters %s", got)
	}

	// Abort: managed rules gone, weight 0, in-progress label removed: the user's spec again.
	if err := e.r.RemoveManagedRoutes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetWeight(ctx, d(0)); err != nil {
		t.Fatal(err)
	}
	u, err = e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(u.Object["spec"]) != fmt.Sprint(original.Object["spec"]) || len(u.GetLabels()) != 0 {
		t.Errorf("after abort:\n got %v %v\nwant %v", u.GetLabels(), u.Object["spec"], original.Object["spec"])
	}
}

// Verified only when every parent accepts the route's current generation.
func TestVerifyReadsParentStatus(t *testing.T) {
	t.Parallel()
	e := setup(t, routertest.Load(t, example))
	ctx := t.Context()
	d := trafficrouter.DesiredFor(e.ro, 20, "", "")
	if err := e.r.SetWeight(ctx, d); err != nil {
		t.Fatal(err)
	}
	v, err := e.r.Verify(ctx, d)
	if err != nil || v.State != trafficrouter.NotVerified || !strings.Contains(v.Reason, "no Gateway has accepted HTTPRoute my-app yet") {
		t.Fatalf("Verify without status = %+v, %v", v, err)
	}
	setParents := func(parents ...map[string]any) {
		t.Helper()
		u, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
		if err != nil {
			t.Fatal(err)
		}
		var list []any
		for _, p := range parents {
			list = append(list, p)
		}
		u.Object["status"] = map[string]any{"parents": list}
		if err := e.c.Status().Update(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	u, err := e.route(ctx, gatewayapi.KindHTTPRoute, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	gen := u.GetGeneration()
	parent := func(name, status string, observed int64) map[string]any {
		return map[string]any{
			"parentRef":      map[string]any{"name": name},
			"controllerName": "example.com/gateway-controller",
			"conditions": []any{map[string]any{
				"type": "Accepted", "status": status, "reason": "Accepted", "message": "route accepted",
				"observedGeneration": observed, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
			}},
		}
	}
	for _, tc := range []struct {
		name    string
		parents []map[string]any
		want    trafficrouter.VerificationState
		reason  string
	}{
		{"accepted at the current generation", []map[string]any{parent("my-gateway", "True", gen)}, trafficrouter.Verified, "1 parent(s) accept HTTPRoute my-app"},
		{"not accepted", []map[string]any{parent("my-gateway", "False", gen)}, trafficrouter.NotVerified, "does not accept HTTPRoute my-app"},
		{"accepted for an older generation", []map[string]any{parent("my-gateway", "True", gen-1)}, trafficrouter.NotVerified, fmt.Sprintf("has not observed generation %d yet", gen)},
		{"another gateway's status only", []map[string]any{parent("other-gateway", "True", gen)}, trafficrouter.NotVerified, "parent " + e.ro.Namespace + "/my-gateway of HTTPRoute my-app has not reported on it yet"},
	} {
		setParents(tc.parents...)
		v, err := e.r.Verify(ctx, d)
		if err != nil || v.State != tc.want || !strings.Contains(v.Reason, tc.reason) {
			t.Errorf("%s: Verify = %+v, %v; want %s (%q)", tc.name, v, err, tc.want, tc.reason)
		}
	}
	// A new weight bumps the generation: the old acceptance no longer verifies it.
	setParents(parent("my-gateway", "True", gen))
	if err := e.r.SetWeight(ctx, trafficrouter.DesiredFor(e.ro, 60, "", "")); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.r.Verify(ctx, trafficrouter.DesiredFor(e.ro, 60, "", "")); v.State != trafficrouter.NotVerified {
		t.Errorf("Verify after a new weight = %+v, want NotVerified until the gateway observes it", v)
	}
}

// GRPCRoute, TCPRoute and TLSRoute (the last two served as v1 by Gateway API v1.6.3's standard
// CRDs); a route rule that sends to a third backend with weight is an error, one at weight 0 is
// fine.
func TestGRPCTCPAndTLSRoutes(t *testing.T) {
	t.Parallel()
	objs := routertest.Load(t, example)
	backends := []any{
		map[string]any{"name": "my-app-stable", "port": int64(80), "weight": int64(100)},
		map[string]any{"name": "my-app-canary", "port": int64(80), "weight": int64(0)},
	}
	grpc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": map[string]any{"name": "my-app-grpc"},
		"spec": map[string]any{"parentRefs": []any{map[string]any{"name": "my-gateway"}}, "rules": []any{
			map[string]any{"backendRefs": kubeobj.DeepCopy(backends)},
		}},
	}}
	tcp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute", "metadata": map[string]any{"name": "my-app-tcp"},
		"spec": map[string]any{"parentRefs": []any{map[string]any{"name": "my-gateway", "sectionName": "tcp"}}, "rules": []any{
			map[string]any{"backendRefs": append(kubeobj.Slice(kubeobj.DeepCopy(backends)), map[string]any{"name": "legacy", "port": int64(80), "weight": int64(0)})},
		}},
	}}
	tls := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TLSRoute", "metadata": map[string]any{"name": "my-app-tls"},
		"spec": map[string]any{"parentRefs": []any{map[string]any{"name": "my-gateway", "sectionName": "tls"}}, "hostnames": []any{"my-app.local"},
			"rules": []any{map[string]any{"backendRefs": kubeobj.DeepCopy(backends)}}},
	}}
	ro := routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout")
	if err := unstructured.SetNestedField(ro.Object, map[string]any{
		"grpcRoute": "my-app-grpc",
		"tcpRoutes": []any{map[string]any{"name": "my-app-tcp"}},
		"tlsRoute":  "my-app-tls",
	}, "spec", "strategy", "canary", "trafficRouting", "plugins", gatewayapi.PluginName); err != nil {
		t.Fatal(err)
	}
	e := setup(t, append([]*unstructured.Unstructured{grpc, tcp, tls}, objs...))
	ctx := t.Context()
	if err := e.r.SetWeight(ctx, trafficrouter.DesiredFor(e.ro, 35, "", "")); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{gatewayapi.KindGRPCRoute, gatewayapi.KindTCPRoute, gatewayapi.KindTLSRoute} {
		name := map[string]string{gatewayapi.KindGRPCRoute: "my-app-grpc", gatewayapi.KindTCPRoute: "my-app-tcp", gatewayapi.KindTLSRoute: "my-app-tls"}[kind]
		u, err := e.route(ctx, kind, name)
		if err != nil {
			t.Fatal(err)
		}
		if c, s := ruleWeights(u, 0); c != 35 || s != 65 {
			t.Errorf("%s: %d/%d", kind, c, s)
		}
	}
	// The header route goes into the GRPCRoute (grpcRoute, singular, implies useHeaderRoutes).
	hr, _ := steps(e.ro)
	if err := e.r.SetHeaderRoute(ctx, *hr); err != nil {
		t.Fatal(err)
	}
	u, err := e.route(ctx, gatewayapi.KindGRPCRoute, "my-app-grpc")
	if err != nil {
		t.Fatal(err)
	}
	if ruleNames(u) != "<nil>,header" {
		t.Errorf("GRPCRoute rules %s", ruleNames(u))
	}
	// A third backend with weight: error.
	u, err = e.route(ctx, gatewayapi.KindTCPRoute, "my-app-tcp")
	if err != nil {
		t.Fatal(err)
	}
	rules(u)[0].(map[string]any)["backendRefs"].([]any)[2].(map[string]any)["weight"] = int64(5)
	if err := e.c.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	err = e.r.SetWeight(ctx, trafficrouter.DesiredFor(e.ro, 40, "", ""))
	if ic, ok := trafficrouter.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, `sends traffic to backend "legacy" besides the canary and stable Services`) {
		t.Errorf("SetWeight = %v", err)
	}
}
