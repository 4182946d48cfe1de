package controllertest

import (
	"context"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/sluicehq/sluice/internal/controller"
)

// Start runs a controller manager for namespace ns (2 workers) until the returned stop is
// called or the test ends; stop waits until it has shut down.
func Start(tb testing.TB, cfg *rest.Config, ns string) (stop func()) {
	tb.Helper()
	mgr, err := controller.NewManager(cfg, controller.Options{Namespace: ns, Workers: 2, SkipNameValidation: true})
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
