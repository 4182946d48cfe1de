package istio

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

func vsFrom(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

const twoRoutes = `
metadata: {name: vs}
spec:
  http:
  - name: primary
    route:
    - {destination: {host: stable}, weight: 100}
    - {destination: {host: canary.ns.svc.cluster.local, port: {number: 8080}}, weight: 0}
  - name: other
    route:
    - {destination: {host: stable}}
  tls:
  - match: [{port: 443, sniHosts: [a, b]}]
    route:
    - {destination: {host: stable}, weight: 100}
    - {destination: {host: canary}, weight: 0}
  tcp:
  - match: [{port: 5432}]
    route:
    - {destination: {host: stable}, weight: 100}
    - {destination: {host: canary}, weight: 0}
`

var svc = contract.Services{Canary: "canary", Stable: "stable"}

func weights(t *testing.T, vs *unstructured.Unstructured, section string, i int) string {
	t.Helper()
	rs, _, _ := unstructured.NestedSlice(vs.Object, "spec", section)
	var out []string
	for _, d := range rs[i].(map[string]any)["route"].([]any) {
		dm := d.(map[string]any)
		host, _, _ := unstructured.NestedString(dm, "destination", "host")
		out = append(out, fmt.Sprintf("%s=%v", host, dm["weight"]))
	}
	return strings.Join(out, " ")
}

func TestVirtualServiceSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ref     v1alpha1.IstioVirtualService
		section string
		index   int
		want    string
		wantErr string
	}{
		{name: "named HTTP route; host matched by its first label", ref: v1alpha1.IstioVirtualService{Routes: []string{"primary"}},
			section: "http", want: "stable=70 canary.ns.svc.cluster.local=30"},
		{name: "TLS route by port and SNI hosts (any order)", ref: v1alpha1.IstioVirtualService{TLSRoutes: []v1alpha1.TLSRoute{{Port: 443, SNIHosts: []string{"b", "a"}}}},
			section: "tls", want: "stable=70 canary=30"},
		{name: "TCP route by port", ref: v1alpha1.IstioVirtualService{TCPRoutes: []v1alpha1.TCPRoute{{Port: 5432}}},
			section: "tcp", want: "stable=70 canary=30"},
		{name: "missing HTTP route", ref: v1alpha1.IstioVirtualService{Routes: []string{"nope"}},
			wantErr: `HTTP route "nope" is not found in VirtualService "vs" (its HTTP routes: "primary", "other")`},
		{name: "TLS route with other SNI hosts", ref: v1alpha1.IstioVirtualService{TLSRoutes: []v1alpha1.TLSRoute{{Port: 443, SNIHosts: []string{"a"}}}},
			wantErr: `no TLS route matching port 443 and sniHosts [a] in VirtualService "vs"`},
		{name: "TCP route on another port", ref: v1alpha1.IstioVirtualService{TCPRoutes: []v1alpha1.TCPRoute{{Port: 1}}},
			wantErr: `no TCP route matching port 1 in VirtualService "vs"`},
		{name: "nothing named and two HTTP routes", ref: v1alpha1.IstioVirtualService{},
			wantErr: `VirtualService "vs" has 2 HTTP routes (HTTP route "primary", HTTP route "other") and trafficRouting.istio.virtualService.routes is omitted: name the ones to weight`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{}
			got, err := cfg.VirtualService(vsFrom(t, twoRoutes), tt.ref, contract.Desired{Services: svc, Weight: 30})
			if tt.wantErr != "" {
				if ic, ok := contract.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w := weights(t, got, tt.section, tt.index); w != tt.want {
				t.Errorf("weights %s, want %s", w, tt.want)
			}
		})
	}
}

func TestSingleRouteNeedsNoName(t *testing.T) {
	t.Parallel()
	vs := vsFrom(t, `
metadata: {name: vs}
spec:
  http:
  - name: header
    route: [{destination: {host: canary}, weight: 100}]
  - route:
    - {destination: {host: stable}, weight: 100}
    - {destination: {host: canary}, weight: 0}
`)
	got, err := Config{ManagedRoutes: []string{"header"}}.VirtualService(vs, v1alpha1.IstioVirtualService{}, contract.Desired{Services: svc, Weight: 10})
	if err != nil {
		t.Fatal(err)
	}
	if w := weights(t, got, "http", 1); w != "stable=90 canary=10" {
		t.Errorf("weights %s", w)
	}
	if w := weights(t, got, "http", 0); w != "canary=100" {
		t.Errorf("the managed header route was re-weighted: %s", w)
	}
}

