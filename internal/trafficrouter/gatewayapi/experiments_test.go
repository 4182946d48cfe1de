package gatewayapi

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// An experiment's Services become backends of the splitting rules with their weights (on the
// canary backend's port), taken from the stable's share, recorded on the route, and are removed
// — they alone — once the experiment is over.
func TestExperimentBackends(t *testing.T) {
	t.Parallel()
	cfg := Config{Namespace: "ns"}
	in := route(t, `
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  rules:
  - backendRefs: [{name: s, port: 80, weight: 100}, {name: c, port: 80, weight: 0}, {name: users, port: 80, weight: 0}]
  - backendRefs: [{name: s, port: 80}]
`)
	svc := contract.Services{Canary: "c", Stable: "s"}
	d := contract.Desired{Services: svc, Weight: 20, Additional: []v1alpha1.WeightDestination{{ServiceName: "ex-b", Weight: 5}, {ServiceName: "ex-c", Weight: 5}}}
	out, err := cfg.Route(in, d)
	if err != nil {
		t.Fatal(err)
	}
	rules := out.Object["spec"].(map[string]any)["rules"].([]any)
	if got := fmt.Sprint(rules[0]); got != "map[backendRefs:[map[name:s port:80 weight:70] map[name:c port:80 weight:20] map[name:users port:80 weight:0] map[name:ex-b port:80 weight:5] map[name:ex-c port:80 weight:5]]]" {
		t.Errorf("with the experiment: %s", got)
	}
	if got := fmt.Sprint(rules[1]); got != "map[backendRefs:[map[name:s port:80]]]" {
		t.Errorf("a rule without the canary changed: %s", got)
	}
	if a := out.GetAnnotations()[AnnotationExperimentBackends]; a != `["ex-b","ex-c"]` {
		t.Errorf("annotation %q", a)
	}
	d.Additional = d.Additional[:1]
	d.Additional[0].Weight = 10
	out, err = cfg.Route(out, d)
	if err != nil {
		t.Fatal(err)
	}
	rules = out.Object["spec"].(map[string]any)["rules"].([]any)
	if got := fmt.Sprint(rules[0]); got != "map[backendRefs:[map[name:s port:80 weight:70] map[name:c port:80 weight:20] map[name:users port:80 weight:0] map[name:ex-b port:80 weight:10]]]" {
		t.Errorf("one left, new weight: %s", got)
	}
	out, err = cfg.Route(out, contract.Desired{Services: svc, Weight: 0})
	if err != nil {
		t.Fatal(err)
	}
	rules = out.Object["spec"].(map[string]any)["rules"].([]any)
	if got := fmt.Sprint(rules[0]); got != "map[backendRefs:[map[name:s port:80 weight:100] map[name:c port:80 weight:0] map[name:users port:80 weight:0]]]" {
		t.Errorf("after the experiment: %s", got)
	}
	if _, ok := out.GetAnnotations()[AnnotationExperimentBackends]; ok {
		t.Error("annotation left after the experiment")
	}
}
