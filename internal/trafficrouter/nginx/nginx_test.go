package nginx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/nginx"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

const (
	example      = "examples/nginx/rollout.yaml"
	canaryName   = "my-rollout-my-app-ingress-canary"
	weightKey    = "nginx.ingress.kubernetes.io/canary-weight"
	stableName   = "my-app-ingress"
	headerExampl = "examples/nginx/rollout-header-canary.yaml"
)

// setup applies a manifest file in a new namespace and builds the Rollout's routers.
func setup(t *testing.T, file string) (client.Client, *v1alpha1.Rollout, trafficrouter.Router) {
	t.Helper()
	c := routertest.Client(t)
	ns := devclustertest.Namespace(t)
	ro := routertest.Apply(t, c, ns, routertest.Load(t, file))
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(routers) != 1 || routers[0].Type() != nginx.Type {
		t.Fatalf("routers: %v", routers)
	}
	return c, ro, routers[0]
}

func canaryIngress(ctx context.Context, c client.Client, ns string) (*networkingv1.Ingress, error) {
	ing := &networkingv1.Ingress{}
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: canaryName}, ing)
	return ing, err
}

func TestConformance(t *testing.T) {
	t.Parallel()
	routertest.Run(t, func(t *testing.T) *routertest.Case {
		t.Helper()
		c, ro, r := setup(t, example)
		return &routertest.Case{
			Client: c, Rollout: ro, Router: r,
			Applied: trafficrouter.VerificationUnknown,
			Weights: func(ctx context.Context) (int32, int32, error) {
				ing, err := canaryIngress(ctx, c, ro.Namespace)
				if err != nil {
					return 0, 0, err
				}
				w, err := strconv.Atoi(ing.Annotations[weightKey])
				return int32(w), 100 - int32(w), err
			},
			EditWeight: func(ctx context.Context, w int32) error {
				ing, err := canaryIngress(ctx, c, ro.Namespace)
				if err != nil {
					return err
				}
				patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"%d"}}}`, weightKey, w)
				return c.Patch(ctx, ing, client.RawPatch(types.MergePatchType, []byte(patch)))
			},
			Break: func(ctx context.Context) error {
				return c.Delete(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: stableName}})
			},
			BreakMessage: "stable Ingress `my-app-ingress` (trafficRouting.nginx) not found",
		}
	})
}

// The walk-through of docs/traffic-routing.md: setWeight 20 writes exactly
// examples/nginx/canary-ingress-at-20.yaml, then 60, 100, and an abort back to 0; deleting
// the Rollout garbage-collects the canary Ingress.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	c, ro, r := setup(t, example)
	ctx := t.Context()
	d := trafficrouter.DesiredFor(ro, 20, "", "")
	if err := r.SetWeight(ctx, d); err != nil {
		t.Fatal(err)
	}
	routertest.ExpectObjects(t, c, ro.Namespace, "examples/nginx/canary-ingress-at-20.yaml")
	for _, w := range []int32{60, 100, 0} {
		if err := r.SetWeight(ctx, trafficrouter.DesiredFor(ro, w, "", "")); err != nil {
			t.Fatal(err)
		}
		ing, err := canaryIngress(ctx, c, ro.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		if got := ing.Annotations[weightKey]; got != strconv.Itoa(int(w)) {
			t.Fatalf("canary-weight %q, want %d", got, w)
		}
	}
	// The stable Ingress is never touched.
	stable := &networkingv1.Ingress{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: stableName}, stable); err != nil {
		t.Fatal(err)
	}
	if len(stable.Annotations) != 0 || stable.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "my-app-stable" {
		t.Fatalf("stable Ingress changed: %+v", stable)
	}

	if err := c.Delete(ctx, ro, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	// The garbage collector learns about the Rollout CRD on its periodic discovery (30s).
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, err := canaryIngress(ctx, c, ro.Namespace)
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canary Ingress outlived its Rollout (err %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// NGINX header canary: additionalIngressAnnotations canary-by-header lands, prefixed, on the
// canary Ingress, next to the weight.
func TestHeaderCanary(t *testing.T) {
	t.Parallel()
	c, ro, r := setup(t, headerExampl)
	if err := r.SetWeight(t.Context(), trafficrouter.DesiredFor(ro, 0, "", "")); err != nil {
		t.Fatal(err)
	}
	ing, err := canaryIngress(t.Context(), c, ro.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"nginx.ingress.kubernetes.io/canary":           "true",
		"nginx.ingress.kubernetes.io/canary-weight":    "0",
		"nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
	}
	for k, v := range want {
		if ing.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, ing.Annotations[k], v)
		}
	}
	// Removing the annotation from the Rollout removes it from the canary Ingress; an
	// annotation someone else added stays.
	patch := `{"metadata":{"annotations":{"example.com/owner":"team-a"}}}`
	if err := c.Patch(t.Context(), ing, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
	ro.Spec.Strategy.Canary.TrafficRouting.Nginx.AdditionalIngressAnnotations = nil
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := routers[0].SetWeight(t.Context(), trafficrouter.DesiredFor(ro, 0, "", "")); err != nil {
		t.Fatal(err)
	}
	ing, err = canaryIngress(t.Context(), c, ro.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ing.Annotations["nginx.ingress.kubernetes.io/canary-by-header"]; ok {
		t.Error("canary-by-header left behind after it was removed from the Rollout")
	}
	if ing.Annotations["example.com/owner"] != "team-a" {
		t.Error("an annotation added by someone else was removed")
	}
	if err := r.SetHeaderRoute(t.Context(), trafficrouter.HeaderRoute{Name: "x"}); !errors.Is(err, trafficrouter.ErrUnsupported) {
		t.Errorf("SetHeaderRoute = %v, want ErrUnsupported", err)
	}
}

// A canary Ingress of that name that the Rollout does not control is never overwritten.
func TestForeignCanaryIngress(t *testing.T) {
	t.Parallel()
	c, ro, r := setup(t, example)
	foreign := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: canaryName},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "other", Port: networkingv1.ServiceBackendPort{Number: 80}},
		}},
	}
	if err := c.Create(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	err := r.SetWeight(t.Context(), trafficrouter.DesiredFor(ro, 20, "", ""))
	ic, ok := trafficrouter.AsInvalidConfig(err)
	if !ok || !strings.Contains(ic.Message, "is not controlled by Rollout my-rollout") {
		t.Fatalf("SetWeight = %v, want an InvalidConfigError about the foreign canary Ingress", err)
	}
	if err := r.Cleanup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := canaryIngress(t.Context(), c, ro.Namespace); err != nil {
		t.Fatalf("Cleanup deleted a canary Ingress it does not own: %v", err)
	}
}

// stableIngresses (plural) get one canary Ingress each; maxTrafficWeight writes
// canary-weight-total.
func TestStableIngressesAndMaxTrafficWeight(t *testing.T) {
	t.Parallel()
	c := routertest.Client(t)
	ns := devclustertest.Namespace(t)
	objs := routertest.Load(t, example)
	second := routertest.Find(t, objs, "Ingress", stableName).DeepCopy()
	second.SetName("my-app-ingress-2")
	if err := runtimeSet(second.Object, "other.local", "spec", "rules", 0, "host"); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, second)
	ro := routertest.Rollout(t, objs)
	tr := ro.Spec.Strategy.Canary.TrafficRouting
	tr.Nginx.StableIngress, tr.Nginx.StableIngresses = "", []string{stableName, "my-app-ingress-2"}
	tr.MaxTrafficWeight = new(int32(1000))
	ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetWeight: new(int32(250))}}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ro)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if o.GetKind() == v1alpha1.RolloutKind {
			objs[i].Object = u
		}
	}
	ro = routertest.Apply(t, c, ns, objs)
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := routers[0].SetWeight(t.Context(), trafficrouter.DesiredFor(ro, 250, "", "")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{canaryName, "my-rollout-my-app-ingress-2-canary"} {
		ing := &networkingv1.Ingress{}
		if err := c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, ing); err != nil {
			t.Fatal(err)
		}
		if ing.Annotations[weightKey] != "250" || ing.Annotations["nginx.ingress.kubernetes.io/canary-weight-total"] != "1000" {
			t.Errorf("%s annotations: %v", name, ing.Annotations)
		}
	}
}

func runtimeSet(obj map[string]any, value any, path ...any) error {
	var cur any = obj
	for i, p := range path {
		last := i == len(path)-1
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return fmt.Errorf("not a map at %v", path[:i])
			}
			if last {
				m[k] = value
				return nil
			}
			cur = m[k]
		case int:
			s, ok := cur.([]any)
			if !ok || k >= len(s) {
				return fmt.Errorf("no index %d at %v", k, path[:i])
			}
			if last {
				s[k] = value
				return nil
			}
			cur = s[k]
		}
	}
	return nil
}

// The manifests as suggested to the user: the Rollout has no canary/stable Services and the
// stable Ingress carries the canary annotations. Validate, DiagnoseNGINX, Diagnose and the
// router all say what to change.
func TestAsSuggestedIsExplained(t *testing.T) {
	t.Parallel()
	objs := routertest.Load(t, "examples/nginx/as-suggested.yaml")
	ro := routertest.Rollout(t, objs)
	if msg := trafficrouter.Validate(ro); !strings.Contains(msg, "needs canaryService and stableService") {
		t.Errorf("Validate = %q", msg)
	}
	stable := &networkingv1.Ingress{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(routertest.Find(t, objs, "Ingress", stableName).Object, stable); err != nil {
		t.Fatal(err)
	}
	msg := trafficrouter.DiagnoseNGINX(ro, stable)
	for _, want := range []string{
		"carries the canary annotations nginx.ingress.kubernetes.io/canary, nginx.ingress.kubernetes.io/canary-weight",
		"Remove them from `my-app-ingress`",
		"sluice creates its own canary Ingress `my-rollout-my-app-ingress-canary`",
		"needs spec.strategy.canary.canaryService and stableService",
		"set stableService: my-app-stable",
		"`my-app-canary`",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("DiagnoseNGINX does not say %q:\n%s", want, msg)
		}
	}

	// On the cluster: Diagnose reads the Ingress; the router refuses the stable Ingress.
	c := routertest.Client(t)
	ns := devclustertest.Namespace(t)
	ro = routertest.Apply(t, c, ns, objs)
	got, err := trafficrouter.Diagnose(t.Context(), c, ro)
	if err != nil || got != msg {
		t.Errorf("Diagnose = %q, %v; want DiagnoseNGINX's message", got, err)
	}
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = routers[0].SetWeight(t.Context(), trafficrouter.Desired{Services: trafficrouter.Services{Canary: "my-app-canary", Stable: "my-app-stable"}, Weight: 20})
	if ic, ok := trafficrouter.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, "carries the canary annotations") {
		t.Errorf("SetWeight = %v, want an InvalidConfigError about the canary annotations", err)
	}

	// The corrected manifests diagnose clean.
	fixed := routertest.Load(t, example)
	roFixed := routertest.Rollout(t, fixed)
	if msg := trafficrouter.Validate(roFixed); msg != "" {
		t.Errorf("Validate(corrected) = %q", msg)
	}
	stableFixed := &networkingv1.Ingress{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(routertest.Find(t, fixed, "Ingress", stableName).Object, stableFixed); err != nil {
		t.Fatal(err)
	}
	if msg := trafficrouter.DiagnoseNGINX(roFixed, stableFixed); msg != "" {
		t.Errorf("DiagnoseNGINX(corrected) = %q", msg)
	}
}

// A migrated Argo Rollouts manifest whose canaryIngressAnnotations set the weight keys: with
// Argo the annotation wins and freezes the canary's traffic; sluice writes the keys that carry
// the split after merging the user's annotations, so every step's weight lands.
func TestUserAnnotationsCannotFreezeTheWeight(t *testing.T) {
	t.Parallel()
	c := routertest.Client(t)
	objs := routertest.Load(t, example)
	ro := routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout")
	if err := unstructured.SetNestedStringMap(ro.Object, map[string]string{
		weightKey:                                  "0",
		"nginx.ingress.kubernetes.io/canary":       "false",
		weightKey + "-total":                       "1000",
		"nginx.ingress.kubernetes.io/ssl-redirect": "false",
	}, "spec", "strategy", "canary", "trafficRouting", "nginx", "canaryIngressAnnotations"); err != nil {
		t.Fatal(err)
	}
	typed := routertest.Apply(t, c, devclustertest.Namespace(t), objs)
	routers, err := trafficrouter.New(c, typed, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, w := range []int32{20, 60} {
		if err := routers[0].SetWeight(ctx, trafficrouter.DesiredFor(typed, w, "", "")); err != nil {
			t.Fatal(err)
		}
		ing, err := canaryIngress(ctx, c, typed.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		a := ing.Annotations
		if a[weightKey] != strconv.Itoa(int(w)) || a["nginx.ingress.kubernetes.io/canary"] != "true" || a[weightKey+"-total"] != "" || a["nginx.ingress.kubernetes.io/ssl-redirect"] != "false" {
			t.Errorf("after SetWeight(%d): annotations %v, want canary-weight %d, canary true, no canary-weight-total, ssl-redirect kept", w, a, w)
		}
	}
}
