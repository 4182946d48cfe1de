package alb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/alb"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

const (
	example   = "examples/alb/rollout.yaml"
	actionKey = "alb.ingress.kubernetes.io/actions.my-app-stable"
)

func setup(t *testing.T) (client.Client, *v1alpha1.Rollout, trafficrouter.Router) {
	t.Helper()
	c := routertest.Client(t)
	ro := routertest.Apply(t, c, devclustertest.Namespace(t), routertest.Load(t, example))
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(routers) != 1 || routers[0].Type() != alb.Type {
		t.Fatalf("routers %v", routers)
	}
	return c, ro, routers[0]
}

func ingress(ctx context.Context, c client.Client, ns string) (*networkingv1.Ingress, error) {
	ing := &networkingv1.Ingress{}
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "my-app-ingress"}, ing)
	return ing, err
}

func actionWeights(ing *networkingv1.Ingress) (map[string]int64, error) {
	var a alb.Action
	if err := json.Unmarshal([]byte(ing.Annotations[actionKey]), &a); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, g := range a.ForwardConfig.TargetGroups {
		if g.Weight != nil {
			out[g.ServiceName] = *g.Weight
		}
	}
	return out, nil
}

func headerRoute(ro *v1alpha1.Rollout) *trafficrouter.HeaderRoute {
	h := ro.Spec.Strategy.Canary.Steps[0].SetHeaderRoute
	return &trafficrouter.HeaderRoute{Services: trafficrouter.ServicesFor(ro), Name: h.Name, Match: h.Match}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	routertest.Run(t, func(t *testing.T) *routertest.Case {
		t.Helper()
		c, ro, r := setup(t)
		return &routertest.Case{
			Client: c, Rollout: ro, Router: r,
			// Never Verified: sluice does not read the target groups from AWS.
			Applied:     trafficrouter.VerificationUnknown,
			Additional:  true,
			HeaderRoute: headerRoute(ro),
			Weights: func(ctx context.Context) (int32, int32, error) {
				ing, err := ingress(ctx, c, ro.Namespace)
				if err != nil {
					return 0, 0, err
				}
				w, err := actionWeights(ing)
				return int32(w["my-app-canary"]), int32(w["my-app-stable"]), err
			},
			EditWeight: func(ctx context.Context, w int32) error {
				ing, err := ingress(ctx, c, ro.Namespace)
				if err != nil {
					return err
				}
				action := fmt.Sprintf(`{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"my-app-canary","ServicePort":"80","Weight":%d},{"ServiceName":"my-app-stable","ServicePort":"80","Weight":%d}]}}`, w, 100-w)
				patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{actionKey: action}}})
				return c.Patch(ctx, ing, client.RawPatch(types.MergePatchType, patch))
			},
			ManagedRoutes: func(ctx context.Context) (int, error) {
				ing, err := ingress(ctx, c, ro.Namespace)
				if err != nil {
					return 0, err
				}
				n := 0
				if _, ok := ing.Annotations["alb.ingress.kubernetes.io/actions.header"]; ok {
					n++
				}
				return n, nil
			},
			Break: func(ctx context.Context) error {
				ing, err := ingress(ctx, c, ro.Namespace)
				if err != nil {
					return err
				}
				ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{Number: 80}
				return c.Update(ctx, ing)
			},
			BreakMessage: "Ingress `my-app-ingress` routes to Service `my-app-stable` by port, so the AWS Load Balancer Controller ignores alb.ingress.kubernetes.io/actions.my-app-stable",
		}
	})
}

// The walk-through of docs/traffic-routing.md.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	c, ro, r := setup(t)
	ctx := t.Context()
	d := func(w int32) trafficrouter.Desired { return trafficrouter.DesiredFor(ro, w, "", "") }
	if err := r.SetWeight(ctx, d(0)); err != nil {
		t.Fatal(err)
	}
	if err := r.SetHeaderRoute(ctx, *headerRoute(ro)); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(ctx, d(20)); err != nil {
		t.Fatal(err)
	}
	routertest.ExpectObjects(t, c, ro.Namespace, "examples/alb/ingress-at-20.yaml")
	v, err := r.Verify(ctx, d(20))
	if err != nil || v.State != trafficrouter.VerificationUnknown || !strings.Contains(v.Reason, "not checked") {
		t.Fatalf("Verify = %+v, %v; want Unknown (never Verified)", v, err)
	}
	for _, w := range []int32{60, 100} {
		if err := r.SetWeight(ctx, d(w)); err != nil {
			t.Fatal(err)
		}
		ing, err := ingress(ctx, c, ro.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := actionWeights(ing); got["my-app-canary"] != int64(w) || got["my-app-stable"] != int64(100-w) {
			t.Fatalf("weights %v, want %d/%d", got, w, 100-w)
		}
	}
	// Abort: header route removed, weight 0.
	if err := r.RemoveManagedRoutes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(ctx, d(0)); err != nil {
		t.Fatal(err)
	}
	ing, err := ingress(ctx, c, ro.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if len(ing.Spec.Rules[0].HTTP.Paths) != 1 || ing.Annotations["alb.ingress.kubernetes.io/conditions.header"] != "" {
		t.Errorf("header route left after RemoveManagedRoutes: %v %v", ing.Spec.Rules[0].HTTP.Paths, ing.Annotations)
	}
	if got := ing.Annotations[v1alpha1.AnnotationManagedALBAnnotations]; got != `{"my-rollout":["alb.ingress.kubernetes.io/actions.my-app-stable"]}` {
		t.Errorf("bookkeeping %s", got)
	}
}

// Two Rollouts share one Ingress (different actions); each one's Cleanup only undoes its own.
func TestSharedIngressBookkeeping(t *testing.T) {
	t.Parallel()
	c, ro, r := setup(t)
	ctx := t.Context()
	if err := r.SetWeight(ctx, trafficrouter.DesiredFor(ro, 30, "", "")); err != nil {
		t.Fatal(err)
	}
	ing, err := ingress(ctx, c, ro.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	ing.Annotations[v1alpha1.AnnotationManagedALBAnnotations] = `{"my-rollout":["alb.ingress.kubernetes.io/actions.my-app-stable"],"other":["alb.ingress.kubernetes.io/actions.other-svc"]}`
	ing.Annotations["alb.ingress.kubernetes.io/actions.other-svc"] = "{}"
	if err := c.Update(ctx, ing); err != nil {
		t.Fatal(err)
	}
	if err := r.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	ing, err = ingress(ctx, c, ro.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if got := ing.Annotations[v1alpha1.AnnotationManagedALBAnnotations]; got != `{"other":["alb.ingress.kubernetes.io/actions.other-svc"]}` {
		t.Errorf("bookkeeping after Cleanup: %s", got)
	}
	if ing.Annotations["alb.ingress.kubernetes.io/actions.other-svc"] != "{}" {
		t.Error("another Rollout's action was touched")
	}
	if got, _ := actionWeights(ing); got["my-app-stable"] != 100 || len(got) != 1 {
		t.Errorf("action after Cleanup %v, want all to my-app-stable", got)
	}
}
