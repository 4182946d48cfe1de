package rollout_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// routeNames lists the names of the routes (Istio http[]) or rules (Gateway API rules[]).
func (e *env) routeNames(gvk schema.GroupVersionKind, path ...string) []string {
	e.t.Helper()
	u := e.get(gvk, "my-app")
	if u == nil {
		return nil
	}
	list, _, _ := unstructured.NestedSlice(u.Object, path...)
	var names []string
	each(list, func(m map[string]any) {
		if n, ok := m["name"].(string); ok {
			names = append(names, n)
		}
	})
	return names
}

// Header and mirror routes, through the controller, for the routers that have them: the
// examples' steps set a header route first and a mirror route later; they are in place in
// managedRoutes order while the update runs and gone after an abort.
func TestManagedRoutesThroughController(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		gvk        schema.GroupVersionKind
		path       []string
		original   []string
		gateway    bool
		// ordered: routes take precedence by position (Istio); Gateway API ranks rules by
		// how specific their matches are, so the position of the added rules is free.
		ordered bool
	}{
		{"istio", "examples/istio/host-split.yaml", vsGVK, []string{"spec", "http"}, []string{"admin", "primary"}, false, true},
		{"gateway-api", "examples/gatewayapi/rollout.yaml", httpRouteGV, []string{"spec", "rules"}, []string{"main", "admin"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.gateway {
				go fakeGateway(t.Context(), e.c, e.ns)
			}
			routertest.Apply(t, e.c, e.ns, routertest.Load(t, tc.file))
			e.waitHealthy("my-rollout", time.Minute)
			if got := e.routeNames(tc.gvk, tc.path...); !slices.Equal(got, tc.original) {
				t.Fatalf("first deploy changed the routes: %v", got)
			}
			e.setImage("my-rollout", "nginx:1.26")
			e.waitFor(time.Minute, func() string {
				ro := e.rollout("my-rollout")
				names := e.routeNames(tc.gvk, tc.path...)
				if ro.Status.Phase != v1alpha1.RolloutPhasePaused || !slices.Contains(names, "header") || slices.Contains(names, "mirror") {
					return fmt.Sprintf("want the header route only, paused: routes %v, phase %s step %v", names, ro.Status.Phase, ro.Status.CurrentStepIndex)
				}
				if tc.ordered && names[0] != "header" {
					return fmt.Sprintf("the header route must come first: %v", names)
				}
				return ""
			})
			e.statusPatch("my-rollout", `{"status":{"pauseConditions":null}}`)
			e.waitFor(time.Minute, func() string {
				ro := e.rollout("my-rollout")
				names := e.routeNames(tc.gvk, tc.path...)
				hi, mi := slices.Index(names, "header"), slices.Index(names, "mirror")
				if ro.Status.Phase != v1alpha1.RolloutPhasePaused || hi < 0 || mi < 0 || (tc.ordered && mi < hi) {
					return fmt.Sprintf("want header then mirror routes at the second pause: routes %v, phase %s step %v", names, ro.Status.Phase, ro.Status.CurrentStepIndex)
				}
				return ""
			})
			e.statusPatch("my-rollout", `{"status":{"abort":true}}`)
			e.waitFor(time.Minute, func() string {
				if names := e.routeNames(tc.gvk, tc.path...); !slices.Equal(names, tc.original) {
					return "after abort the routes are " + strings.Join(names, ", ")
				}
				return ""
			})
		})
	}
}

// The NGINX manifest as it was suggested to the user (canary annotations on the stable
// Ingress, no canary/stable Services) is refused with a message that says what to change.
func TestNGINXAsSuggestedIsExplained(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	routertest.Apply(t, e.c, e.ns, routertest.Load(t, "examples/nginx/as-suggested.yaml"))
	e.waitFor(time.Minute, func() string {
		ro := e.rollout("my-rollout")
		c := condition(ro, v1alpha1.RolloutInvalidSpec)
		if c == nil || ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
			return "no InvalidSpec yet"
		}
		for _, want := range []string{"canaryService", "stableService", "nginx.ingress.kubernetes.io/canary"} {
			if !strings.Contains(c.Message, want) {
				return fmt.Sprintf("InvalidSpec message lacks %q: %s", want, c.Message)
			}
		}
		t.Logf("InvalidSpec: %s", c.Message)
		return ""
	})
	if running, _ := e.pods(map[string]string{"app": "my-app"}); len(running) != 0 {
		t.Fatalf("the refused Rollout got pods: %s", counts(running))
	}
}

// When a Rollout stops using a router object, sluice undoes what it did there: here the
// trafficRouting is removed mid-update, and the canary Ingress sluice created goes away.
func TestRemovedTrafficRoutingIsCleanedUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	routertest.Apply(t, e.c, e.ns, routertest.Load(t, "examples/nginx/rollout.yaml"))
	e.waitHealthy("my-rollout", time.Minute)
	e.setImage("my-rollout", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		if w, ok := routerCases[0].weight(e); !ok || w != 20 {
			return fmt.Sprintf("canary Ingress weight %d (%v), want 20", w, ok)
		}
		return ""
	})
	if ro := e.rollout("my-rollout"); ro.Annotations["sluice.dev/traffic-routing"] == "" {
		t.Fatal("the applied trafficRouting is not recorded")
	}
	e.specPatch("my-rollout", `{"spec":{"strategy":{"canary":{"trafficRouting":null}}}}`)
	e.waitFor(time.Minute, func() string {
		if ing := e.get(ingressGVK, "my-rollout-my-app-ingress-canary"); ing != nil {
			return "the canary Ingress is still there"
		}
		if ro := e.rollout("my-rollout"); ro.Annotations["sluice.dev/traffic-routing"] != "" {
			return "the record of the old trafficRouting is still there"
		}
		return ""
	})
}
