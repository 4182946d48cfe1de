package cli_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// make demo, end to end: the question's Rollout at 25 % of pods next to its NGINX twin at
// exactly 20 %, both Healthy, the cluster stopped.
func TestDemo(t *testing.T) {
	if devclustertest.Skipped() {
		t.Skip("SLUICE_SKIP_CLUSTER=1")
	}
	out, err := sluiceCommand(t, "demo", "--nodes", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Service demo EndpointSlice lists 3 ready endpoints",
		"basic  phase Paused      step 1/3  pods: stable 3, canary 1 (CanaryPauseStep); the canary has 1 of 4 pods: about 25% of requests",
		"nginx  phase Paused      step 1/3  pods: stable 3, canary 1 (CanaryPauseStep); NGINX sends 20% of requests to the canary",
		"canary 25 % of requests (1 of 4 available pods), not the 20 % requested",
		"basic  phase Healthy     step 3/3  pods: stable 3, canary 0",
		"nginx  phase Healthy     step 3/3  pods: stable 3, canary 0",
		"demo done",
		"local cluster stopped",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}
