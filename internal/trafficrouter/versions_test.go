package trafficrouter_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/istio"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := (trafficrouter.Options{}).Validate(); err != nil {
		t.Errorf("no explicit version: %v", err)
	}
	if err := (trafficrouter.Options{SMIAPIVersion: "v1alpha2", IstioAPIVersion: "v1beta1", GatewayAPIStreamVersion: "v1alpha2"}).Validate(); err != nil {
		t.Errorf("known versions: %v", err)
	}
	err := trafficrouter.Options{IstioAPIVersion: "v2", GatewayAPIStreamVersion: "v1alpha3"}.Validate()
	for _, want := range []string{`--istio-api-version: unknown VirtualService version "v2" (known: v1, v1beta1, v1alpha3)`, `--gateway-api-stream-version: unknown TCPRoute version "v1alpha3"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q", err, want)
		}
	}
}

// The watches use the versions the cluster serves: this cluster serves TrafficSplit at
// v1alpha1, v1alpha2 and v1alpha3, and no Gateway API.
func TestKindsAreTheServedVersions(t *testing.T) {
	t.Parallel()
	c := routertest.Client(t)
	kinds, skipped := trafficrouter.Kinds(c.RESTMapper(), trafficrouter.Options{})
	got := fmt.Sprint(kinds)
	for _, want := range []string{"networking.k8s.io/v1, Kind=Ingress", "split.smi-spec.io/v1alpha3, Kind=TrafficSplit"} {
		if !strings.Contains(got, want) {
			t.Errorf("Kinds = %s, lacks %s", got, want)
		}
	}
	if strings.Contains(got, "HTTPRoute") || !strings.Contains(fmt.Sprint(skipped), "this cluster does not serve HTTPRoute (gateway.networking.k8s.io): its CustomResourceDefinition is not installed") {
		t.Errorf("Kinds = %s, skipped %v: HTTPRoute is not served here", got, skipped)
	}
	kinds, _ = trafficrouter.Kinds(c.RESTMapper(), trafficrouter.Options{SMIAPIVersion: "v1alpha1"})
	if !strings.Contains(fmt.Sprint(kinds), "split.smi-spec.io/v1alpha1, Kind=TrafficSplit") {
		t.Errorf("the explicit SMI version is not the watched one: %s", kinds)
	}
}

// A Rollout whose router API is not installed gets a clear InvalidSpec message; once the CRD
// is installed (here Istio's as an Istio before 1.22 serves it: v1beta1 and v1alpha3, no v1),
// the same router, with the same client, writes the weights without a restart.
func TestRouterAPIInstalledLater(t *testing.T) {
	t.Parallel()
	c := routertest.Client(t)
	ns := devclustertest.Namespace(t)
	objs := routertest.Load(t, "examples/istio/host-split.yaml")
	vs := routertest.Find(t, objs, istio.KindVirtualService, "my-app").DeepCopy()
	var others []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != istio.KindVirtualService {
			others = append(others, o)
		}
	}
	ro := routertest.Apply(t, c, ns, others)
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := routers[0]
	ctx := t.Context()
	d := trafficrouter.DesiredFor(ro, 20, "", "")
	err = r.SetWeight(ctx, d)
	if ic, ok := trafficrouter.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, "this cluster does not serve VirtualService (networking.istio.io): its CustomResourceDefinition is not installed") {
		t.Fatalf("SetWeight without the Istio CRDs = %v, want an InvalidConfigError saying the CRD is not installed", err)
	}

	routertest.InstallCRDs(t, c, routertest.LegacyIstioCRDs(t))
	vs.SetAPIVersion("networking.istio.io/v1beta1")
	vs.SetNamespace(ns)
	devclustertest.Eventually(t, 30*time.Second, func() string {
		if err := c.Create(ctx, vs.DeepCopy()); err != nil {
			return fmt.Sprintf("creating the VirtualService at v1beta1: %v", err)
		}
		return ""
	})
	devclustertest.Eventually(t, 30*time.Second, func() string {
		if err := r.SetWeight(ctx, d); err != nil {
			return fmt.Sprintf("SetWeight after installing the CRDs: %v", err)
		}
		return ""
	})
	got, _, err := kubeobj.Get(ctx, c, schema.GroupVersionKind{Group: istio.Group, Version: "v1beta1", Kind: istio.KindVirtualService}, types.NamespacedName{Namespace: ns, Name: "my-app"})
	if err != nil {
		t.Fatal(err)
	}
	if w := primaryWeights(got); w != "my-app-stable=80 my-app-canary=20" {
		t.Errorf("primary route: %s, want my-app-stable=80 my-app-canary=20", w)
	}
	kinds, _ := trafficrouter.Kinds(c.RESTMapper(), trafficrouter.Options{})
	if !strings.Contains(fmt.Sprint(kinds), "networking.istio.io/v1beta1, Kind=VirtualService") {
		t.Errorf("Kinds after the install: %s", kinds)
	}
}

func primaryWeights(vs *unstructured.Unstructured) string {
	var out []string
	for _, r := range kubeobj.Slice(kubeobj.Nested(vs.Object, "spec", "http")) {
		if kubeobj.String(kubeobj.Map(r), "name") != "primary" {
			continue
		}
		for _, d := range kubeobj.Slice(kubeobj.Map(r)["route"]) {
			w, _ := kubeobj.Int64(kubeobj.Map(d)["weight"])
			out = append(out, fmt.Sprintf("%s=%d", kubeobj.String(kubeobj.Map(kubeobj.Map(d)["destination"]), "host"), w))
		}
	}
	return strings.Join(out, " ")
}
