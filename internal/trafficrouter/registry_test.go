package trafficrouter_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{CRDs: []devcluster.CRDSet{devcluster.CRDsSMI}}))
}

func TestNewRefusesWhatItDoesNotImplement(t *testing.T) {
	t.Parallel()
	for canary, want := range map[string]string{
		services + "trafficRouting: {ambassador: {mappings: [m]}}":                                  "trafficRouting.ambassador is not supported by sluice yet",
		services + "trafficRouting: {nginx: {stableIngress: w}, plugins: {example/other: {}}}":      `trafficRouting.plugins["example/other"] is not supported by sluice yet`,
		services + "trafficRouting: {managedRoutes: [{name: a}]}":                                   "trafficRouting configures no router",
		services + "trafficRouting: {plugins: {argoproj-labs/gatewayAPI: {httpRouteSelector: {}}}}": "httpRouteSelector (route discovery by label) is not supported by sluice yet",
	} {
		_, err := trafficrouter.New(nil, rollout(t, canary), trafficrouter.Options{})
		if ic, ok := trafficrouter.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, want) {
			t.Errorf("New(%s) = %v, want an InvalidConfigError with %q", canary, err, want)
		}
	}
	if _, err := trafficrouter.New(nil, rollout(t, services+"trafficRouting: {smi: {}}"), trafficrouter.Options{SMIAPIVersion: "v9"}); err == nil {
		t.Error("an unknown SMI version was accepted")
	}
	if rs, err := trafficrouter.New(nil, rollout(t, "steps: []"), trafficrouter.Options{}); rs != nil || err != nil {
		t.Errorf("without trafficRouting: %v, %v", rs, err)
	}
}

