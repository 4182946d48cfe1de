package plan

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func md(labels ...string) *v1alpha1.PodTemplateMetadata {
	m := &v1alpha1.PodTemplateMetadata{Labels: map[string]string{}}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Labels[labels[i]] = labels[i+1]
	}
	return m
}

// Argo's roles: during an update the new ReplicaSet has the canary (preview) metadata and the
// stable one the stable (active) metadata; once promoted, or on a first deploy, the new one
// has the stable metadata; older ReplicaSets have none (template only, not their pods).
func TestEphemeralMetadataRoles(t *testing.T) {
	canary, stable := md("role", "canary"), md("role", "stable")
	ro := rollout(3, setWeight(50))
	ro.Spec.Strategy.Canary.CanaryMetadata, ro.Spec.Strategy.Canary.StableMetadata = canary, stable
	preview, active := md("role", "preview"), md("role", "active")
	bg := blueGreenRollout(3, func(b *v1alpha1.BlueGreenStrategy) { b.PreviewMetadata, b.ActiveMetadata = preview, active })
	rss := []ReplicaSet{{Name: "ro-old", Hash: "old"}, {Name: "ro-s", Hash: "s"}, {Name: "ro-n", Hash: "n"}}
	type want struct {
		md   *v1alpha1.PodTemplateMetadata
		pods bool
	}
	for _, tc := range []struct {
		name   string
		ro     *v1alpha1.Rollout
		stable string
		want   map[string]want
	}{
		{"canary update", ro, "s", map[string]want{"ro-old": {nil, false}, "ro-s": {stable, true}, "ro-n": {canary, true}}},
		{"canary promoted", ro, "n", map[string]want{"ro-old": {nil, false}, "ro-s": {nil, false}, "ro-n": {stable, true}}},
		{"first deploy", ro, "", map[string]want{"ro-old": {nil, false}, "ro-s": {nil, false}, "ro-n": {stable, true}}},
		{"blue-green update", bg, "s", map[string]want{"ro-old": {nil, false}, "ro-s": {active, true}, "ro-n": {preview, true}}},
		{"blue-green promoted", bg, "n", map[string]want{"ro-old": {nil, false}, "ro-s": {nil, false}, "ro-n": {active, true}}},
	} {
		got := EphemeralMetadata(tc.ro, tc.stable, "n", rss)
		if len(got) != len(rss) {
			t.Fatalf("%s: %d decisions", tc.name, len(got))
		}
		for _, d := range got {
			if w := tc.want[d.ReplicaSet]; d.Metadata != w.md || d.Pods != w.pods {
				t.Errorf("%s: %s gets %+v (pods %v), want %+v (pods %v)", tc.name, d.ReplicaSet, d.Metadata, d.Pods, w.md, w.pods)
			}
		}
	}
	if NewReplicaSetMetadata(ro, true) != canary || NewReplicaSetMetadata(ro, false) != stable ||
		NewReplicaSetMetadata(bg, true) != preview || NewReplicaSetMetadata(bg, false) != active {
		t.Error("a new ReplicaSet gets the canary (preview) metadata beside a stable one, else the stable (active) metadata")
	}
	if HasEphemeralMetadata(rollout(3)) || !HasEphemeralMetadata(ro) || !HasEphemeralMetadata(bg) {
		t.Error("HasEphemeralMetadata")
	}
}

