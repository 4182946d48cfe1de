package clitest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// `sluice controller --kubeconfig …` started from a laptop, as the README says: out of the
// cluster there is no pod namespace for the leader-election Lease, so the controller takes
// --namespace (or the kubeconfig context's), and runs a Rollout to Healthy.
func TestControllerCommandOutOfCluster(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb bytes.Buffer
	done := make(chan struct{})
	var code int
	go func() {
		defer close(done)
		code = cli.Run(ctx, []string{"controller", "--kubeconfig", devclustertest.Cluster(t).Kubeconfig(), "-n", e.ns,
			"--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, strings.NewReader(""), &out, &errb)
	}()
	defer func() {
		cancel()
		<-done
		if code != 0 {
			t.Errorf("sluice controller: exit %d\n%s", code, errb.String())
		}
	}()
	e.create("laptop", 3, setWeight(50), setWeight(100))
	e.waitFor(time.Minute, func() string {
		select {
		case <-done:
			t.Fatalf("sluice controller stopped (exit %d):\n%s", code, errb.String())
		default:
		}
		if st := e.rollout("laptop").Status; st.Phase != v1alpha1.RolloutPhaseHealthy {
			return "waiting for Healthy: " + string(st.Phase) + " " + st.Message
		}
		return ""
	})
}
