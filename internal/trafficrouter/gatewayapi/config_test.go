package gatewayapi

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, json, want, wantErr string
	}{
		{name: "singular fields take header routes, as in the plugin",
			json: `{"httpRoute":"a","grpcRoute":"b","tcpRoute":"c","tlsRoute":"d","namespace":"gw"}`,
			want: "[{HTTPRoute a true} {GRPCRoute b true} {TCPRoute c true} {TLSRoute d true}]"},
		{name: "plural lists keep useHeaderRoutes",
			json: `{"httpRoutes":[{"name":"a","useHeaderRoutes":true},{"name":"b"}],"configMap":"argo-gatewayapi-configmap"}`,
			want: "[{HTTPRoute a true} {HTTPRoute b false}]"},
		{name: "a typo is an error", json: `{"httpRoutse":[{"name":"a"}]}`, wantErr: `unknown field "httpRoutse"`},
		{name: "selectors are not supported yet", json: `{"httpRouteSelector":{"matchLabels":{"a":"b"}}}`, wantErr: "httpRouteSelector (route discovery by label) is not supported by sluice yet"},
		{name: "no routes", json: `{"namespace":"x"}`, wantErr: "configures no routes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pc, err := ParseConfig([]byte(tt.json))
			if tt.wantErr != "" {
				if ic, ok := contract.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(pc.Routes()); got != tt.want {
				t.Errorf("routes %s, want %s", got, tt.want)
			}
		})
	}
}

func route(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRouteTouchesOnlyRulesWithBothServices(t *testing.T) {
	t.Parallel()
	cfg := Config{Namespace: "ns", ManagedRoutes: []string{"header"}}
	in := route(t, `
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  rules:
  - backendRefs: [{name: s, weight: 100}, {name: c, weight: 0}]
  - name: users-own
    matches: [{headers: [{name: x-beta, value: "1"}]}]
    backendRefs: [{name: c}]
  - backendRefs: [{name: s, namespace: other, weight: 100}, {name: c, weight: 0}]
  - backendRefs: [{name: s, kind: ServiceImport, weight: 100}, {name: c, weight: 0}]
`)
	svc := contract.Services{Canary: "c", Stable: "s"}
	out, err := cfg.Route(in, contract.Desired{Services: svc, Weight: 25})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Object["spec"].(map[string]any)["rules"].([]any)
	want := in.Object["spec"].(map[string]any)["rules"].([]any)
	if fmt.Sprint(got[0]) != "map[backendRefs:[map[name:s weight:75] map[name:c weight:25]]]" {
		t.Errorf("rule 0: %v", got[0])
	}
	for i := 1; i < 4; i++ {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("rule %d changed: %v", i, got[i])
		}
	}
	if out.GetLabels()[v1alpha1.LabelGatewayAPICanary] != v1alpha1.GatewayAPICanaryInProgress {
		t.Errorf("labels %v", out.GetLabels())
	}
	// Header rule: matches copied, header added (a prefix becomes an anchored regex).
	out, err = cfg.WithHeaderRoute(out, contract.HeaderRoute{Services: svc, Name: "header", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Prefix: "a.b"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rules := out.Object["spec"].(map[string]any)["rules"].([]any)
	if len(rules) != 5 || fmt.Sprint(rules[4]) != "map[backendRefs:[map[name:c weight:1]] matches:[map[headers:[map[name:x-canary type:RegularExpression value:^a\\.b.*]] path:map[type:PathPrefix value:/]]] name:header]" {
		t.Errorf("header rule: %v", rules[len(rules)-1])
	}
	// Weight 0 removes the in-progress label; the custom label settings are honoured.
	cfg.Plugin.InProgressLabelKey, cfg.Plugin.InProgressLabelValue = "example.com/canary", "yes"
	out, err = cfg.Route(out, contract.Desired{Services: svc, Weight: 5})
	if err != nil {
		t.Fatal(err)
	}
	if out.GetLabels()["example.com/canary"] != "yes" {
		t.Errorf("labels %v", out.GetLabels())
	}
	cfg.Plugin.DisableInProgressLabel = true
	out, err = cfg.Route(cfg.WithoutManagedRoutes(out), contract.Desired{Services: svc, Weight: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Object["spec"].(map[string]any)["rules"].([]any)) != 4 {
		t.Error("managed rules left")
	}
}
