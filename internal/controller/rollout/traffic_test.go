package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/routertest"
)

// routerCase describes how to read and disturb the canary weight in one router's objects.
type routerCase struct {
	name, file string
	// weight reads the canary weight the router's objects carry (ok=false: not written yet).
	weight func(e *env) (w int32, ok bool)
	// edit sets the canary weight by hand (drift).
	edit func(e *env, w int32)
	// gateway: a fake gateway controller must accept the HTTPRoute (Verify reads it).
	gateway bool
}

func (e *env) get(gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
	e.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, u); err != nil {
		return nil
	}
	return u
}

func (e *env) update(u *unstructured.Unstructured) {
	e.t.Helper()
	if err := e.c.Update(e.t.Context(), u); err != nil {
		e.t.Fatalf("editing %s %s by hand: %v", u.GetKind(), u.GetName(), err)
	}
}

var (
	ingressGVK  = networkingv1.SchemeGroupVersion.WithKind("Ingress")
	vsGVK       = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	splitGVK    = schema.GroupVersionKind{Group: "split.smi-spec.io", Version: "v1alpha1", Kind: "TrafficSplit"}
	httpRouteGV = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
)

// destinations walks a list of maps at path inside each element of list, calling f on each.
func each(list []any, f func(m map[string]any)) {
	for _, v := range list {
		if m, ok := v.(map[string]any); ok {
			f(m)
		}
	}
}

func istioRouteWeight(match func(dest map[string]any) bool) func(e *env) (int32, bool) {
	return func(e *env) (int32, bool) {
		vs := e.get(vsGVK, "my-app")
		if vs == nil {
			return 0, false
		}
		http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
		var w int64 = -1
		each(http, func(r map[string]any) {
			if r["name"] != "primary" {
				return
			}
			routes, _ := r["route"].([]any)
			each(routes, func(d map[string]any) {
				if dest, _ := d["destination"].(map[string]any); match(dest) {
					w, _ = d["weight"].(int64)
				}
			})
		})
		return int32(w), w >= 0
	}
}

func istioEdit(match func(dest map[string]any) bool) func(e *env, w int32) {
	return func(e *env, w int32) {
		vs := e.get(vsGVK, "my-app")
		http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
		each(http, func(r map[string]any) {
			routes, _ := r["route"].([]any)
			each(routes, func(d map[string]any) {
				if dest, _ := d["destination"].(map[string]any); match(dest) {
					d["weight"] = int64(w)
				} else {
					d["weight"] = int64(100 - w)
				}
			})
		})
		_ = unstructured.SetNestedSlice(vs.Object, http, "spec", "http")
		e.update(vs)
	}
}

