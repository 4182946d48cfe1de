package istio_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/istio"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

func TestMain(m *testing.M) {
	code := devclustertest.Main(m, devcluster.Options{CRDs: []devcluster.CRDSet{devcluster.CRDsIstio}})
	stopLegacyCluster()
	os.Exit(code)
}

var (
	vsGVK = schema.GroupVersionKind{Group: istio.Group, Version: "v1", Kind: istio.KindVirtualService}
	drGVK = schema.GroupVersionKind{Group: istio.Group, Version: "v1", Kind: istio.KindDestinationRule}
)

const (
	hostSplit   = "examples/istio/host-split.yaml"
	subsetSplit = "examples/istio/subset-split.yaml"
)

func TestConformanceHostSplit(t *testing.T) {
	t.Parallel()
	routertest.Run(t, func(t *testing.T) *routertest.Case { t.Helper(); return hostSplitCase(t, current) })
}

func TestConformanceSubsetSplit(t *testing.T) {
	t.Parallel()
	routertest.Run(t, func(t *testing.T) *routertest.Case { t.Helper(); return subsetSplitCase(t, current) })
}

func hostSplitCase(t *testing.T, cl cluster) *routertest.Case {
	t.Helper()
	e := setupOn(t, cl, routertest.Load(t, hostSplit))
	c := e.primaryRouteCase(host("my-app-canary"), host("my-app-stable"))
	c.Additional = true // (experiment Services as further hosts)
	c.Break = func(ctx context.Context) error {
		return e.mutateVS(ctx, e.ro.Namespace, "my-app", func(vs *unstructured.Unstructured) {
			namedRoute(vs, "primary")["name"] = "main"
		})
	}
	c.BreakMessage = `HTTP route "primary" is not found in VirtualService "my-app" (its HTTP routes: "admin", "main")`
	return c
}

func subsetSplitCase(t *testing.T, cl cluster) *routertest.Case {
	t.Helper()
	objs := routertest.Load(t, subsetSplit)
	ro := routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout")
	if err := unstructured.SetNestedSlice(ro.Object, []any{map[string]any{"name": "header"}, map[string]any{"name": "mirror"}},
		"spec", "strategy", "canary", "trafficRouting", "managedRoutes"); err != nil {
		t.Fatal(err)
	}
	e := setupOn(t, cl, objs)
	c := e.primaryRouteCase(subset("canary"), subset("stable"))
	c.Additional = true // (experiment subsets added to the DestinationRule)
	c.Break = func(ctx context.Context) error {
		return e.mutateVS(ctx, e.ro.Namespace, "my-app", func(vs *unstructured.Unstructured) {
			route := namedRoute(vs, "primary")
			route["route"] = route["route"].([]any)[:1] // only the stable subset
		})
	}
	c.BreakMessage = `Canary DestinationRule subset "canary" is not found in HTTP route "primary" of VirtualService "my-app"`
	return c
}

// primaryRouteCase is the conformance case of a VirtualService "my-app" whose route "primary"
// the router weighs, between the destinations isCanary and isStable pick.
func (e *env) primaryRouteCase(isCanary, isStable func(map[string]any) bool) *routertest.Case {
	return &routertest.Case{
		Client: e.c, Rollout: e.ro, Router: e.r,
		Applied:     trafficrouter.VerificationUnknown,
		HeaderRoute: headerRoute(e.ro),
		MirrorRoute: mirrorRoute(e.ro),
		Weights: func(ctx context.Context) (int32, int32, error) {
			vs, err := e.get(ctx, e.vs, e.ro.Namespace, "my-app")
			if err != nil {
				return 0, 0, err
			}
			return routeWeights(vs, "primary", isCanary, isStable)
		},
		EditWeight: func(ctx context.Context, w int32) error {
			return e.mutateVS(ctx, e.ro.Namespace, "my-app", func(vs *unstructured.Unstructured) {
				setWeights(namedRoute(vs, "primary"), isCanary, int64(w), int64(100-w))
			})
		},
		ManagedRoutes: e.countManaged,
	}
}

