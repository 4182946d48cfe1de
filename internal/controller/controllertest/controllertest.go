package controllertest

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller"
)

// Start runs a controller manager for namespace ns (2 workers) until the returned stop is
// called or the test ends; stop waits until it has shut down.
func Start(tb testing.TB, cfg *rest.Config, ns string) (stop func()) {
	tb.Helper()
	return StartWith(tb, cfg, controller.Options{Namespace: ns, Workers: 2})
}

// StartWith is Start with the given options (Namespace should be the test's namespace);
// SkipNameValidation is always set.
func StartWith(tb testing.TB, cfg *rest.Config, o controller.Options) (stop func()) {
	tb.Helper()
	o.SkipNameValidation = true
	mgr, err := controller.NewManager(cfg, o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(tb.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			tb.Errorf("controller: %v", err)
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	tb.Cleanup(stop)
	return stop
}

// StatusPatch sends a JSON merge patch to a Rollout's status subresource with a plain client,
// the way Argo's kubectl plugin does (promote, abort, retry, promote --full).
func StatusPatch(tb testing.TB, c client.Client, ns, name, patch string) {
	tb.Helper()
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := c.Status().Patch(tb.Context(), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		tb.Fatal(err)
	}
}

// SpecPatch sends a JSON merge patch to a Rollout (pause, restart, …) with a plain client.
func SpecPatch(tb testing.TB, c client.Client, ns, name, patch string) {
	tb.Helper()
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := c.Patch(tb.Context(), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		tb.Fatal(err)
	}
}