var routerCases = []routerCase{
	{
		name: "nginx", file: "examples/nginx/rollout.yaml",
		weight: func(e *env) (int32, bool) {
			ing := e.get(ingressGVK, "my-rollout-my-app-ingress-canary")
			if ing == nil {
				return 0, false
			}
			w, err := strconv.Atoi(ing.GetAnnotations()["nginx.ingress.kubernetes.io/canary-weight"])
			return int32(w), err == nil
		},
		edit: func(e *env, w int32) {
			ing := e.get(ingressGVK, "my-rollout-my-app-ingress-canary")
			a := ing.GetAnnotations()
			a["nginx.ingress.kubernetes.io/canary-weight"] = strconv.Itoa(int(w))
			ing.SetAnnotations(a)
			e.update(ing)
		},
	},
	{
		name: "istio-host-split", file: "examples/istio/host-split.yaml",
		weight: istioRouteWeight(func(d map[string]any) bool { return d["host"] == "my-app-canary" }),
		edit:   istioEdit(func(d map[string]any) bool { return d["host"] == "my-app-canary" }),
	},
	{
		name: "istio-subset-split", file: "examples/istio/subset-split.yaml",
		weight: istioRouteWeight(func(d map[string]any) bool { return d["subset"] == "canary" }),
		edit:   istioEdit(func(d map[string]any) bool { return d["subset"] == "canary" }),
	},
	{
		name: "smi", file: "examples/smi/rollout.yaml",
		weight: func(e *env) (int32, bool) {
			ts := e.get(splitGVK, "my-app")
			if ts == nil {
				return 0, false
			}
			backends, _, _ := unstructured.NestedSlice(ts.Object, "spec", "backends")
			var w int32 = -1
			each(backends, func(b map[string]any) {
				if b["service"] == "my-app-canary" {
					n, err := strconv.Atoi(fmt.Sprint(b["weight"]))
					if err == nil {
						w = int32(n)
					}
				}
			})
			return w, w >= 0
		},
		edit: func(e *env, w int32) {
			ts := e.get(splitGVK, "my-app")
			backends, _, _ := unstructured.NestedSlice(ts.Object, "spec", "backends")
			each(backends, func(b map[string]any) {
				if b["service"] == "my-app-canary" {
					b["weight"] = strconv.Itoa(int(w))
				} else {
					b["weight"] = strconv.Itoa(int(100 - w))
				}
			})
			_ = unstructured.SetNestedSlice(ts.Object, backends, "spec", "backends")
			e.update(ts)
		},
	},
	{
		name: "alb", file: "examples/alb/rollout.yaml",
		weight: func(e *env) (int32, bool) {
			ing := e.get(ingressGVK, "my-app-ingress")
			var action struct {
				ForwardConfig struct {
					TargetGroups []struct {
						ServiceName string
						Weight      *int64
					}
				}
			}
			if ing == nil || json.Unmarshal([]byte(ing.GetAnnotations()["alb.ingress.kubernetes.io/actions.my-app-stable"]), &action) != nil {
				return 0, false
			}
			for _, tg := range action.ForwardConfig.TargetGroups {
				if tg.ServiceName == "my-app-canary" && tg.Weight != nil {
					return int32(*tg.Weight), true
				}
			}
			return 0, len(action.ForwardConfig.TargetGroups) == 1 // only the stable: weight 0
		},
		edit: func(e *env, w int32) {
			ing := e.get(ingressGVK, "my-app-ingress")
			a := ing.GetAnnotations()
			a["alb.ingress.kubernetes.io/actions.my-app-stable"] = fmt.Sprintf(
				`{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"my-app-canary","ServicePort":"80","Weight":%d},{"ServiceName":"my-app-stable","ServicePort":"80","Weight":%d}]}}`, w, 100-w)
			ing.SetAnnotations(a)
			e.update(ing)
		},
	},
	{
		name: "gateway-api", file: "examples/gatewayapi/rollout.yaml", gateway: true,
		weight: func(e *env) (int32, bool) {
			rt := e.get(httpRouteGV, "my-app")
			if rt == nil {
				return 0, false
			}
			rules, _, _ := unstructured.NestedSlice(rt.Object, "spec", "rules")
			var w int64 = -1
			each(rules, func(r map[string]any) {
				if r["name"] != "main" {
					return
				}
				refs, _ := r["backendRefs"].([]any)
				each(refs, func(b map[string]any) {
					if b["name"] == "my-app-canary" {
						w, _ = b["weight"].(int64)
					}
				})
			})
			return int32(w), w >= 0
		},
		edit: func(e *env, w int32) {
			rt := e.get(httpRouteGV, "my-app")
			rules, _, _ := unstructured.NestedSlice(rt.Object, "spec", "rules")
			each(rules, func(r map[string]any) {
				refs, _ := r["backendRefs"].([]any)
				if len(refs) != 2 {
					return
				}
				each(refs, func(b map[string]any) {
					if b["name"] == "my-app-canary" {
						b["weight"] = int64(w)
					} else {
						b["weight"] = int64(100 - w)
					}
				})
			})
			_ = unstructured.SetNestedSlice(rt.Object, rules, "spec", "rules")
			e.update(rt)
		},
	},
}

