package istio_test

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/istio"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// An Argo Rollouts manifest that omits routes, with a VirtualService holding one HTTP route and
// one TCP route to the canary and stable Services: Argo weights both (the only route of each
// section), and so does sluice.
func TestRoutesOmittedAsArgo(t *testing.T) {
	t.Parallel()
	objs := routertest.Load(t, hostSplit)
	vs := routertest.Find(t, objs, istio.KindVirtualService, "my-app")
	split := func() []any {
		return []any{
			map[string]any{"destination": map[string]any{"host": "my-app-stable"}, "weight": int64(100)},
			map[string]any{"destination": map[string]any{"host": "my-app-canary"}, "weight": int64(0)},
		}
	}
	vs.Object["spec"] = map[string]any{
		"hosts": []any{"my-app.local"},
		"http":  []any{map[string]any{"route": split()}},
		"tcp":   []any{map[string]any{"match": []any{map[string]any{"port": int64(5432)}}, "route": split()}},
	}
	unstructured.RemoveNestedField(routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout").Object,
		"spec", "strategy", "canary", "trafficRouting", "istio", "virtualService", "routes")
	e := setup(t, objs)
	if err := e.r.SetWeight(t.Context(), trafficrouter.DesiredFor(e.ro, 20, "", "")); err != nil {
		t.Fatal(err)
	}
	got, err := e.get(t.Context(), e.vs, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"http", "tcp"} {
		routes, _, _ := unstructured.NestedSlice(got.Object, "spec", section)
		b, _ := json.Marshal(routes[0].(map[string]any)["route"])
		if want := `[{"destination":{"host":"my-app-stable"},"weight":80},{"destination":{"host":"my-app-canary"},"weight":20}]`; string(b) != want {
			t.Errorf("%s route: %s, want %s", section, b, want)
		}
	}
}

// setHeaderRoute with two headers, applied to the cluster: one match block per header, as Argo
// Rollouts writes it (Istio sends a request with either header to the canary).
func TestHeaderRouteWithSeveralHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t, routertest.Load(t, hostSplit))
	hr := trafficrouter.HeaderRoute{Services: trafficrouter.ServicesFor(e.ro), Name: "header", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}},
		{HeaderName: "x-tester", HeaderValue: &v1alpha1.StringMatch{Prefix: "qa-"}},
	}}
	if err := e.r.SetHeaderRoute(t.Context(), hr); err != nil {
		t.Fatal(err)
	}
	got, err := e.get(t.Context(), e.vs, e.ro.Namespace, "my-app")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(namedRoute(got, "header"))
	want := `{"match":[{"headers":{"x-canary":{"exact":"yes"}}},{"headers":{"x-tester":{"prefix":"qa-"}}}],"name":"header","route":[{"destination":{"host":"my-app-canary"},"weight":100}]}`
	if string(b) != want {
		t.Errorf("header route\n got %s\nwant %s", b, want)
	}
}
