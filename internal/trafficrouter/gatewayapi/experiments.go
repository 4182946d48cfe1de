package gatewayapi

import (
	"encoding/json"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// AnnotationExperimentBackends is sluice's record, on a route, of the experiment Services it
// added as backendRefs (a JSON list of Service names), so that it removes them, and only them,
// when the experiment is over.
const AnnotationExperimentBackends = "sluice.dev/experiment-backends"

func experimentBackends(route *unstructured.Unstructured) []string {
	var names []string
	if v, ok := route.GetAnnotations()[AnnotationExperimentBackends]; ok {
		_ = json.Unmarshal([]byte(v), &names) // (unreadable: none recorded)
	}
	return names
}

// recordExperimentBackends writes the annotation for d's additional destinations (removes it
// when there are none).
func recordExperimentBackends(route *unstructured.Unstructured, d contract.Desired) {
	ann := route.GetAnnotations()
	if len(d.Additional) == 0 {
		if _, ok := ann[AnnotationExperimentBackends]; ok {
			delete(ann, AnnotationExperimentBackends)
			route.SetAnnotations(ann)
		}
		return
	}
	names := make([]string, 0, len(d.Additional))
	for _, a := range d.Additional {
		names = append(names, a.ServiceName)
	}
	b, _ := json.Marshal(names)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationExperimentBackends] = string(b)
	route.SetAnnotations(ann)
}

// additionalIndex is the index in d.Additional of the Service a backendRef names, or -1.
func (c Config) additionalIndex(ref map[string]any, routeNS string, d contract.Desired) int {
	return slices.IndexFunc(d.Additional, func(a v1alpha1.WeightDestination) bool { return c.refersTo(ref, routeNS, a.ServiceName) })
}

// experimentBackendRefs makes a splitting rule's experiment backends d's: each additional
// Service gets its weight (added after the others, on the canary backend's port), and the ones
// sluice added earlier (prev) that d no longer has are removed.
func (c Config) experimentBackendRefs(rule map[string]any, routeNS string, prev []string, d contract.Desired) {
	refs := kubeobj.Slice(rule["backendRefs"])
	out := make([]any, 0, len(refs)+len(d.Additional))
	var port any
	seen := map[int]bool{}
	for _, rv := range refs {
		ref := kubeobj.Map(rv)
		if c.refersTo(ref, routeNS, d.Canary) && port == nil {
			port = ref["port"]
		}
		if i := c.additionalIndex(ref, routeNS, d); i >= 0 {
			ref["weight"] = int64(d.Additional[i].Weight)
			seen[i] = true
		} else if slices.ContainsFunc(prev, func(name string) bool { return c.refersTo(ref, routeNS, name) }) {
			continue // ours, no longer wanted
		}
		out = append(out, rv)
	}
	for i, a := range d.Additional {
		if seen[i] {
			continue
		}
		ref := map[string]any{"name": a.ServiceName, "weight": int64(a.Weight)}
		if port != nil {
			ref["port"] = runtime.DeepCopyJSONValue(port)
		}
		out = append(out, ref)
	}
	rule["backendRefs"] = out
}
