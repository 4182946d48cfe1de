package rolloutspec_test

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/rolloutspec"
)

// Every problem, the planner's and the routers', comes from one call, so the controller's
// InvalidSpec condition and `sluice lint` say the same thing.
func TestProblemsFromPlannerAndRouters(t *testing.T) {
	ro := &v1alpha1.Rollout{}
	err := yaml.Unmarshal([]byte(`
spec:
  replicas: 3
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: a, image: nginx}]}
  strategy:
    canary:
      antiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: {weight: 0}}
      canaryService: c
      stableService: s
      trafficRouting:
        maxTrafficWeight: 1000
        istio: {virtualService: {name: vs}}
      steps:
      - setWeight: 20
      - setHeaderRoute: {name: h, match: [{headerName: x, headerValue: {exact: y}}]}
`), ro)
	if err != nil {
		t.Fatal(err)
	}
	got := rolloutspec.Problems(ro)
	for _, want := range []string{
		"spec.strategy.canary.antiAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight must be 1..100, got 0",
		"spec.strategy.canary.trafficRouting.maxTrafficWeight is only supported with nginx and plugins; istio weights are percentages of 100",
		`spec.strategy.canary.steps[1].setHeaderRoute.name "h" must be listed in trafficRouting.managedRoutes`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	msg := rolloutspec.Message(got)
	for _, p := range got {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q does not carry %q", msg, p)
		}
	}
}