// The host-split walk-through of docs/traffic-routing.md.
func TestWalkthroughHostSplit(t *testing.T) {
	t.Parallel()
	objs := routertest.Load(t, hostSplit)
	e := setup(t, objs)
	ctx := t.Context()
	original, err := e.get(ctx, vsGVK, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	d := func(w int32) trafficrouter.Desired { return trafficrouter.DesiredFor(e.ro, w, "", "") }
	if err := e.r.SetHeaderRoute(ctx, *headerRoute(e.ro)); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetWeight(ctx, d(20)); err != nil {
		t.Fatal(err)
	}
	routertest.ExpectObjects(t, e.c, e.ro.Namespace, "examples/istio/host-split-at-20.yaml")

	// setMirrorRoute, then 60: the mirror route copies the weighted route and follows its weights.
	if err := e.r.SetMirrorRoute(ctx, *mirrorRoute(e.ro)); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetWeight(ctx, d(60)); err != nil {
		t.Fatal(err)
	}
	vs, err := e.get(ctx, vsGVK, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range httpRoutes(vs) {
		names = append(names, fmt.Sprint(r.(map[string]any)["name"]))
	}
	if strings.Join(names, ",") != "header,mirror,admin,primary" {
		t.Fatalf("route order %v, want header,mirror,admin,primary (managedRoutes order first)", names)
	}
	for _, route := range []string{"primary", "mirror"} {
		if c, s, err := routeWeights(vs, route, host("my-app-canary"), host("my-app-stable")); err != nil || c != 60 || s != 40 {
			t.Fatalf("%s: %d/%d %v, want 60/40", route, c, s, err)
		}
	}
	mirror := namedRoute(vs, "mirror")
	if pct, _, _ := unstructured.NestedInt64(mirror, "mirrorPercentage", "value"); pct != 50 {
		t.Errorf("mirrorPercentage %v", mirror["mirrorPercentage"])
	}
	if h, _, _ := unstructured.NestedString(mirror, "mirror", "host"); h != "my-app-canary" {
		t.Errorf("mirror destination %v", mirror["mirror"])
	}
	if m, _, _ := unstructured.NestedSlice(mirror, "match"); fmt.Sprint(m) != "[map[method:map[exact:POST] uri:map[prefix:/api]]]" {
		t.Errorf("mirror match %v", m)
	}

	if err := e.r.SetWeight(ctx, d(100)); err != nil {
		t.Fatal(err)
	}
	// Abort (or full promotion): managed routes go, weight back to 0: the user's spec again.
	if err := e.r.RemoveManagedRoutes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetWeight(ctx, d(0)); err != nil {
		t.Fatal(err)
	}
	vs, err = e.get(ctx, vsGVK, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(vs.Object["spec"]) != fmt.Sprint(original.Object["spec"]) {
		t.Errorf("after abort the VirtualService differs from the original:\n got %v\nwant %v", vs.Object["spec"], original.Object["spec"])
	}
}

// The subset-split walk-through of docs/traffic-routing.md.
func TestWalkthroughSubsetSplit(t *testing.T) {
	t.Parallel()
	e := setup(t, routertest.Load(t, subsetSplit))
	ctx := t.Context()
	if err := e.r.UpdateHash(ctx, "6d4f8b9c7", "58c7d9f4b"); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetWeight(ctx, trafficrouter.DesiredFor(e.ro, 20, "6d4f8b9c7", "58c7d9f4b")); err != nil {
		t.Fatal(err)
	}
	routertest.ExpectObjects(t, e.c, e.ro.Namespace, "examples/istio/subset-split-at-20.yaml")
	v, err := e.r.Verify(ctx, trafficrouter.DesiredFor(e.ro, 20, "6d4f8b9c7", "58c7d9f4b"))
	if err != nil || v.State != trafficrouter.VerificationUnknown {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	// A new canary hash not yet in the DestinationRule: not verified.
	v, err = e.r.Verify(ctx, trafficrouter.DesiredFor(e.ro, 20, "new", "58c7d9f4b"))
	if err != nil || v.State != trafficrouter.NotVerified || !strings.Contains(v.Reason, `subset canary selects hash "6d4f8b9c7", want "new"`) {
		t.Fatalf("Verify with a new hash = %+v, %v", v, err)
	}
	// Cleanup removes the hash labels and the managed-by annotation.
	if err := e.r.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	dr, err := e.get(ctx, drGVK, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	if len(dr.GetAnnotations()) != 0 || strings.Contains(fmt.Sprint(dr.Object["spec"]), v1alpha1.LabelPodTemplateHash) {
		t.Errorf("DestinationRule after Cleanup: %v %v", dr.GetAnnotations(), dr.Object["spec"])
	}
}

// Argo Rollouts' silent no-op (#4741, #3884) is an error here: a missing named route, a VS with
// several routes and none named, a missing destination, a foreign destination with weight.
func TestUnappliableWeightIsAnError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(vs, ro *unstructured.Unstructured)
		want   string
		wantOK bool
	}{{
		name: "routes omitted and two routes",
		edit: func(_, ro *unstructured.Unstructured) {
			unstructured.RemoveNestedField(ro.Object, "spec", "strategy", "canary", "trafficRouting", "istio", "virtualService", "routes")
		},
		want: `VirtualService "my-app" has 2 HTTP routes (HTTP route "admin", HTTP route "primary") and trafficRouting.istio.virtualService.routes is omitted: name the ones to weight`,
	}, {
		name: "the canary destination is missing",
		edit: func(vs, _ *unstructured.Unstructured) {
			route := namedRoute(vs, "primary")
			route["route"] = route["route"].([]any)[:1]
		},
		want: `Canary Service "my-app-canary" is not found in HTTP route "primary" of VirtualService "my-app"`,
	}, {
		name: "a foreign destination with weight",
		edit: func(vs, _ *unstructured.Unstructured) {
			route := namedRoute(vs, "primary")
			route["route"] = append(route["route"].([]any), map[string]any{"destination": map[string]any{"host": "legacy"}, "weight": int64(10)})
		},
		want: `HTTP route "primary" of VirtualService "my-app" sends weight 10 to legacy, which is neither the canary nor the stable; sluice neither deletes nor re-weights it`,
	}, {
		name: "a foreign destination at weight 0 is kept",
		edit: func(vs, _ *unstructured.Unstructured) {
			route := namedRoute(vs, "primary")
			route["route"] = append(route["route"].([]any), map[string]any{"destination": map[string]any{"host": "legacy"}, "weight": int64(0)})
		},
		wantOK: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := routertest.Load(t, hostSplit)
			tt.edit(routertest.Find(t, objs, istio.KindVirtualService, "my-app"), routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout"))
			e := setup(t, objs)
			err := e.r.SetWeight(t.Context(), trafficrouter.DesiredFor(e.ro, 20, "", ""))
			if tt.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				vs, err := e.get(t.Context(), vsGVK, e.ro.Namespace, "my-app")
				if err != nil {
					t.Fatal(err)
				}
				if n := len(namedRoute(vs, "primary")["route"].([]any)); n != 3 {
					t.Fatalf("the weight-0 destination was removed (%d destinations)", n)
				}
				return
			}
			ic, ok := trafficrouter.AsInvalidConfig(err)
			if !ok || !strings.Contains(ic.Message, tt.want) {
				t.Fatalf("SetWeight = %v, want an InvalidConfigError containing %q", err, tt.want)
			}
		})
	}
}

// virtualServices: several VirtualServices, one in another namespace (name.namespace), TLS and
// TCP routes selected by port.
func TestSeveralVirtualServicesTLSAndTCP(t *testing.T) {
	t.Parallel()
	objs := routertest.Load(t, hostSplit)
	c := routertest.Client(t)
	other := devclustertest.Namespace(t)
	stream := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "my-app-stream", "namespace": other},
		"spec": map[string]any{
			"hosts": []any{"my-app.local"},
			"tls": []any{map[string]any{
				"match": []any{map[string]any{"port": int64(443), "sniHosts": []any{"my-app.local"}}},
				"route": []any{
					map[string]any{"destination": map[string]any{"host": "my-app-stable.default.svc.cluster.local"}, "weight": int64(100)},
					map[string]any{"destination": map[string]any{"host": "my-app-canary.default.svc.cluster.local"}, "weight": int64(0)},
				},
			}},
			"tcp": []any{map[string]any{
				"match": []any{map[string]any{"port": int64(5432)}},
				"route": []any{
					map[string]any{"destination": map[string]any{"host": "my-app-stable"}, "weight": int64(100)},
					map[string]any{"destination": map[string]any{"host": "my-app-canary"}, "weight": int64(0)},
				},
			}},
		},
	}}
	if err := c.Create(t.Context(), stream); err != nil {
		t.Fatal(err)
	}
	ro := routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout")
	if err := unstructured.SetNestedSlice(ro.Object, []any{
		map[string]any{"name": "my-app", "routes": []any{"primary"}},
		map[string]any{"name": "my-app-stream." + other, "tlsRoutes": []any{map[string]any{"port": int64(443), "sniHosts": []any{"my-app.local"}}},
			"tcpRoutes": []any{map[string]any{"port": int64(5432)}}},
	}, "spec", "strategy", "canary", "trafficRouting", "istio", "virtualServices"); err != nil {
		t.Fatal(err)
	}
	unstructured.RemoveNestedField(ro.Object, "spec", "strategy", "canary", "trafficRouting", "istio", "virtualService")
	e := setup(t, objs)
	if err := e.r.SetWeight(t.Context(), trafficrouter.DesiredFor(e.ro, 30, "", "")); err != nil {
		t.Fatal(err)
	}
	vs, err := e.get(t.Context(), vsGVK, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	if cw, sw, _ := routeWeights(vs, "primary", host("my-app-canary"), host("my-app-stable")); cw != 30 || sw != 70 {
		t.Errorf("my-app primary %d/%d", cw, sw)
	}
	got, err := e.get(t.Context(), vsGVK, other, "my-app-stream")
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"tls", "tcp"} {
		routes, _, _ := unstructured.NestedSlice(got.Object, "spec", section)
		dests := routes[0].(map[string]any)["route"].([]any)
		s, _, _ := unstructured.NestedInt64(dests[0].(map[string]any), "weight")
		cw, _, _ := unstructured.NestedInt64(dests[1].(map[string]any), "weight")
		if cw != 30 || s != 70 {
			t.Errorf("%s route: %d/%d, want 30/70", section, cw, s)
		}
	}
	if refs := trafficrouter.Objects(e.ro); len(refs) != 2 || refs[1].Namespace != other || refs[1].Name != "my-app-stream" {
		t.Errorf("Objects = %v", refs)
	}
}

