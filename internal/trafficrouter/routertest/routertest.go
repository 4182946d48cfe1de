package routertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter"
)

// Case is one freshly prepared router: its objects exist in a namespace of its own, as a user
// would have them before the first rollout.
type Case struct {
	// Client reads and writes the cluster.
	Client client.Client
	// Rollout is the Rollout the router was built for (created in the cluster).
	Rollout *v1alpha1.Rollout
	// Router is the router under test.
	Router trafficrouter.Router
	// Weights reads the canary and stable weights from the router's objects; it fails when
	// the objects disagree among themselves.
	Weights func(ctx context.Context) (canary, stable int32, err error)
	// EditWeight changes the canary weight in the objects by hand (drift).
	EditWeight func(ctx context.Context, canary int32) error
	// ManagedRoutes counts the header and mirror routes present in the objects.
	ManagedRoutes func(ctx context.Context) (int, error)
	// HeaderRoute and MirrorRoute are tried when set; when nil the router must answer the
	// feature with ErrUnsupported.
	HeaderRoute *trafficrouter.HeaderRoute
	MirrorRoute *trafficrouter.MirrorRoute
	// Additional is whether the router takes additional (experiment) destinations.
	Additional bool
	// Applied is what Verify reports once the split is applied in the local cluster, where no
	// data plane runs (Unknown, or NotVerified for routers that wait for a data plane).
	Applied trafficrouter.VerificationState
	// Break removes or changes a precondition so that SetWeight must fail with an
	// InvalidConfigError whose message contains BreakMessage.
	Break        func(ctx context.Context) error
	BreakMessage string
}

// Fixture prepares a Case in a new namespace.
type Fixture func(t *testing.T) *Case

// Run is the conformance suite. Every subtest gets a fresh Case and runs in parallel.
func Run(t *testing.T, fixture Fixture) {
	t.Helper()
	t.Run("Type", func(t *testing.T) {
		t.Parallel()
		if fixture(t).Router.Type() == "" {
			t.Error("Type() is empty")
		}
	})
	t.Run("WeightsLandExactly", func(t *testing.T) {
		t.Parallel()
		weightsLandExactly(t, fixture(t))
	})
	t.Run("Idempotent", func(t *testing.T) {
		t.Parallel()
		idempotent(t, fixture(t))
	})
	t.Run("DriftIsUndone", func(t *testing.T) {
		t.Parallel()
		driftIsUndone(t, fixture(t))
	})
	t.Run("CleanupLeavesNoResidue", func(t *testing.T) {
		t.Parallel()
		cleanupLeavesNoResidue(t, fixture(t))
	})
	t.Run("UnsupportedFeatures", func(t *testing.T) {
		t.Parallel()
		unsupportedFeatures(t, fixture(t))
	})
	t.Run("BrokenPrecondition", func(t *testing.T) {
		t.Parallel()
		brokenPrecondition(t, fixture(t))
	})
}

