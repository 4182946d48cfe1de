package rollout_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// livePods are the Running, not terminating pods of a pod-template hash, by UID.
func (e *env) livePods(hash string) map[types.UID]*corev1.Pod {
	e.t.Helper()
	var list corev1.PodList
	if err := e.c.List(e.t.Context(), &list, client.InNamespace(e.ns), client.MatchingLabels{v1alpha1.LabelPodTemplateHash: hash}); err != nil {
		e.t.Fatal(err)
	}
	out := map[types.UID]*corev1.Pod{}
	for i := range list.Items {
		if p := &list.Items[i]; p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out[p.UID] = p
		}
	}
	return out
}

func (e *env) replicaSet(name string) *appsv1.ReplicaSet {
	e.t.Helper()
	rs := &appsv1.ReplicaSet{}
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, rs); err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// roleProblem says how the pods of a hash (n of them) and their ReplicaSet's template differ
// from carrying exactly the role labels and annotations want ("" = they match). absent are
// keys that must not be there (another role's).
func (e *env) roleProblem(ro, hash string, n int, want map[string]string, wantAnn map[string]string, absent ...string) string {
	pods := e.livePods(hash)
	if len(pods) != n {
		return fmt.Sprintf("%d running pods of %s, want %d", len(pods), hash, n)
	}
	check := func(what string, labels, ann map[string]string) string {
		for k, v := range want {
			if labels[k] != v {
				return fmt.Sprintf("%s: label %s=%q, want %q", what, k, labels[k], v)
			}
		}
		for k, v := range wantAnn {
			if ann[k] != v {
				return fmt.Sprintf("%s: annotation %s=%q, want %q", what, k, ann[k], v)
			}
		}
		for _, k := range absent {
			if _, ok := labels[k]; ok {
				return fmt.Sprintf("%s: label %s still there", what, k)
			}
			if _, ok := ann[k]; ok {
				return fmt.Sprintf("%s: annotation %s still there", what, k)
			}
		}
		return ""
	}
	rs := e.replicaSet(ro + "-" + hash)
	if msg := check("ReplicaSet "+rs.Name+" template", rs.Spec.Template.Labels, rs.Spec.Template.Annotations); msg != "" {
		return msg
	}
	for _, p := range pods {
		if msg := check("pod "+p.Name, p.Labels, p.Annotations); msg != "" {
			return msg
		}
	}
	return ""
}

// uids lists a hash's running pod UIDs.
func (e *env) uids(hash string) []types.UID {
	var out []types.UID
	for uid := range e.livePods(hash) {
		out = append(out, uid)
	}
	slices.Sort(out)
	return out
}

