package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// This file decides the pod metadata the controller puts on ReplicaSets beyond the Rollout's
// template, as Argo does (rollout/ephemeralmetadata.go, utils/replicaset): the ephemeral labels
// and annotations of a role (canaryMetadata/stableMetadata, previewMetadata/activeMetadata) and
// the anti-affinity term against the stable version's pods (antiAffinity). Neither is part of
// the pod-template hash, which is computed from spec.template alone.

// AntiAffinityTopologyKey is the topologyKey of the anti-affinity term Argo injects.
const AntiAffinityTopologyKey = "kubernetes.io/hostname"

// RoleMetadata are the ephemeral labels and annotations one ReplicaSet should carry.
type RoleMetadata struct {
	// ReplicaSet is the ReplicaSet's name.
	ReplicaSet string
	// Metadata is what its pod template should carry; nil: nothing (what was injected before is
	// removed).
	Metadata *v1alpha1.PodTemplateMetadata
	// Pods: its live pods should carry it too (the new and the stable ReplicaSet); for the
	// others only the template is cleaned (their pods are on their way out).
	Pods bool
}

// roleMetadata returns the strategy's new-version (canary, preview) and stable-version (stable,
// active) metadata.
func roleMetadata(ro *v1alpha1.Rollout) (newMD, stableMD *v1alpha1.PodTemplateMetadata) {
	switch s := ro.Spec.Strategy; {
	case s.Canary != nil:
		return s.Canary.CanaryMetadata, s.Canary.StableMetadata
	case s.BlueGreen != nil:
		return s.BlueGreen.PreviewMetadata, s.BlueGreen.ActiveMetadata
	}
	return nil, nil
}

// HasEphemeralMetadata reports whether the Rollout asks for role metadata.
func HasEphemeralMetadata(ro *v1alpha1.Rollout) bool {
	n, s := roleMetadata(ro)
	return n != nil || s != nil
}

// EphemeralMetadata decides the role metadata of every ReplicaSet, as Argo's
// reconcileEphemeralMetadata: while an update is in progress (a stable version other than the
// new one) the new ReplicaSet carries the canary (preview) metadata and the stable one the
// stable (active) metadata; once the new version is stable, or before any version was, the new
// ReplicaSet carries the stable (active) metadata; every other ReplicaSet carries none.
// stableRS is the stable hash this pass leaves in the status, so metadata moves in the pass
// that promotes. Unlike Argo, a Rollout whose metadata was removed from the spec gets it
// removed from its ReplicaSets and pods (Argo leaves it where it was).
func EphemeralMetadata(ro *v1alpha1.Rollout, stableRS, newHash string, rss []ReplicaSet) []RoleMetadata {
	newMD, stableMD := roleMetadata(ro)
	rolledOut := stableRS == "" || stableRS == newHash
	out := make([]RoleMetadata, 0, len(rss))
	for _, rs := range rss {
		r := RoleMetadata{ReplicaSet: rs.Name}
		switch {
		case rs.Hash == newHash && rolledOut:
			r.Metadata, r.Pods = stableMD, true
		case rs.Hash == newHash:
			r.Metadata, r.Pods = newMD, true
		case rs.Hash == stableRS:
			r.Metadata, r.Pods = stableMD, true
		}
		out = append(out, r)
	}
	return out
}

// NewReplicaSetMetadata is the role metadata a ReplicaSet gets when it is created: the canary
// (preview) metadata when a stable ReplicaSet exists, else the stable (active) metadata (a first
// deploy: this version becomes the stable one).
func NewReplicaSetMetadata(ro *v1alpha1.Rollout, stableExists bool) *v1alpha1.PodTemplateMetadata {
	newMD, stableMD := roleMetadata(ro)
	if stableExists {
		return newMD
	}
	return stableMD
}

// ApplyPodMetadata returns labels and annotations with the desired metadata set and what was
// injected before (injected) but is no longer desired removed; keys neither injected nor
// desired are left alone (they belong to the template or to other controllers). changed
// reports whether anything differs. The maps passed in are not modified.
func ApplyPodMetadata(labels, annotations map[string]string, injected, desired *v1alpha1.PodTemplateMetadata) (l, a map[string]string, changed bool) {
	var il, ia, dl, da map[string]string
	if injected != nil {
		il, ia = injected.Labels, injected.Annotations
	}
	if desired != nil {
		dl, da = desired.Labels, desired.Annotations
	}
	l, c1 := applyKeys(labels, il, dl)
	a, c2 := applyKeys(annotations, ia, da)
	return l, a, c1 || c2
}