// Desired is the split at weight w for the Case's Rollout.
func (c *Case) Desired(w int32) trafficrouter.Desired {
	return trafficrouter.DesiredFor(c.Rollout, w, "canaryhash", "stablehash")
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (c *Case) expectWeights(t *testing.T, w int32) {
	t.Helper()
	canary, stable, err := c.Weights(t.Context())
	must(t, "reading weights", err)
	total := c.Desired(w).TotalWeight()
	if canary != w || stable != total-w {
		t.Fatalf("objects carry %d/%d (canary/stable), want %d/%d", canary, stable, w, total-w)
	}
}

func weightsLandExactly(t *testing.T, c *Case) {
	t.Helper()
	ctx := t.Context()
	must(t, "UpdateHash", c.Router.UpdateHash(ctx, "canaryhash", "stablehash"))
	for _, w := range []int32{0, 20, 60, 100} {
		must(t, fmt.Sprintf("SetWeight(%d)", w), c.Router.SetWeight(ctx, c.Desired(w)))
		c.expectWeights(t, w)
		v, err := c.Router.Verify(ctx, c.Desired(w))
		must(t, "Verify", err)
		if v.State != c.Applied {
			t.Errorf("Verify after SetWeight(%d) = %s (%s), want %s", w, v.State, v.Reason, c.Applied)
		}
		if v.Reason == "" {
			t.Errorf("Verify after SetWeight(%d) gives no reason", w)
		}
	}
}

func idempotent(t *testing.T, c *Case) {
	t.Helper()
	ctx := t.Context()
	twice := func(what string, f func() error) {
		t.Helper()
		must(t, what, f())
		before := c.ResourceVersions(t)
		must(t, what+" (again)", f())
		if after := c.ResourceVersions(t); !maps.Equal(before, after) {
			t.Errorf("%s applied twice wrote again: resourceVersions %v then %v", what, before, after)
		}
	}
	twice("UpdateHash", func() error { return c.Router.UpdateHash(ctx, "canaryhash", "stablehash") })
	twice("SetWeight(20)", func() error { return c.Router.SetWeight(ctx, c.Desired(20)) })
	if c.HeaderRoute != nil {
		twice("SetHeaderRoute", func() error { return c.Router.SetHeaderRoute(ctx, *c.HeaderRoute) })
	}
	if c.MirrorRoute != nil {
		twice("SetMirrorRoute", func() error { return c.Router.SetMirrorRoute(ctx, *c.MirrorRoute) })
		twice("SetWeight(60) with a mirror route", func() error { return c.Router.SetWeight(ctx, c.Desired(60)) })
	}
	twice("RemoveManagedRoutes", func() error { return c.Router.RemoveManagedRoutes(ctx) })
	twice("Cleanup", func() error { return c.Router.Cleanup(ctx) })
}

func driftIsUndone(t *testing.T, c *Case) {
	t.Helper()
	ctx := t.Context()
	must(t, "UpdateHash", c.Router.UpdateHash(ctx, "canaryhash", "stablehash"))
	must(t, "SetWeight(20)", c.Router.SetWeight(ctx, c.Desired(20)))
	must(t, "editing the weight by hand", c.EditWeight(ctx, 55))
	if canary, _, err := c.Weights(ctx); err == nil && canary != 55 {
		t.Fatalf("the hand edit did not take: canary weight %d", canary)
	}
	v, err := c.Router.Verify(ctx, c.Desired(20))
	must(t, "Verify", err)
	if v.State != trafficrouter.NotVerified {
		t.Errorf("Verify after a hand edit = %s (%s), want NotVerified", v.State, v.Reason)
	}
	must(t, "SetWeight(20) again", c.Router.SetWeight(ctx, c.Desired(20)))
	c.expectWeights(t, 20)
}

func cleanupLeavesNoResidue(t *testing.T, c *Case) {
	t.Helper()
	ctx := t.Context()
	original := c.Snapshot(t)
	must(t, "UpdateHash", c.Router.UpdateHash(ctx, "canaryhash", "stablehash"))
	must(t, "SetWeight(20)", c.Router.SetWeight(ctx, c.Desired(20)))
	weighted := c.Snapshot(t)
	routes := 0
	if c.HeaderRoute != nil {
		must(t, "SetHeaderRoute", c.Router.SetHeaderRoute(ctx, *c.HeaderRoute))
		routes++
	}
	if c.MirrorRoute != nil {
		must(t, "SetMirrorRoute", c.Router.SetMirrorRoute(ctx, *c.MirrorRoute))
		routes++
	}
	if routes > 0 {
		n, err := c.ManagedRoutes(ctx)
		must(t, "counting managed routes", err)
		if n < routes {
			t.Fatalf("%d managed routes in the objects after setting %d", n, routes)
		}
	}
	must(t, "RemoveManagedRoutes", c.Router.RemoveManagedRoutes(ctx))
	if c.ManagedRoutes != nil {
		n, err := c.ManagedRoutes(ctx)
		must(t, "counting managed routes", err)
		if n != 0 {
			t.Fatalf("%d managed routes left after RemoveManagedRoutes", n)
		}
	}
	if got := c.Snapshot(t); got != weighted {
		t.Errorf("RemoveManagedRoutes left residue:\n got %s\nwant %s", got, weighted)
	}
	must(t, "Cleanup", c.Router.Cleanup(ctx))
	if got := c.Snapshot(t); got != original {
		t.Errorf("Cleanup left residue:\n got %s\nwant %s", got, original)
	}
	must(t, "Cleanup (again)", c.Router.Cleanup(ctx))
}

func unsupportedFeatures(t *testing.T, c *Case) {
	t.Helper()
	ctx := t.Context()
	svc := trafficrouter.ServicesFor(c.Rollout)
	if c.HeaderRoute == nil {
		err := c.Router.SetHeaderRoute(ctx, trafficrouter.HeaderRoute{Services: svc, Name: "header", Match: []v1alpha1.HeaderRoutingMatch{
			{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}},
		}})
		if !errors.Is(err, trafficrouter.ErrUnsupported) {
			t.Errorf("SetHeaderRoute = %v, want an error wrapping ErrUnsupported", err)
		}
	}
	if c.MirrorRoute == nil {
		err := c.Router.SetMirrorRoute(ctx, trafficrouter.MirrorRoute{Services: svc, Name: "mirror", Match: []v1alpha1.RouteMatch{
			{Path: &v1alpha1.StringMatch{Prefix: "/"}},
		}})
		if !errors.Is(err, trafficrouter.ErrUnsupported) {
			t.Errorf("SetMirrorRoute = %v, want an error wrapping ErrUnsupported", err)
		}
	}
	d := c.Desired(20)
	d.Additional = []v1alpha1.WeightDestination{{ServiceName: "experiment", Weight: 10, PodTemplateHash: "5d8f9c7b6"}}
	err := c.Router.SetWeight(ctx, d)
	switch {
	case c.Additional && err != nil:
		t.Errorf("SetWeight with an additional destination: %v", err)
	case !c.Additional && !errors.Is(err, trafficrouter.ErrUnsupported):
		t.Errorf("SetWeight with an additional destination = %v, want an error wrapping ErrUnsupported", err)
	}
}