func TestAdditionalSubsetsKeepTheirWeight(t *testing.T) {
	t.Parallel()
	vs := vsFrom(t, `
metadata: {name: vs}
spec:
  http:
  - name: primary
    route:
    - {destination: {host: app, subset: stable}, weight: 90}
    - {destination: {host: app, subset: canary}, weight: 0}
    - {destination: {host: app, subset: baseline}, weight: 10}
`)
	cfg := Config{Istio: v1alpha1.IstioTrafficRouting{DestinationRule: &v1alpha1.IstioDestinationRule{
		Name: "dr", CanarySubsetName: "canary", StableSubsetName: "stable", AdditionalSubsetNames: []string{"baseline"},
	}}}
	got, err := cfg.VirtualService(vs, v1alpha1.IstioVirtualService{Routes: []string{"primary"}}, contract.Desired{Weight: 30})
	if err != nil {
		t.Fatal(err)
	}
	if w := weights(t, got, "http", 0); w != "app=60 app=30 app=10" {
		t.Errorf("weights %s, want stable 60, canary 30, baseline 10", w)
	}
}

func TestManagedRoutesOrder(t *testing.T) {
	t.Parallel()
	cfg := Config{ManagedRoutes: []string{"first", "second"}}
	ref := v1alpha1.IstioVirtualService{Routes: []string{"primary"}}
	vs := vsFrom(t, twoRoutes)
	hr := contract.HeaderRoute{Services: svc, Name: "second", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-a", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}},
		{HeaderName: "x-b", HeaderValue: &v1alpha1.StringMatch{Prefix: "p"}},
	}}
	vs, err := cfg.WithHeaderRoute(vs, ref, hr)
	if err != nil {
		t.Fatal(err)
	}
	vs, err = cfg.WithMirrorRoute(vs, ref, contract.MirrorRoute{Services: svc, Name: "first", Match: []v1alpha1.RouteMatch{{Path: &v1alpha1.StringMatch{Exact: "/x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	rs, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	var names []string
	for _, r := range rs {
		names = append(names, fmt.Sprint(r.(map[string]any)["name"]))
	}
	if strings.Join(names, ",") != "first,second,primary,other" {
		t.Fatalf("order %v", names)
	}
	header := rs[1].(map[string]any)
	// One match block per header, as Argo Rollouts (any one matches); the canary destination
	// keeps its port.
	if got := fmt.Sprint(header["match"]); got != "[map[headers:map[x-a:map[exact:1]]] map[headers:map[x-b:map[prefix:p]]]]" {
		t.Errorf("header match %s", got)
	}
	if got := fmt.Sprint(header["route"]); got != "[map[destination:map[host:canary.ns.svc.cluster.local port:map[number:8080]] weight:100]]" {
		t.Errorf("header route %s", got)
	}
	mirror := rs[0].(map[string]any)
	if got := fmt.Sprint(mirror["mirrorPercentage"]); got != "map[value:100]" {
		t.Errorf("mirrorPercentage %s", got)
	}
	// Removing one, then all.
	vs, err = cfg.WithHeaderRoute(vs, ref, contract.HeaderRoute{Services: svc, Name: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(vs.Object["spec"].(map[string]any)["http"].([]any)); n != 3 {
		t.Fatalf("%d routes after removing the header route", n)
	}
	vs = cfg.WithoutManagedRoutes(vs)
	if got, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http"); len(got) != 2 {
		t.Fatalf("%d routes after WithoutManagedRoutes", len(got))
	}
}

func TestDestinationRule(t *testing.T) {
	t.Parallel()
	cfg := Config{Rollout: "ro", Istio: v1alpha1.IstioTrafficRouting{DestinationRule: &v1alpha1.IstioDestinationRule{
		Name: "dr", CanarySubsetName: "canary", StableSubsetName: "stable",
	}}}
	dr := vsFrom(t, `
metadata: {name: dr}
spec:
  host: app
  subsets:
  - {name: canary}
  - {name: stable, labels: {app: a}}
  - {name: other, labels: {rollouts-pod-template-hash: keep}}
`)
	got, err := cfg.DestinationRule(dr, "c1", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.subsetHashes(got); h["canary"] != "c1" || h["stable"] != "s1" || h["other"] != "keep" {
		t.Errorf("hashes %v", h)
	}
	if got.GetAnnotations()[v1alpha1.AnnotationManagedByRollouts] != "ro" {
		t.Errorf("annotations %v", got.GetAnnotations())
	}
	// An empty hash leaves the label alone.
	again, err := cfg.DestinationRule(got, "", "s2")
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.subsetHashes(again); h["canary"] != "c1" || h["stable"] != "s2" {
		t.Errorf("hashes %v", h)
	}
	clean := cfg.CleanDestinationRule(again)
	if h := cfg.subsetHashes(clean); len(h) != 1 || h["other"] != "keep" {
		t.Errorf("hashes after clean %v", h)
	}
	if fmt.Sprint(clean.Object["spec"]) != fmt.Sprint(dr.Object["spec"]) || clean.GetAnnotations() != nil {
		t.Errorf("clean %v", clean.Object)
	}
	cfg.Istio.DestinationRule.CanarySubsetName = "missing"
	if _, err := cfg.DestinationRule(dr, "c", "s"); err == nil || !strings.Contains(err.Error(), `DestinationRule "dr" has no subset "missing" (trafficRouting.istio.destinationRule.canarySubsetName); its subsets: "canary", "stable", "other"`) {
		t.Errorf("err = %v", err)
	}
}