func applyKeys(cur, injected, desired map[string]string) (map[string]string, bool) {
	changed := false
	for k, v := range desired {
		if old, ok := cur[k]; !ok || old != v {
			changed = true
		}
	}
	for k := range injected {
		if _, keep := desired[k]; !keep {
			if _, ok := cur[k]; ok {
				changed = true
			}
		}
	}
	if !changed {
		return cur, false
	}
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	for k := range injected {
		if _, keep := desired[k]; !keep {
			delete(out, k)
		}
	}
	maps.Copy(out, desired)
	if len(out) == 0 {
		out = nil
	}
	return out, true
}

// antiAffinity is the strategy's antiAffinity when it sets a kind.
func antiAffinity(ro *v1alpha1.Rollout) *v1alpha1.AntiAffinity {
	var a *v1alpha1.AntiAffinity
	switch s := ro.Spec.Strategy; {
	case s.Canary != nil:
		a = s.Canary.AntiAffinity
	case s.BlueGreen != nil:
		a = s.BlueGreen.AntiAffinity
	}
	if a == nil || (a.PreferredDuringSchedulingIgnoredDuringExecution == nil && a.RequiredDuringSchedulingIgnoredDuringExecution == nil) {
		return nil
	}
	return a
}

// AntiAffinityTerm is the term Argo injects: pods of the stable version (by
// rollouts-pod-template-hash), in the Rollout's namespace, on the same node.
func AntiAffinityTerm(ro *v1alpha1.Rollout, stableRS string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: v1alpha1.LabelPodTemplateHash, Operator: metav1.LabelSelectorOpIn, Values: []string{stableRS},
		}}},
		Namespaces:  []string{ro.Namespace},
		TopologyKey: AntiAffinityTopologyKey,
	}
}

// ReplicaSetAffinity is the affinity of the pod template of the ReplicaSet with the given hash,
// as Argo's GenerateReplicaSetAffinity: the template's own affinity, plus, with antiAffinity
// and a stable version other than this one (stableRS), the anti-affinity term against the
// stable pods, appended to preferredDuringSchedulingIgnoredDuringExecution (with the weight) or
// requiredDuringSchedulingIgnoredDuringExecution.
func ReplicaSetAffinity(ro *v1alpha1.Rollout, stableRS, hash string) *corev1.Affinity {
	aff := ro.Spec.Template.Spec.Affinity.DeepCopy()
	a := antiAffinity(ro)
	if a == nil || stableRS == "" || stableRS == hash {
		return aff
	}
	term := AntiAffinityTerm(ro, stableRS)
	if aff == nil {
		aff = &corev1.Affinity{}
	}
	if aff.PodAntiAffinity == nil {
		aff.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	pa := aff.PodAntiAffinity
	if p := a.PreferredDuringSchedulingIgnoredDuringExecution; p != nil {
		pa.PreferredDuringSchedulingIgnoredDuringExecution = append(pa.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.WeightedPodAffinityTerm{Weight: p.Weight, PodAffinityTerm: term})
	} else {
		pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution, term)
	}
	return aff
}

// injectedTerm finds the injected anti-affinity term in an affinity, as Argo's
// HasInjectedAntiAffinityRule: the first term of the configured kind whose label selector has
// a rollouts-pod-template-hash requirement (-1 when none).
func injectedTerm(aff *corev1.Affinity, a *v1alpha1.AntiAffinity) (int, *corev1.PodAffinityTerm) {
	if a == nil || aff == nil || aff.PodAntiAffinity == nil {
		return -1, nil
	}
	hasHash := func(t *corev1.PodAffinityTerm) bool {
		if t.LabelSelector == nil {
			return false
		}
		for _, r := range t.LabelSelector.MatchExpressions {
			if r.Key == v1alpha1.LabelPodTemplateHash {
				return true
			}
		}
		return false
	}
	if a.PreferredDuringSchedulingIgnoredDuringExecution != nil {
		for i := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if t := &aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm; hasHash(t) {
				return i, t
			}
		}
		return -1, nil
	}
	for i := range aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if t := &aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i]; hasHash(t) {
			return i, t
		}
	}
	return -1, nil
}

// AntiAffinityStale reports whether the injected term in the pod template of the ReplicaSet
// with the given hash names another stable version than stableRS, while that ReplicaSet is not
// the stable one (Argo's IfInjectedAntiAffinityRuleNeedsUpdate): its template's affinity is
// then rewritten with ReplicaSetAffinity. A template without the term is left alone, and so is
// the term once its ReplicaSet is stable, as in Argo (it names pods that are gone).
func AntiAffinityStale(aff *corev1.Affinity, ro *v1alpha1.Rollout, stableRS, hash string) bool {
	_, t := injectedTerm(aff, antiAffinity(ro))
	if t == nil || stableRS == hash {
		return false
	}
	for _, r := range t.LabelSelector.MatchExpressions {
		if r.Key == v1alpha1.LabelPodTemplateHash && (len(r.Values) == 0 || r.Values[0] != stableRS) {
			return true
		}
	}
	return false
}