// Moving a pod from one role to the other: the desired keys are set, the keys injected before
// and no longer desired removed, everything else (the template's, other controllers') kept.
func TestApplyPodMetadata(t *testing.T) {
	labels := map[string]string{"app": "a", "role": "canary", "tier": "canary", "istio": "x"}
	ann := map[string]string{"note": "canary", "keep": "me"}
	injected := &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "canary", "tier": "canary"}, Annotations: map[string]string{"note": "canary"}}
	desired := &v1alpha1.PodTemplateMetadata{Labels: map[string]string{"role": "stable"}, Annotations: map[string]string{"extra": "1"}}
	l, a, changed := ApplyPodMetadata(labels, ann, injected, desired)
	if !changed || !reflect.DeepEqual(l, map[string]string{"app": "a", "role": "stable", "istio": "x"}) ||
		!reflect.DeepEqual(a, map[string]string{"keep": "me", "extra": "1"}) {
		t.Fatalf("got %v %v changed %v", l, a, changed)
	}
	if labels["role"] != "canary" || ann["note"] != "canary" {
		t.Fatal("the inputs were modified")
	}
	if _, _, changed := ApplyPodMetadata(l, a, desired, desired); changed {
		t.Fatal("in sync, yet changed")
	}
	// Nothing desired any more: what was injected goes, nothing else.
	l2, a2, changed := ApplyPodMetadata(l, a, desired, nil)
	if !changed || !reflect.DeepEqual(l2, map[string]string{"app": "a", "istio": "x"}) || !reflect.DeepEqual(a2, map[string]string{"keep": "me"}) {
		t.Fatalf("removal: %v %v %v", l2, a2, changed)
	}
	// A key the template has and nothing injected is not removed.
	if l3, _, changed := ApplyPodMetadata(map[string]string{"role": "x"}, nil, nil, nil); changed || l3["role"] != "x" {
		t.Fatal("a key that was not injected was touched")
	}
}

// The anti-affinity term exactly as Argo's GenerateReplicaSetAffinity writes it: a
// rollouts-pod-template-hash In [stable] selector, the Rollout's namespace, topology
// kubernetes.io/hostname; weighted when preferred; appended after the template's own terms;
// only while a stable version other than this one exists.
func TestReplicaSetAffinity(t *testing.T) {
	own := corev1.PodAffinityTerm{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"db": "x"}}}
	ro := rollout(3)
	ro.Namespace = "ns1"
	ro.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 5, PodAffinityTerm: own}},
	}}
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "rollouts-pod-template-hash", Operator: "In", Values: []string{"s"}}}},
		Namespaces:    []string{"ns1"},
		TopologyKey:   "kubernetes.io/hostname",
	}
	if got := ReplicaSetAffinity(ro, "s", "n"); !apiequality.Semantic.DeepEqual(got, ro.Spec.Template.Spec.Affinity) || got == ro.Spec.Template.Spec.Affinity {
		t.Fatalf("without antiAffinity: the template's affinity, copied: %+v", got)
	}

	ro.Spec.Strategy.Canary.AntiAffinity = &v1alpha1.AntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 80}}
	got := ReplicaSetAffinity(ro, "s", "n")
	want := []corev1.WeightedPodAffinityTerm{{Weight: 5, PodAffinityTerm: own}, {Weight: 80, PodAffinityTerm: term}}
	if !apiequality.Semantic.DeepEqual(got.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, want) || got.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		t.Fatalf("preferred: %+v", got.PodAntiAffinity)
	}
	if len(ro.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatal("the Rollout's template was modified")
	}
	for _, stable := range []string{"", "n"} {
		if g := ReplicaSetAffinity(ro, stable, "n"); len(g.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
			t.Errorf("stable %q: the term is injected only beside another stable version", stable)
		}
	}
	// Stripping gives the template back; a term naming an older stable is stale.
	tmpl := ro.Spec.Template.CorePodTemplateSpec()
	tmpl.Spec.Affinity = got
	if s := StripInjected(ro, &tmpl, nil); !apiequality.Semantic.DeepEqual(s.Spec.Affinity, ro.Spec.Template.Spec.Affinity) {
		t.Fatalf("stripped: %+v", s.Spec.Affinity)
	}
	if AntiAffinityStale(got, ro, "s", "n") || !AntiAffinityStale(got, ro, "s2", "n") || AntiAffinityStale(got, ro, "n", "n") {
		t.Fatal("AntiAffinityStale: only when the term names another stable than the current one, while not stable itself")
	}

	ro.Spec.Strategy.Canary.AntiAffinity = &v1alpha1.AntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1alpha1.RequiredDuringSchedulingIgnoredDuringExecution{}}
	ro.Spec.Template.Spec.Affinity = nil
	got = ReplicaSetAffinity(ro, "s", "n")
	if got.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution != nil ||
		!apiequality.Semantic.DeepEqual(got.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, []corev1.PodAffinityTerm{term}) ||
		got.PodAffinity != nil || got.NodeAffinity != nil {
		t.Fatalf("required: %+v", got)
	}
	tmpl = ro.Spec.Template.CorePodTemplateSpec()
	tmpl.Spec.Affinity = got
	tmpl.Labels["role"] = "canary"
	if s := StripInjected(ro, &tmpl, md("role", "canary")); s.Spec.Affinity != nil || s.Labels["role"] != "" || s.Labels["app"] != "demo" {
		t.Fatalf("stripped: %+v %v", s.Spec.Affinity, s.Labels)
	}
}