// A canary Rollout with canaryMetadata and stableMetadata: the stable pods carry role=stable,
// the canary pods role=canary (and the canary annotation) while the update runs; at promotion
// the canary pods get role=stable in place — same pods, no restart — and the canary annotation
// goes. The ReplicaSets keep the names of the plain pod-template hash, and record what they
// injected as Argo does.
func TestCanaryRoleMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ro := canaryRollout(t, "roles", 3, setWeight(34), pauseFor(""))
	ro.Spec.Strategy.Canary.CanaryMetadata = &v1alpha1.PodTemplateMetadata{
		Labels: map[string]string{"role": "canary"}, Annotations: map[string]string{"sluice.test/phase": "canary"},
	}
	ro.Spec.Strategy.Canary.StableMetadata = &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "stable"}}
	e.create(ro)
	v1 := e.waitHealthy("roles", time.Minute).Status.StableRS
	if want := plan.PodTemplateHash(&e.rollout("roles").Spec.Template, nil); v1 != want {
		t.Fatalf("first ReplicaSet hash %s, want %s (the template's alone)", v1, want)
	}
	stable := map[string]string{"role": "stable"}
	e.waitFor(time.Minute, func() string { return e.roleProblem("roles", v1, 3, stable, nil, "sluice.test/phase") })
	if got := e.replicaSet("roles-" + v1).Annotations[v1alpha1.AnnotationEphemeralMetadata]; got != `{"labels":{"role":"stable"}}` {
		t.Errorf("ephemeral-metadata annotation %q", got)
	}

	e.setImage("roles", "nginx:1.26")
	ro = e.waitPods("roles", 1, 2, v1alpha1.RolloutPhasePaused)
	v2 := ro.Status.CurrentPodHash
	if want := plan.PodTemplateHash(&ro.Spec.Template, nil); v2 != want {
		t.Fatalf("canary hash %s, want %s", v2, want)
	}
	canary := map[string]string{"role": "canary"}
	e.waitFor(time.Minute, func() string {
		if msg := e.roleProblem("roles", v2, 1, canary, map[string]string{"sluice.test/phase": "canary"}); msg != "" {
			return msg
		}
		return e.roleProblem("roles", v1, 2, stable, nil, "sluice.test/phase")
	})
	if got := e.replicaSet("roles-" + v2).Annotations[v1alpha1.AnnotationEphemeralMetadata]; got != `{"labels":{"role":"canary"},"annotations":{"sluice.test/phase":"canary"}}` {
		t.Errorf("canary ephemeral-metadata annotation %q", got)
	}
	canaryPods := e.uids(v2)

	e.statusPatch("roles", `{"status":{"pauseConditions":null}}`) // kubectl argo rollouts promote
	e.waitHealthy("roles", time.Minute)
	e.waitFor(time.Minute, func() string { return e.roleProblem("roles", v2, 3, stable, nil, "sluice.test/phase") })
	now := e.livePods(v2)
	for _, uid := range canaryPods {
		if now[uid] == nil {
			t.Fatalf("canary pod %s is gone after the promotion: role metadata must move without a restart", uid)
		}
	}
	if got := e.replicaSet("roles-" + v2).Annotations[v1alpha1.AnnotationEphemeralMetadata]; got != `{"labels":{"role":"stable"}}` {
		t.Errorf("promoted ephemeral-metadata annotation %q", got)
	}
	// The old ReplicaSet's template is cleaned (Argo: other ReplicaSets carry no role).
	e.waitFor(time.Minute, func() string {
		old := e.replicaSet("roles-" + v1)
		if _, ok := old.Annotations[v1alpha1.AnnotationEphemeralMetadata]; ok || old.Spec.Template.Labels["role"] != "" {
			return fmt.Sprintf("old ReplicaSet still has its role: %v %v", old.Annotations, old.Spec.Template.Labels)
		}
		return ""
	})
}

// The same for blue-green: the preview pods carry previewMetadata, the active ones
// activeMetadata; after promotion the new pods carry activeMetadata, without a restart.
func TestBlueGreenRoleMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	blueGreen(t, e, map[string]any{
		"previewMetadata": map[string]any{"labels": map[string]any{"role": "preview"}, "annotations": map[string]any{"sluice.test/phase": "preview"}},
		"activeMetadata":  map[string]any{"labels": map[string]any{"role": "active"}},
	})
	v1 := e.rollout("my-app").Status.StableRS
	active := map[string]string{"role": "active"}
	e.waitFor(time.Minute, func() string { return e.roleProblem("my-app", v1, 3, active, nil, "sluice.test/phase") })

	e.setImage("my-app", "nginx:1.26")
	e.waitFor(time.Minute, func() string {
		if st := e.rollout("my-app").Status; st.Phase != v1alpha1.RolloutPhasePaused {
			return fmt.Sprintf("waiting for BlueGreenPause: %s %q", st.Phase, st.Message)
		}
		return ""
	})
	v2 := e.rollout("my-app").Status.CurrentPodHash
	e.waitFor(time.Minute, func() string {
		if msg := e.roleProblem("my-app", v2, 3, map[string]string{"role": "preview"}, map[string]string{"sluice.test/phase": "preview"}); msg != "" {
			return msg
		}
		return e.roleProblem("my-app", v1, 3, active, nil, "sluice.test/phase")
	})
	preview := e.uids(v2)

	e.statusPatch("my-app", `{"status":{"pauseConditions":null}}`) // promote
	e.waitHealthy("my-app", time.Minute)
	e.waitFor(time.Minute, func() string { return e.roleProblem("my-app", v2, 3, active, nil, "sluice.test/phase") })
	if now := e.uids(v2); !slices.Equal(now, preview) {
		t.Fatalf("the preview pods were replaced at promotion: %v, then %v", preview, now)
	}
}

