package install_test

import (
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// TestOutOfCluster runs `sluice controller --kubeconfig K` as a developer would, outside the
// cluster and with no POD_NAMESPACE: leader election uses the kubeconfig context's namespace
// (default here) and the controller works. Only the bind addresses are moved off 8080/8090,
// which other processes on this machine may hold.
func TestOutOfCluster(t *testing.T) {
	admin := adminClient(t)
	kubeconfig := devclustertest.Cluster(t).Kubeconfig()
	health := freeAddr(t)
	logs, _ := startController(t, podRun{
		args: []string{"controller", "--kubeconfig=" + kubeconfig, "--health-probe-bind-address=" + health, "--metrics-bind-address=0"},
	}, "")
	httpOK(t, health, "/readyz", 30*time.Second)
	devclustertest.Eventually(t, 30*time.Second, func() string {
		lease := &coordinationv1.Lease{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: controller.LeaderElectionID}, lease); err != nil {
			return fmt.Sprintf("Lease default/%s: %v", controller.LeaderElectionID, err)
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return "the Lease has no holder"
		}
		return ""
	})
	rolloutThroughUpdate(t, admin, devclustertest.Namespace(t))
	noForbidden(t, logs)
}