// Blue-green's antiAffinity is read from spec.strategy.blueGreen.
func TestReplicaSetAffinityBlueGreen(t *testing.T) {
	bg := blueGreenRollout(3, func(b *v1alpha1.BlueGreenStrategy) {
		b.AntiAffinity = &v1alpha1.AntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1alpha1.RequiredDuringSchedulingIgnoredDuringExecution{}}
	})
	got := ReplicaSetAffinity(bg, "active", "preview")
	if got == nil || len(got.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 ||
		got.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchExpressions[0].Values[0] != "active" {
		t.Fatalf("blue-green: %+v", got)
	}
}

func TestValidatePodExtras(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*v1alpha1.CanaryStrategy)
		want string
	}{
		{"ok", func(c *v1alpha1.CanaryStrategy) {
			c.CanaryMetadata, c.StableMetadata = md("role", "canary"), md("role", "stable")
			c.AntiAffinity = &v1alpha1.AntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 100}}
		}, ""},
		{"no kind", func(c *v1alpha1.CanaryStrategy) { c.AntiAffinity = &v1alpha1.AntiAffinity{} }, "antiAffinity must set exactly one"},
		{"both kinds", func(c *v1alpha1.CanaryStrategy) {
			c.AntiAffinity = &v1alpha1.AntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 1},
				RequiredDuringSchedulingIgnoredDuringExecution:  &v1alpha1.RequiredDuringSchedulingIgnoredDuringExecution{},
			}
		}, "antiAffinity must set exactly one"},
		{"weight", func(c *v1alpha1.CanaryStrategy) {
			c.AntiAffinity = &v1alpha1.AntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: &v1alpha1.PreferredDuringSchedulingIgnoredDuringExecution{Weight: 101}}
		}, "weight must be 1..100, got 101"},
		{"selector label", func(c *v1alpha1.CanaryStrategy) { c.StableMetadata = md("app", "other") }, "spec.strategy.canary.stableMetadata.labels must not set app"},
		{"hash label", func(c *v1alpha1.CanaryStrategy) { c.CanaryMetadata = md(v1alpha1.LabelPodTemplateHash, "x") }, "canaryMetadata.labels must not set rollouts-pod-template-hash"},
	} {
		ro := rollout(3)
		tc.mod(ro.Spec.Strategy.Canary)
		got := strings.Join(ValidateAll(ro), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	bg := blueGreenRollout(3, func(b *v1alpha1.BlueGreenStrategy) {
		b.PreviewMetadata = md("role", "preview")
		b.ActiveMetadata = md("app", "x")
		b.AntiAffinity = &v1alpha1.AntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1alpha1.RequiredDuringSchedulingIgnoredDuringExecution{}}
	})
	if got := ValidateAll(bg); len(got) != 1 || got[0] != "spec.strategy.blueGreen.activeMetadata.labels must not set app: the ReplicaSets select pods by it" {
		t.Errorf("blue-green: %q", got)
	}
}