// antiAffinity: the new ReplicaSet's template gets the term against the stable pods exactly as
// Argo writes it (after the template's own terms), the first ReplicaSet none; the hash and so
// the ReplicaSet's name stay the template's. With required anti-affinity the canary pods land
// on other nodes than the stable ones.
func TestAntiAffinity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a    v1alpha1.AntiAffinity
	}{
		{"preferred", v1alpha1.AntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 60}}},
		{"required", v1alpha1.AntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1alpha1.RequiredDuringSchedulingIgnoredDuringExecution{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			own := corev1.WeightedPodAffinityTerm{Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey: "topology.kubernetes.io/zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"db": "x"}},
			}}
			ro := canaryRollout(t, "aa", 2, setWeight(50), pauseFor(""))
			ro.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{own},
			}}
			ro.Spec.Strategy.Canary.AntiAffinity = &tc.a
			e.create(ro)
			v1 := e.waitHealthy("aa", time.Minute).Status.StableRS
			if got := e.replicaSet("aa-" + v1).Spec.Template.Spec.Affinity; !apiequality.Semantic.DeepEqual(got, ro.Spec.Template.Spec.Affinity) {
				t.Fatalf("first ReplicaSet: affinity %+v, want the template's", got)
			}

			e.setImage("aa", "nginx:1.26")
			ro = e.waitPods("aa", 1, 1, v1alpha1.RolloutPhasePaused)
			v2 := ro.Status.CurrentPodHash
			if want := plan.PodTemplateHash(&ro.Spec.Template, nil); v2 != want {
				t.Fatalf("canary hash %s, want %s", v2, want)
			}
			term := corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: "rollouts-pod-template-hash", Operator: metav1.LabelSelectorOpIn, Values: []string{v1},
				}}},
				Namespaces:  []string{e.ns},
				TopologyKey: "kubernetes.io/hostname",
			}
			want := &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{own}}
			if tc.a.PreferredDuringSchedulingIgnoredDuringExecution != nil {
				want.PreferredDuringSchedulingIgnoredDuringExecution = append(want.PreferredDuringSchedulingIgnoredDuringExecution, corev1.WeightedPodAffinityTerm{Weight: 60, PodAffinityTerm: term})
			} else {
				want.RequiredDuringSchedulingIgnoredDuringExecution = []corev1.PodAffinityTerm{term}
			}
			if got := e.replicaSet("aa-" + v2).Spec.Template.Spec.Affinity; got == nil || !apiequality.Semantic.DeepEqual(got.PodAntiAffinity, want) || got.PodAffinity != nil || got.NodeAffinity != nil {
				t.Fatalf("canary ReplicaSet affinity:\n%+v\nwant pod anti-affinity\n%+v", got, want)
			}
			if tc.a.RequiredDuringSchedulingIgnoredDuringExecution != nil {
				stableNodes := map[string]bool{}
				for _, p := range e.livePods(v1) {
					stableNodes[p.Spec.NodeName] = true
				}
				for _, p := range e.livePods(v2) {
					if stableNodes[p.Spec.NodeName] {
						t.Fatalf("canary pod %s runs on %s beside a stable pod (nodes %v)", p.Name, p.Spec.NodeName, stableNodes)
					}
				}
			}
			// Promoted: the term stays on the (now stable) ReplicaSet, as in Argo, and its pods
			// are the canary's, not restarted for it.
			canaryPods := e.uids(v2)
			e.statusPatch("aa", `{"status":{"pauseConditions":null}}`)
			e.waitHealthy("aa", time.Minute)
			now := e.livePods(v2)
			for _, uid := range canaryPods {
				if now[uid] == nil {
					t.Fatalf("canary pod %s is gone after the promotion", uid)
				}
			}
			if got := e.replicaSet("aa-" + v2).Spec.Template.Spec.Affinity; got == nil || !strings.Contains(fmt.Sprint(got.PodAntiAffinity), v1) {
				t.Errorf("promoted ReplicaSet affinity %+v", got)
			}
		})
	}
}