func TestNewOrderObjectsKinds(t *testing.T) {
	t.Parallel()
	ro := rollout(t, services+`trafficRouting:
  smi: {trafficSplitName: split}
  nginx: {stableIngresses: [a, b]}
  istio: {virtualServices: [{name: vs}, {name: vs2.other}], destinationRule: {name: dr, canarySubsetName: c, stableSubsetName: s}}
  alb: {ingress: alb, servicePort: 80}
  plugins: {argoproj-labs/gatewayAPI: {httpRoute: r, namespace: gw}}`)
	routers, err := trafficrouter.New(nil, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range routers {
		types = append(types, r.Type())
	}
	if got := strings.Join(types, ","); got != "ALB,Istio,NGINX,SMI,GatewayAPI" {
		t.Errorf("routers %s", got)
	}
	var refs []string
	for _, r := range trafficrouter.Objects(ro) {
		refs = append(refs, fmt.Sprintf("%s owned=%v", r, r.Owned))
	}
	want := []string{
		"Ingress.networking.k8s.io ns/alb owned=false",
		"VirtualService.networking.istio.io ns/vs owned=false",
		"VirtualService.networking.istio.io other/vs2 owned=false",
		"DestinationRule.networking.istio.io ns/dr owned=false",
		"Ingress.networking.k8s.io ns/a owned=false",
		"Ingress.networking.k8s.io ns/ro-a-canary owned=true",
		"Ingress.networking.k8s.io ns/b owned=false",
		"Ingress.networking.k8s.io ns/ro-b-canary owned=true",
		"TrafficSplit.split.smi-spec.io ns/split owned=true",
		"HTTPRoute.gateway.networking.k8s.io gw/r owned=false",
	}
	if strings.Join(refs, "\n") != strings.Join(want, "\n") {
		t.Errorf("Objects:\n%s\nwant\n%s", strings.Join(refs, "\n"), strings.Join(want, "\n"))
	}
	// Kinds: the served kinds at the versions the routers use; the others are skipped.
	served := []schema.GroupVersionKind{
		{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
		{Group: "networking.istio.io", Version: "v1beta1", Kind: "VirtualService"},
		{Group: "networking.istio.io", Version: "v1alpha3", Kind: "VirtualService"},
		{Group: "networking.istio.io", Version: "v1beta1", Kind: "DestinationRule"},
		{Group: "split.smi-spec.io", Version: "v1alpha2", Kind: "TrafficSplit"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1alpha2", Kind: "TLSRoute"},
	}
	var gvs []schema.GroupVersion // in order: the first version of a group is its preferred one
	for _, gvk := range served {
		if !slices.Contains(gvs, gvk.GroupVersion()) {
			gvs = append(gvs, gvk.GroupVersion())
		}
	}
	mapper := meta.NewDefaultRESTMapper(gvs)
	for _, gvk := range served {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	kinds, skipped := trafficrouter.Kinds(mapper, trafficrouter.Options{})
	want = []string{"networking.k8s.io/v1, Kind=Ingress", "networking.istio.io/v1beta1, Kind=VirtualService", "networking.istio.io/v1beta1, Kind=DestinationRule",
		"split.smi-spec.io/v1alpha2, Kind=TrafficSplit", "gateway.networking.k8s.io/v1, Kind=HTTPRoute", "gateway.networking.k8s.io/v1alpha2, Kind=TLSRoute"}
	if got := fmt.Sprint(kinds); got != fmt.Sprint(want) {
		t.Errorf("Kinds = %s, want %s", got, want)
	}
	if got := fmt.Sprint(skipped); !strings.Contains(got, "does not serve GRPCRoute (gateway.networking.k8s.io)") || !strings.Contains(got, "does not serve TCPRoute") {
		t.Errorf("skipped = %s", got)
	}
	if kinds, _ := trafficrouter.Kinds(mapper, trafficrouter.Options{IstioAPIVersion: "v1alpha3"}); !strings.Contains(fmt.Sprint(kinds), "networking.istio.io/v1alpha3, Kind=VirtualService") {
		t.Errorf("an explicit version is not watched: %s", kinds)
	}
	d := trafficrouter.DesiredFor(rollout(t, services+"trafficRouting: {maxTrafficWeight: 1000, nginx: {stableIngress: a}}"), 250, "h1", "h2")
	w := d.Weights(trafficrouter.Verification{State: trafficrouter.VerificationUnknown})
	if d.TotalWeight() != 1000 || w.Canary.Weight != 250 || w.Stable.Weight != 750 || w.Verified != nil || w.Canary.PodTemplateHash != "h1" || w.Stable.ServiceName != "s" {
		t.Errorf("DesiredFor/Weights: %+v %+v", d, w)
	}
}

// NGINX and SMI on one Rollout run together: each router writes its own objects.
func TestNginxAndSMITogether(t *testing.T) {
	t.Parallel()
	c := routertest.Client(t)
	objs := routertest.Load(t, "examples/nginx/rollout.yaml")
	ro := routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout")
	if err := unstructured.SetNestedMap(ro.Object, map[string]any{"trafficSplitName": "my-app"}, "spec", "strategy", "canary", "trafficRouting", "smi"); err != nil {
		t.Fatal(err)
	}
	typed := routertest.Apply(t, c, devclustertest.Namespace(t), objs)
	routers, err := trafficrouter.New(c, typed, trafficrouter.Options{SMIAPIVersion: "v1alpha2"})
	if err != nil || len(routers) != 2 {
		t.Fatalf("New = %v, %v", routers, err)
	}
	ctx := t.Context()
	d := trafficrouter.DesiredFor(typed, 20, "", "")
	var vs []trafficrouter.Verification
	for _, r := range routers {
		if err := r.SetWeight(ctx, d); err != nil {
			t.Fatal(err)
		}
		v, err := r.Verify(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if v := trafficrouter.Combine(vs...); v.State != trafficrouter.VerificationUnknown || !strings.Contains(v.Reason, "canary Ingress") || !strings.Contains(v.Reason, "TrafficSplit") {
		t.Errorf("Combine = %+v", v)
	}
	ing := &networkingv1.Ingress{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: typed.Namespace, Name: "my-rollout-my-app-ingress-canary"}, ing); err != nil || ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"] != "20" {
		t.Errorf("canary Ingress: %v %v", err, ing.Annotations)
	}
	ts := kubeobj.New(schema.GroupVersionKind{Group: "split.smi-spec.io", Version: "v1alpha2", Kind: "TrafficSplit"})
	if err := c.Get(ctx, types.NamespacedName{Namespace: typed.Namespace, Name: "my-app"}, ts); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(ts.Object["spec"]); string(b) != `{"backends":[{"service":"my-app-canary","weight":20},{"service":"my-app-stable","weight":80}],"service":"my-app-stable"}` {
		t.Errorf("TrafficSplit spec %s", b)
	}
}

// When a Rollout stops referencing an object, Retired's Cleanup undoes sluice's changes there
// and leaves what the Rollout still uses alone.
func TestRetired(t *testing.T) {
	t.Parallel()
	c := routertest.Client(t)
	objs := routertest.Load(t, "examples/nginx/rollout.yaml")
	second := routertest.Find(t, objs, "Ingress", "my-app-ingress").DeepCopy()
	second.SetName("my-app-ingress-2")
	ro := routertest.Find(t, objs, v1alpha1.RolloutKind, "my-rollout")
	if err := unstructured.SetNestedField(ro.Object, map[string]any{"stableIngresses": []any{"my-app-ingress", "my-app-ingress-2"}},
		"spec", "strategy", "canary", "trafficRouting", "nginx"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedMap(ro.Object, map[string]any{}, "spec", "strategy", "canary", "trafficRouting", "smi"); err != nil {
		t.Fatal(err)
	}
	typed := routertest.Apply(t, c, devclustertest.Namespace(t), append(objs, second))
	ctx := t.Context()
	routers, err := trafficrouter.New(c, typed, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routers {
		if err := r.SetWeight(ctx, trafficrouter.DesiredFor(typed, 20, "", "")); err != nil {
			t.Fatal(err)
		}
	}
	previous := typed.Spec.Strategy.Canary.TrafficRouting.DeepCopy()

	// The Rollout now uses only the first Ingress and no SMI.
	now := typed.DeepCopy()
	now.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "my-app-ingress"}}
	retired, err := trafficrouter.Retired(c, now, previous, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range retired {
		kinds = append(kinds, r.Type())
		if err := r.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(kinds, ",") != "NGINX,SMI" {
		t.Errorf("retired routers %v", kinds)
	}
	exists := func(name string) bool {
		err := c.Get(ctx, types.NamespacedName{Namespace: typed.Namespace, Name: name}, &networkingv1.Ingress{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	if !exists("my-rollout-my-app-ingress-canary") || exists("my-rollout-my-app-ingress-2-canary") {
		t.Error("Retired cleaned the wrong canary Ingress")
	}
	ts := &unstructured.Unstructured{}
	ts.SetAPIVersion("split.smi-spec.io/v1alpha1")
	ts.SetKind("TrafficSplit")
	if err := c.Get(ctx, types.NamespacedName{Namespace: typed.Namespace, Name: "my-rollout"}, ts); !apierrors.IsNotFound(err) {
		t.Errorf("the retired TrafficSplit is still there: %v", err)
	}
	if r, err := trafficrouter.Retired(c, now, now.Spec.Strategy.Canary.TrafficRouting, trafficrouter.Options{}); r != nil || err != nil {
		t.Errorf("nothing retired: %v %v", r, err)
	}
}