// fakeGateway plays a Gateway API controller: it keeps the HTTPRoute Accepted by its parents
// at its current generation, so the router can verify the weight.
func fakeGateway(ctx context.Context, c client.Client, ns string) {
	for ctx.Err() == nil {
		rt := &unstructured.Unstructured{}
		rt.SetGroupVersionKind(httpRouteGV)
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "my-app"}, rt); err == nil {
			parents, _, _ := unstructured.NestedSlice(rt.Object, "spec", "parentRefs")
			var st []any
			for _, p := range parents {
				st = append(st, map[string]any{
					"parentRef": p, "controllerName": "example.com/fake-gateway",
					"conditions": []any{map[string]any{
						"type": "Accepted", "status": "True", "reason": "Accepted", "message": "accepted by the test",
						"observedGeneration": rt.GetGeneration(), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
					}},
				})
			}
			cur, _, _ := unstructured.NestedSlice(rt.Object, "status", "parents")
			if len(cur) == 0 || fmt.Sprint(cur[0].(map[string]any)["conditions"].([]any)[0].(map[string]any)["observedGeneration"]) != fmt.Sprint(rt.GetGeneration()) {
				rt.Object["status"] = map[string]any{"parents": st}
				_ = c.Status().Update(ctx, rt)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Each router, driven by the real controller: exactly 20/80, then 60/40, drift restored, abort
// back to 0/100 while the canary pods still run, then all traffic to the promoted version.
func TestTrafficRouters(t *testing.T) {
	t.Parallel()
	for _, rc := range routerCases {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			objs := routertest.Load(t, rc.file)
			for _, o := range objs {
				if o.GetKind() == "Rollout" {
					steps := []any{
						map[string]any{"setWeight": int64(20)}, map[string]any{"pause": map[string]any{}},
						map[string]any{"setWeight": int64(60)}, map[string]any{"pause": map[string]any{}},
						map[string]any{"setWeight": int64(100)},
					}
					if err := unstructured.SetNestedSlice(o.Object, steps, "spec", "strategy", "canary", "steps"); err != nil {
						t.Fatal(err)
					}
				}
			}
			if rc.gateway {
				go fakeGateway(t.Context(), e.c, e.ns)
			}
			routertest.Apply(t, e.c, e.ns, objs)
			ro := e.waitHealthy("my-rollout", time.Minute)
			stable := ro.Status.StableRS
			replicas := int(*ro.Spec.Replicas)

			e.setImage("my-rollout", "nginx:1.26")
			expectWeight := func(want int32, phase v1alpha1.RolloutPhase, step int32) {
				t.Helper()
				e.waitFor(time.Minute, func() string {
					ro = e.rollout("my-rollout")
					w, ok := rc.weight(e)
					st := ro.Status
					if !ok || w != want || st.Phase != phase || st.CurrentStepIndex == nil || *st.CurrentStepIndex != step ||
						st.Canary.Weights == nil || st.Canary.Weights.Canary.Weight != want {
						return fmt.Sprintf("want canary weight %d at step %d (%s): objects say %d (%v), phase %s %q step %v weights %+v",
							want, step, phase, w, ok, st.Phase, st.Message, st.CurrentStepIndex, st.Canary.Weights)
					}
					return ""
				})
			}
			expectWeight(20, v1alpha1.RolloutPhasePaused, 1)
			canary := ro.Status.CurrentPodHash
			_, ready := e.pods(map[string]string{"app": "my-app"})
			if ready[canary] == 0 || ready[stable] != replicas {
				t.Fatalf("at 20 %%: ready pods %s; want canary pods and a full stable", counts(ready))
			}

			rc.edit(e, 5) // someone edits the weight by hand
			expectWeight(20, v1alpha1.RolloutPhasePaused, 1)

			e.statusPatch("my-rollout", `{"status":{"pauseConditions":null}}`)
			expectWeight(60, v1alpha1.RolloutPhasePaused, 3)

			e.statusPatch("my-rollout", `{"status":{"abort":true}}`)
			e.waitFor(30*time.Second, func() string {
				if w, ok := rc.weight(e); !ok || w != 0 {
					return fmt.Sprintf("after abort the objects still give the canary %d", w)
				}
				return ""
			})
			if running, _ := e.pods(map[string]string{"app": "my-app"}); running[canary] == 0 {
				t.Fatalf("the canary pods went before the traffic was back on stable: %s", counts(running))
			}
			// The routers are written before the status in a pass: wait for the status too.
			e.waitFor(30*time.Second, func() string {
				if ro = e.rollout("my-rollout"); ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
					return fmt.Sprintf("after abort: phase %s %q", ro.Status.Phase, ro.Status.Message)
				}
				return ""
			})

			e.statusPatch("my-rollout", `{"status":{"abort":false}}`)
			e.statusPatch("my-rollout", `{"status":{"promoteFull":true}}`)
			ro = e.waitHealthy("my-rollout", time.Minute)
			if ro.Status.StableRS != canary {
				t.Fatalf("promoted %s, want %s", ro.Status.StableRS, canary)
			}
			e.waitFor(30*time.Second, func() string {
				if w, ok := rc.weight(e); ok && w != 0 {
					return fmt.Sprintf("after promotion the canary side still has weight %d", w)
				}
				if svc := e.service("my-app-stable"); svc != nil && svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] != canary {
					return "the stable Service does not select the promoted pods: " + fmt.Sprint(svc.Spec.Selector)
				}
				return ""
			})
		})
	}
}

func (e *env) service(name string) *corev1.Service {
	svc := &corev1.Service{}
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, svc); err != nil {
		return nil
	}
	return svc
}