// StripInjected returns a ReplicaSet's pod template without what the controller added to the
// Rollout's: the ephemeral metadata recorded in injected, and the injected anti-affinity term
// (Argo's ReplicaSetTemplateMatchesRollout), for comparing it with spec.template.
func StripInjected(ro *v1alpha1.Rollout, tmpl *corev1.PodTemplateSpec, injected *v1alpha1.PodTemplateMetadata) *corev1.PodTemplateSpec {
	out := tmpl.DeepCopy()
	out.Labels, out.Annotations, _ = ApplyPodMetadata(out.Labels, out.Annotations, injected, nil)
	a := antiAffinity(ro)
	i, _ := injectedTerm(out.Spec.Affinity, a)
	if i < 0 {
		return out
	}
	pa := out.Spec.Affinity.PodAntiAffinity
	if a.PreferredDuringSchedulingIgnoredDuringExecution != nil {
		pa.PreferredDuringSchedulingIgnoredDuringExecution = append(pa.PreferredDuringSchedulingIgnoredDuringExecution[:i], pa.PreferredDuringSchedulingIgnoredDuringExecution[i+1:]...)
		if len(pa.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			pa.PreferredDuringSchedulingIgnoredDuringExecution = nil
		}
	} else {
		pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution[:i], pa.RequiredDuringSchedulingIgnoredDuringExecution[i+1:]...)
		if len(pa.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
			pa.RequiredDuringSchedulingIgnoredDuringExecution = nil
		}
	}
	if pa.PreferredDuringSchedulingIgnoredDuringExecution == nil && pa.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		out.Spec.Affinity.PodAntiAffinity = nil
	}
	if aff := out.Spec.Affinity; aff.PodAntiAffinity == nil && aff.PodAffinity == nil && aff.NodeAffinity == nil {
		out.Spec.Affinity = nil
	}
	return out
}

// validatePodExtras checks the strategy's antiAffinity (as Argo's
// ValidateRolloutStrategyAntiAffinity: exactly one kind, weight 1..100) and its role metadata:
// role labels must leave the selector's keys and the pod-template-hash label alone, since a pod
// whose labels no longer match its ReplicaSet's selector is orphaned and replaced, over and
// over (Argo does not check this).
func validatePodExtras(ro *v1alpha1.Rollout) []string {
	p := "spec.strategy.canary."
	var a *v1alpha1.AntiAffinity
	var names [2]string
	var mds [2]*v1alpha1.PodTemplateMetadata
	if c := ro.Spec.Strategy.Canary; c != nil {
		a, names, mds = c.AntiAffinity, [2]string{"canaryMetadata", "stableMetadata"}, [2]*v1alpha1.PodTemplateMetadata{c.CanaryMetadata, c.StableMetadata}
	} else if b := ro.Spec.Strategy.BlueGreen; b != nil {
		p = "spec.strategy.blueGreen."
		a, names, mds = b.AntiAffinity, [2]string{"previewMetadata", "activeMetadata"}, [2]*v1alpha1.PodTemplateMetadata{b.PreviewMetadata, b.ActiveMetadata}
	}
	var out []string
	if a != nil {
		pref, req := a.PreferredDuringSchedulingIgnoredDuringExecution, a.RequiredDuringSchedulingIgnoredDuringExecution
		if (pref == nil) == (req == nil) {
			out = append(out, p+"antiAffinity must set exactly one of preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution")
		}
		if pref != nil && (pref.Weight < 1 || pref.Weight > 100) {
			out = append(out, fmt.Sprintf(p+"antiAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight must be 1..100, got %d", pref.Weight))
		}
	}
	reserved := map[string]bool{v1alpha1.LabelPodTemplateHash: true}
	if sel := ro.Spec.Selector; sel != nil {
		for k := range sel.MatchLabels {
			reserved[k] = true
		}
		for _, r := range sel.MatchExpressions {
			reserved[r.Key] = true
		}
	}
	for i, md := range mds {
		if md == nil {
			continue
		}
		var bad []string
		for k := range md.Labels {
			if reserved[k] {
				bad = append(bad, k)
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			out = append(out, fmt.Sprintf(p+"%s.labels must not set %s: the ReplicaSets select pods by it", names[i], strings.Join(bad, ", ")))
		}
	}
	return out
}
