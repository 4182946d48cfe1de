package istio

import (
	"encoding/json"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// AnnotationExperimentSubsets is sluice's record, on a DestinationRule, of the subsets it added
// for a running experiment (a JSON list of subset names), so that it removes them, and only
// them, when the experiment is over.
const AnnotationExperimentSubsets = "sluice.dev/experiment-subsets"

// experimentSubsets are the subsets the annotation lists.
func experimentSubsets(dr *unstructured.Unstructured) []string {
	var names []string
	if v, ok := dr.GetAnnotations()[AnnotationExperimentSubsets]; ok {
		_ = json.Unmarshal([]byte(v), &names) // (unreadable: none recorded)
	}
	return names
}

// ExperimentSubsets returns dr with one subset per additional destination of d (subset split):
// named after the destination's Service, as Argo Rollouts names it, and selecting the pods of
// its pod-template hash (label rollouts-pod-template-hash alone). The subsets sluice added
// earlier that d no longer has are removed, unless keepOld (while the VirtualService may still
// send to them). The annotation records what sluice added. A subset of that name that sluice
// did not add is an InvalidConfigError: sluice neither takes it over nor relabels it.
func (c Config) ExperimentSubsets(dr *unstructured.Unstructured, d contract.Desired, keepOld bool) (*unstructured.Unstructured, error) {
	out := dr.DeepCopy()
	prev := experimentSubsets(out)
	subsets := kubeobj.Slice(kubeobj.Nested(out.Object, "spec", "subsets"))
	spec := c.Istio.DestinationRule
	kept := make([]any, 0, len(subsets)+len(d.Additional))
	var record []string
	for _, v := range subsets {
		name := routeName(v)
		i := slices.IndexFunc(d.Additional, func(a v1alpha1.WeightDestination) bool { return a.ServiceName == name })
		switch {
		case i >= 0 && !slices.Contains(prev, name), i >= 0 && (name == spec.CanarySubsetName || name == spec.StableSubsetName):
			return nil, contract.Invalidf(Type, "DestinationRule %q already has a subset %q, which sluice did not add; the experiment's subset is named after its Service %q: rename that subset",
				out.GetName(), name, name)
		case i >= 0:
			continue // re-added below with the current hash
		case slices.Contains(prev, name) && !keepOld:
			continue // ours, no longer wanted
		case slices.Contains(prev, name):
			record = append(record, name)
		}
		kept = append(kept, v)
	}
	for _, a := range d.Additional {
		if a.PodTemplateHash == "" {
			return nil, fmt.Errorf("experiment destination %q has no pod-template hash yet, so no DestinationRule subset can select its pods", a.ServiceName)
		}
		kept = append(kept, map[string]any{"name": a.ServiceName, "labels": map[string]any{v1alpha1.LabelPodTemplateHash: a.PodTemplateHash}})
		record = append(record, a.ServiceName)
	}
	if len(subsets) > 0 || len(kept) > 0 {
		kubeobj.SetNested(out.Object, kept, "spec", "subsets")
	}
	setExperimentSubsets(out, record)
	return out, nil
}

// setExperimentSubsets writes the annotation (removes it when names is empty).
func setExperimentSubsets(dr *unstructured.Unstructured, names []string) {
	ann := dr.GetAnnotations()
	if len(names) == 0 {
		if _, ok := ann[AnnotationExperimentSubsets]; ok {
			delete(ann, AnnotationExperimentSubsets)
			if len(ann) == 0 {
				ann = nil
			}
			dr.SetAnnotations(ann)
		}
		return
	}
	b, _ := json.Marshal(names)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationExperimentSubsets] = string(b)
	dr.SetAnnotations(ann)
}
