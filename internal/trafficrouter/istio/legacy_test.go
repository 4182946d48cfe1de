package istio_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// legacy is a second local cluster whose Istio CRDs are those of an Istio before 1.22: they
// serve v1beta1 (storage) and v1alpha3 only, no v1 (routertest.LegacyIstioCRDs derives them
// from the real ones). Started by the first test that needs it, stopped by TestMain.
var legacy struct {
	once    sync.Once
	cluster *devcluster.Cluster
	err     error
}

// legacyCluster returns the legacy cluster, starting it on first use.
func legacyCluster(t *testing.T) cluster {
	t.Helper()
	if devclustertest.Skipped() {
		t.Skip("SLUICE_SKIP_CLUSTER=1: skipping a test that needs a local cluster")
	}
	legacy.once.Do(func() {
		legacy.err = errors.New("starting the legacy cluster failed (see the first test that used it)")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		lc, err := devcluster.Start(ctx, devcluster.Options{CRDs: []devcluster.CRDSet{devcluster.CRDsSluice},
			KeepRunDir: os.Getenv("SLUICE_KEEP_CLUSTER") == "1"})
		if err != nil {
			legacy.err = err
			return
		}
		legacy.cluster = lc
		routertest.InstallCRDs(t, legacyClient(t), routertest.LegacyIstioCRDs(t))
		legacy.err = nil
	})
	if legacy.err != nil {
		t.Fatal(legacy.err)
	}
	return cluster{client: legacyClient, namespace: legacyNamespace, version: "v1beta1"}
}

func legacyClient(tb testing.TB) client.Client {
	tb.Helper()
	c, err := client.New(legacy.cluster.RESTConfig(), client.Options{Scheme: routertest.Scheme()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// legacyNamespace creates a namespace in the legacy cluster for one test.
func legacyNamespace(tb testing.TB) string {
	tb.Helper()
	c := legacyClient(tb)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := c.Create(tb.Context(), ns); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Delete(ctx, ns)
	})
	return ns.Name
}

func stopLegacyCluster() {
	if legacy.cluster != nil {
		_ = legacy.cluster.Stop()
	}
}

// An Istio before 1.22 serves no networking.istio.io/v1: the router finds the version the
// cluster serves (v1beta1 here) and passes the whole conformance suite with it; the test reads
// and edits the objects at v1beta1.
func TestConformanceLegacyIstioAPI(t *testing.T) {
	t.Parallel()
	cl := legacyCluster(t)
	t.Run("HostSplit", func(t *testing.T) {
		t.Parallel()
		routertest.Run(t, func(t *testing.T) *routertest.Case { t.Helper(); return hostSplitCase(t, cl) })
	})
	t.Run("SubsetSplit", func(t *testing.T) {
		t.Parallel()
		routertest.Run(t, func(t *testing.T) *routertest.Case { t.Helper(); return subsetSplitCase(t, cl) })
	})
}
