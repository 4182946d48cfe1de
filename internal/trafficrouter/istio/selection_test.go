package istio

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// With routes (and tlsRoutes, tcpRoutes) omitted, the route is picked as Argo Rollouts picks it
// (rollout/trafficrouting/istio/istio.go: getHttpRouteIndexesToPatch, ValidateHTTPRoutes,
// getTlsRouteIndexesToPatch, getTcpRouteIndexesToPatch): per section, the only route.
func TestRoutesOmittedPickedAsArgo(t *testing.T) {
	t.Parallel()
	// split is the destinations of a route that sends to both Services.
	const split = "\n    route: [{destination: {host: stable}, weight: 100}, {destination: {host: canary}, weight: 0}]"
	tests := []struct {
		name string
		vs   string
		ref  v1alpha1.IstioVirtualService
		// want: section/index → weights; untouched: section/index → weights kept as written.
		want    map[string]string
		wantErr string
	}{{
		name: "one unnamed HTTP route and one TCP route: both weighted",
		vs:   "spec:\n  http:\n  - name: \"\"" + split + "\n  tcp:\n  - match: [{port: 5432}]" + split,
		want: map[string]string{"http/0": "stable=70 canary=30", "tcp/0": "stable=70 canary=30"},
	}, {
		name: "one named HTTP route (Argo weights only an unnamed one; sluice weights it), a TLS route to other Services left alone",
		vs: "spec:\n  http:\n  - name: primary" + split + `
  tls:
  - match: [{port: 443, sniHosts: [a]}]
    route: [{destination: {host: other}, weight: 100}]`,
		want: map[string]string{"http/0": "stable=70 canary=30", "tls/0": "other=100"},
	}, {
		name: "routes named: the only TLS route, which sends to both, is weighted too (Argo's tlsRoutes omitted)",
		vs:   "spec:\n  http:\n  - name: primary" + split + "\n  tls:\n  - match: [{port: 443, sniHosts: [a]}]" + split,
		ref:  v1alpha1.IstioVirtualService{Routes: []string{"primary"}},
		want: map[string]string{"http/0": "stable=70 canary=30", "tls/0": "stable=70 canary=30"},
	}, {
		name: "tcpRoutes named: several HTTP routes are left alone (Argo fails)",
		vs:   "spec:\n  http:\n  - name: a" + split + "\n  - name: b" + split + "\n  tcp:\n  - match: [{port: 5432}]" + split,
		ref:  v1alpha1.IstioVirtualService{TCPRoutes: []v1alpha1.TCPRoute{{Port: 5432}}},
		want: map[string]string{"tcp/0": "stable=70 canary=30", "http/0": "stable=100 canary=0", "http/1": "stable=100 canary=0"},
	}, {
		name:    "nothing named and two HTTP routes",
		vs:      "spec:\n  http:\n  - name: primary" + split + "\n  - match: [{uri: {prefix: /}}]" + split,
		wantErr: `VirtualService "vs" has 2 HTTP routes (HTTP route "primary", HTTP route 1) and trafficRouting.istio.virtualService.routes is omitted: name the ones to weight`,
	}, {
		name:    "nothing named and two TLS routes",
		vs:      "spec:\n  tls:\n  - match: [{port: 443}]" + split + "\n  - match: [{port: 8443}]" + split,
		wantErr: `VirtualService "vs" has 2 TLS routes (TLS route 0, TLS route 1) and trafficRouting.istio.virtualService.tlsRoutes is omitted`,
	}, {
		name:    "nothing named and no route to the canary or the stable",
		vs:      "spec:\n  http:\n  - route: [{destination: {host: other}}]",
		wantErr: `VirtualService "vs" has no route that sends to canaryService "canary" or stableService "stable", so there is nothing to weight`,
	}, {
		name:    "the only route lacks the canary",
		vs:      "spec:\n  http:\n  - route: [{destination: {host: stable}}]",
		wantErr: `Canary Service "canary" is not found in HTTP route 0 of VirtualService "vs"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := vsFrom(t, "metadata: {name: vs}\n"+tt.vs)
			got, err := Config{}.VirtualService(vs, tt.ref, contract.Desired{Services: svc, Weight: 30})
			if tt.wantErr != "" {
				if ic, ok := contract.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, tt.wantErr) {
					t.Fatalf("err = %v, want an InvalidConfigError with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for at, want := range tt.want {
				section, i, _ := strings.Cut(at, "/")
				if w := weights(t, got, section, int(i[0]-'0')); w != want {
					t.Errorf("%s: weights %s, want %s", at, w, want)
				}
			}
		})
	}
}

// setHeaderRoute with several headers: as Argo Rollouts (createHeaderRoute appends one match
// block per header), each header is a match block of its own, which Istio ORs.
func TestHeaderRouteMatchBlocksAsArgo(t *testing.T) {
	t.Parallel()
	cfg := Config{ManagedRoutes: []string{"header"}}
	hr := contract.HeaderRoute{Services: svc, Name: "header", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}},
		{HeaderName: "x-beta-user", HeaderValue: &v1alpha1.StringMatch{Regex: "^[0-9]+$"}},
	}}
	got, err := cfg.WithHeaderRoute(vsFrom(t, twoRoutes), v1alpha1.IstioVirtualService{Routes: []string{"primary"}}, hr)
	if err != nil {
		t.Fatal(err)
	}
	header := namedRouteOf(got, "header")
	want := `[{"headers":{"x-canary":{"exact":"yes"}}},{"headers":{"x-beta-user":{"regex":"^[0-9]+$"}}}]`
	if b := toJSON(t, header["match"]); b != want {
		t.Errorf("match %s, want %s", b, want)
	}
}

func namedRouteOf(vs *unstructured.Unstructured, name string) map[string]any {
	rs, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	for _, r := range rs {
		if rm := r.(map[string]any); rm["name"] == name {
			return rm
		}
	}
	return nil
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