func brokenPrecondition(t *testing.T, c *Case) {
	t.Helper()
	ctx := t.Context()
	must(t, "breaking a precondition", c.Break(ctx))
	err := c.Router.SetWeight(ctx, c.Desired(20))
	ic, ok := trafficrouter.AsInvalidConfig(err)
	if !ok {
		t.Fatalf("SetWeight with a broken precondition = %v, want an InvalidConfigError", err)
	}
	if !strings.Contains(ic.Message, c.BreakMessage) {
		t.Errorf("InvalidConfigError %q does not say %q", ic.Message, c.BreakMessage)
	}
	if _, err := c.Router.Verify(ctx, c.Desired(20)); err == nil {
		t.Errorf("Verify with a broken precondition returned no error")
	}
}

// objects reads every object trafficrouter.Objects names for the Rollout (nil when absent).
func (c *Case) objects(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, ref := range trafficrouter.Objects(c.Rollout) {
		m, err := c.Client.RESTMapper().RESTMapping(schema.GroupKind{Group: ref.Group, Kind: ref.Kind})
		must(t, "mapping "+ref.Kind, err)
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(m.GroupVersionKind)
		err = c.Client.Get(t.Context(), types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, u)
		if apierrors.IsNotFound(err) {
			out[ref.Key()] = nil
			continue
		}
		must(t, "reading "+ref.String(), err)
		out[ref.Key()] = u
	}
	return out
}

// Snapshot is the router-relevant state of every object the Rollout's routers name: absent,
// or labels, annotations and spec.
func (c *Case) Snapshot(t *testing.T) string {
	t.Helper()
	state := map[string]any{}
	for k, u := range c.objects(t) {
		if u == nil {
			state[k] = "absent"
			continue
		}
		state[k] = map[string]any{"labels": u.GetLabels(), "annotations": u.GetAnnotations(), "spec": u.Object["spec"]}
	}
	b, err := json.Marshal(state)
	must(t, "encoding a snapshot", err)
	return string(b)
}

// ResourceVersions of every object the Rollout's routers name ("" when absent).
func (c *Case) ResourceVersions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, u := range c.objects(t) {
		if u != nil {
			out[k] = u.GetResourceVersion()
		} else {
			out[k] = ""
		}
	}
	return out
}
