package smi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
	"github.com/sluicehq/sluice/internal/trafficrouter/smi"
)

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{CRDs: []devcluster.CRDSet{devcluster.CRDsSMI}}))
}

const example = "examples/smi/rollout.yaml"

func setup(t *testing.T, version string) (client.Client, *v1alpha1.Rollout, trafficrouter.Router) {
	t.Helper()
	c := routertest.Client(t)
	ro := routertest.Apply(t, c, devclustertest.Namespace(t), routertest.Load(t, example))
	routers, err := trafficrouter.New(c, ro, trafficrouter.Options{SMIAPIVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	if len(routers) != 1 || routers[0].Type() != smi.Type {
		t.Fatalf("routers %v", routers)
	}
	return c, ro, routers[0]
}

func getSplit(ctx context.Context, c client.Client, ns, version string) (*unstructured.Unstructured, error) {
	u := kubeobj.New(schema.GroupVersionKind{Group: smi.Group, Version: version, Kind: smi.Kind})
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "my-app"}, u)
	return u, err
}

func backendWeights(ts *unstructured.Unstructured) (map[string]int32, error) {
	out := map[string]int32{}
	for _, b := range kubeobj.Slice(kubeobj.Nested(ts.Object, "spec", "backends")) {
		bm := kubeobj.Map(b)
		w, ok := kubeobj.Int64(bm["weight"])
		if !ok {
			return nil, fmt.Errorf("weight %v", bm["weight"])
		}
		out[kubeobj.String(bm, "service")] = int32(w)
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, version := range []string{smi.V1alpha1, smi.V1alpha2, smi.V1alpha3} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			routertest.Run(t, func(t *testing.T) *routertest.Case {
				t.Helper()
				c, ro, r := setup(t, version)
				return &routertest.Case{
					Client: c, Rollout: ro, Router: r,
					Applied:    trafficrouter.VerificationUnknown,
					Additional: true,
					Weights: func(ctx context.Context) (int32, int32, error) {
						ts, err := getSplit(ctx, c, ro.Namespace, version)
						if err != nil {
							return 0, 0, err
						}
						w, err := backendWeights(ts)
						return w["my-app-canary"], w["my-app-stable"], err
					},
					EditWeight: func(ctx context.Context, w int32) error {
						ts, err := getSplit(ctx, c, ro.Namespace, version)
						if err != nil {
							return err
						}
						var cw, sw any = int64(w), int64(100 - w)
						if version == smi.V1alpha1 {
							cw, sw = fmt.Sprint(w), fmt.Sprint(100-w)
						}
						_ = unstructured.SetNestedSlice(ts.Object, []any{
							map[string]any{"service": "my-app-canary", "weight": cw},
							map[string]any{"service": "my-app-stable", "weight": sw},
						}, "spec", "backends")
						return c.Update(ctx, ts)
					},
					Break: func(ctx context.Context) error {
						// A TrafficSplit of that name that the Rollout does not own.
						ts := kubeobj.New(schema.GroupVersionKind{Group: smi.Group, Version: version, Kind: smi.Kind})
						ts.SetName("my-app")
						ts.SetNamespace(ro.Namespace)
						ts.Object["spec"] = map[string]any{"service": "my-app", "backends": []any{map[string]any{"service": "x", "weight": "1"}}}
						if version != smi.V1alpha1 {
							ts.Object["spec"].(map[string]any)["backends"] = []any{map[string]any{"service": "x", "weight": int64(1)}}
						}
						return c.Create(ctx, ts)
					},
					BreakMessage: "Rollout does not own TrafficSplit `my-app`",
				}
			})
		})
	}
}

// The walk-through of docs/traffic-routing.md.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	c, ro, r := setup(t, "")
	ctx := t.Context()
	if err := r.SetWeight(ctx, trafficrouter.DesiredFor(ro, 20, "", "")); err != nil {
		t.Fatal(err)
	}
	routertest.ExpectObjects(t, c, ro.Namespace, "examples/smi/trafficsplit-at-20.yaml")
	for _, w := range []int32{60, 100, 0} {
		if err := r.SetWeight(ctx, trafficrouter.DesiredFor(ro, w, "", "")); err != nil {
			t.Fatal(err)
		}
		ts, err := getSplit(ctx, c, ro.Namespace, smi.V1alpha1)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := backendWeights(ts); got["my-app-canary"] != w || got["my-app-stable"] != 100-w {
			t.Fatalf("weights %v, want %d/%d", got, w, 100-w)
		}
	}
	// An experiment destination takes its share from the stable.
	d := trafficrouter.DesiredFor(ro, 20, "", "")
	d.Additional = []v1alpha1.WeightDestination{{ServiceName: "my-app-exp", Weight: 10}}
	if err := r.SetWeight(ctx, d); err != nil {
		t.Fatal(err)
	}
	ts, err := getSplit(ctx, c, ro.Namespace, smi.V1alpha3)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := backendWeights(ts); got["my-app-canary"] != 20 || got["my-app-exp"] != 10 || got["my-app-stable"] != 70 {
		t.Fatalf("weights with an experiment %v", got)
	}
	if !metav1.IsControlledBy(ts, ro) {
		t.Error("the TrafficSplit is not controlled by the Rollout")
	}
	if err := r.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := getSplit(ctx, c, ro.Namespace, smi.V1alpha1); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("TrafficSplit after Cleanup: %v", err)
	}
}

// Without --traffic-split-api-version, the TrafficSplit is written at the newest version the
// cluster serves: this cluster serves v1alpha1 to v1alpha3, so v1alpha3 (integer weights), not
// Argo Rollouts' default v1alpha1 (quantities).
func TestDiscoveredVersion(t *testing.T) {
	t.Parallel()
	c, ro, r := setup(t, "")
	ctx := t.Context()
	if err := r.SetWeight(ctx, trafficrouter.DesiredFor(ro, 20, "", "")); err != nil {
		t.Fatal(err)
	}
	ts, err := getSplit(ctx, c, ro.Namespace, smi.V1alpha3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ts.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"backends":[{"service":"my-app-canary","weight":20},{"service":"my-app-stable","weight":80}],"service":"my-app"}`; string(b) != want {
		t.Errorf("TrafficSplit spec %s, want %s (written at v1alpha3)", b, want)
	}
	if v, err := r.Verify(ctx, trafficrouter.DesiredFor(ro, 20, "", "")); err != nil || v.State != trafficrouter.VerificationUnknown {
		t.Errorf("Verify = %+v, %v", v, err)
	}
}
