package devclustertest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/devcluster"
)

var (
	cluster  *devcluster.Cluster
	startErr error
)

// Skipped reports whether cluster tests are switched off (SLUICE_SKIP_CLUSTER=1).
func Skipped() bool { return os.Getenv("SLUICE_SKIP_CLUSTER") == "1" }

// Main starts a cluster with sluice's CRDs (plus opts.CRDs), runs the tests and stops the
// cluster. Call it from TestMain: os.Exit(devclustertest.Main(m, devcluster.Options{})).
// In CI (CI=true) a cluster that fails to start fails the run instead of skipping tests.
func Main(m *testing.M, opts devcluster.Options) int {
	if Skipped() {
		return m.Run()
	}
	opts.CRDs = append([]devcluster.CRDSet{devcluster.CRDsSluice}, opts.CRDs...)
	opts.KeepRunDir = opts.KeepRunDir || os.Getenv("SLUICE_KEEP_CLUSTER") == "1"
	flag.Parse()
	if testing.Verbose() {
		opts.Progress = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	cluster, startErr = devcluster.Start(ctx, opts)
	cancel()
	if startErr != nil {
		fmt.Fprintf(os.Stderr, "devclustertest: starting the local cluster: %v\n", startErr)
		return 1
	}
	code := m.Run()
	if err := cluster.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "devclustertest: a cluster component died during the tests: %v\n", err)
		code = 1
	}
	if err := cluster.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "devclustertest: stopping the local cluster: %v\n", err)
	}
	if opts.KeepRunDir {
		fmt.Fprintf(os.Stderr, "devclustertest: cluster files kept in %s\n", cluster.RunDir())
	}
	return code
}

// Cluster returns the test binary's cluster, or skips the test when cluster tests are off.
func Cluster(tb testing.TB) *devcluster.Cluster {
	tb.Helper()
	if Skipped() {
		tb.Skip("SLUICE_SKIP_CLUSTER=1: skipping a test that needs the local cluster")
	}
	if cluster == nil {
		tb.Fatal("devclustertest.Main was not called from TestMain")
	}
	return cluster
}

// Config returns an admin client configuration for the test binary's cluster.
func Config(tb testing.TB) *rest.Config {
	tb.Helper()
	return Cluster(tb).RESTConfig()
}

// Namespace creates a namespace with a generated name for one test and deletes it afterwards.
// It waits until the namespace's default service account exists, so pods can be created.
func Namespace(tb testing.TB) string {
	tb.Helper()
	cs := kubernetes.NewForConfigOrDie(Config(tb))
	ctx := tb.Context()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating a test namespace: %v", err)
	}
	tb.Cleanup(func() {
		// tb.Context() is already cancelled here.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := cs.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return ns.Name
		}
		if time.Now().After(deadline) {
			tb.Fatalf("namespace %s: default service account not created within 30s", ns.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Eventually polls cond every 100ms until it returns "" (done) or timeout passes, then fails
// the test with cond's last message.
func Eventually(tb testing.TB, timeout time.Duration, cond func() string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not within %s: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