// Verify reads istiod's Reconciled condition when there is one.
func TestVerifyReadsIstioStatus(t *testing.T) {
	t.Parallel()
	e := setup(t, routertest.Load(t, hostSplit))
	ctx := t.Context()
	d := trafficrouter.DesiredFor(e.ro, 20, "", "")
	if err := e.r.SetWeight(ctx, d); err != nil {
		t.Fatal(err)
	}
	setStatus := func(status string, gen int64) {
		t.Helper()
		vs, err := e.get(ctx, vsGVK, e.ro.Namespace, "my-app")
		if err != nil {
			t.Fatal(err)
		}
		vs.Object["status"] = map[string]any{"conditions": []any{map[string]any{
			"type": "Reconciled", "status": status, "message": "pushed to 3 of 3 proxies", "observedGeneration": fmt.Sprint(gen),
		}}}
		if err := e.c.Status().Update(ctx, vs); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := e.get(ctx, vsGVK, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status string
		gen    int64
		want   trafficrouter.VerificationState
	}{
		{"True", vs.GetGeneration(), trafficrouter.Verified},
		{"False", vs.GetGeneration(), trafficrouter.NotVerified},
		{"True", vs.GetGeneration() - 1, trafficrouter.VerificationUnknown},
	} {
		setStatus(tc.status, tc.gen)
		v, err := e.r.Verify(ctx, d)
		if err != nil || v.State != tc.want {
			t.Errorf("Reconciled=%s at generation %d: Verify = %+v, %v; want %s", tc.status, tc.gen, v, err, tc.want)
		}
	}
}
