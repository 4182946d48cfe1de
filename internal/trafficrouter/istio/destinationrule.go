package istio

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// DestinationRule returns dr with the canary and stable subsets labelled with the hashes (an
// empty hash leaves that label as it is) and annotated as managed by the Rollout.
func (c Config) DestinationRule(dr *unstructured.Unstructured, canaryHash, stableHash string) (*unstructured.Unstructured, error) {
	spec := c.Istio.DestinationRule
	out := dr.DeepCopy()
	subsets := kubeobj.Slice(kubeobj.Nested(out.Object, "spec", "subsets"))
	for _, s := range []struct{ which, name, hash string }{
		{"canarySubsetName", spec.CanarySubsetName, canaryHash},
		{"stableSubsetName", spec.StableSubsetName, stableHash},
	} {
		i := slices.IndexFunc(subsets, func(v any) bool { return routeName(v) == s.name })
		if i < 0 {
			names := make([]string, 0, len(subsets))
			for _, v := range subsets {
				names = append(names, fmt.Sprintf("%q", routeName(v)))
			}
			return nil, contract.Invalidf(Type, "DestinationRule %q has no subset %q (trafficRouting.istio.destinationRule.%s); its subsets: %s",
				out.GetName(), s.name, s.which, orNone(names))
		}
		if s.hash == "" {
			continue
		}
		subset := kubeobj.Map(subsets[i])
		labels := kubeobj.Map(subset["labels"])
		if labels == nil {
			labels = map[string]any{}
			subset["labels"] = labels
		}
		labels[v1alpha1.LabelPodTemplateHash] = s.hash
	}
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[v1alpha1.AnnotationManagedByRollouts] = c.Rollout
	out.SetAnnotations(ann)
	return out, nil
}

// CleanDestinationRule returns dr without the hash labels of the canary and stable subsets,
// without the experiment subsets sluice added and without sluice's annotations, if this Rollout
// manages it; else dr unchanged.
func (c Config) CleanDestinationRule(dr *unstructured.Unstructured) *unstructured.Unstructured {
	out := dr.DeepCopy()
	ann := out.GetAnnotations()
	if ann[v1alpha1.AnnotationManagedByRollouts] != c.Rollout {
		return out
	}
	if len(experimentSubsets(out)) > 0 {
		if cleaned, err := c.ExperimentSubsets(out, contract.Desired{}, false); err == nil {
			out = cleaned
			ann = out.GetAnnotations()
		}
	}
	spec := c.Istio.DestinationRule
	for _, v := range kubeobj.Slice(kubeobj.Nested(out.Object, "spec", "subsets")) {
		subset := kubeobj.Map(v)
		if n := routeName(subset); n != spec.CanarySubsetName && n != spec.StableSubsetName {
			continue
		}
		if labels := kubeobj.Map(subset["labels"]); labels != nil {
			delete(labels, v1alpha1.LabelPodTemplateHash)
			if len(labels) == 0 {
				delete(subset, "labels")
			}
		}
	}
	delete(ann, v1alpha1.AnnotationManagedByRollouts)
	if len(ann) == 0 {
		ann = nil
	}
	out.SetAnnotations(ann)
	return out
}

// subsetHashes returns the hash labels of the canary and stable subsets.
func (c Config) subsetHashes(dr *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, v := range kubeobj.Slice(kubeobj.Nested(dr.Object, "spec", "subsets")) {
		subset := kubeobj.Map(v)
		if h, ok := kubeobj.Map(subset["labels"])[v1alpha1.LabelPodTemplateHash].(string); ok {
			out[routeName(subset)] = h
		}
	}
	return out
}
