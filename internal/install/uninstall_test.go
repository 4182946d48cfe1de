package install_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// TestUninstallCRDs pins what the README says about deleting the CRDs: the Rollouts go, and
// their ReplicaSets (so their pods) are deleted by the garbage collector, at the latest once
// the CRDs are installed again. It runs the controller out of the cluster only to create the
// Rollout's ReplicaSets, and stops it first, as an uninstall would. The CRDs are back when it
// ends.
func TestUninstallCRDs(t *testing.T) {
	admin := adminClient(t)
	health := freeAddr(t)
	_, stop := startController(t, podRun{args: []string{"controller", "--kubeconfig=" + devclustertest.Cluster(t).Kubeconfig(),
		"--health-probe-bind-address=" + health, "--metrics-bind-address=0"}}, "")
	ns := devclustertest.Namespace(t)
	first := rolloutThroughUpdate(t, admin, ns)
	stop()

	docs := crdDocs(t)
	t.Cleanup(func() { // the package's other tests need the CRDs
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		applyAll(ctx, t, admin, docs, "")
	})
	for _, crd := range docs {
		if err := admin.Delete(t.Context(), crd.DeepCopy()); err != nil {
			t.Fatal(err)
		}
	}
	devclustertest.Eventually(t, time.Minute, func() string {
		for _, crd := range docs {
			if err := admin.Get(t.Context(), client.ObjectKeyFromObject(crd), crd.DeepCopy()); !apierrors.IsNotFound(err) {
				return fmt.Sprintf("CRD %s: still there (%v)", crd.GetName(), err)
			}
		}
		return ""
	})
	// Whether the garbage collector deletes the ReplicaSets now is a race: it does when it sees
	// the Rollouts' deletion before it stops watching their kind; otherwise the owner cannot
	// be resolved and they stay until the kind is back. Seen both ways here.
	t.Logf("%d ReplicaSets of the deleted Rollout %s/%s left when the CRDs were gone", replicaSets(t, admin, ns), ns, first.Name)

	applyAll(t.Context(), t, admin, docs, "")
	devclustertest.Eventually(t, 2*time.Minute, func() string {
		if n := replicaSets(t, admin, ns); n != 0 {
			return fmt.Sprintf("%d ReplicaSets of the deleted Rollout still there after the CRDs came back", n)
		}
		return ""
	})
}

func crdDocs(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range manifest(t, "install.yaml") {
		if o.GetKind() == "CustomResourceDefinition" {
			out = append(out, o)
		}
	}
	return out
}

func replicaSets(t *testing.T, c client.Client, ns string) int {
	t.Helper()
	var rss appsv1.ReplicaSetList
	if err := c.List(t.Context(), &rss, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return len(rss.Items)
}
