package istio

import (
	"encoding/json"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// AnnotationExperimentHosts is sluice's record, on a VirtualService, of the experiment
// destinations it added to the weighted routes (a JSON list of Service names: the destinations'
// hosts with a host split, their subsets with a subset split, named after the Services), so
// that it removes them, and only them, when the experiment is over.
const AnnotationExperimentHosts = "sluice.dev/experiment-destinations"

// experimentHosts are the Services the annotation lists.
func experimentHosts(vs *unstructured.Unstructured) []string {
	var hosts []string
	if v, ok := vs.GetAnnotations()[AnnotationExperimentHosts]; ok {
		_ = json.Unmarshal([]byte(v), &hosts) // (unreadable: none recorded)
	}
	return hosts
}

// recordExperimentHosts writes the annotation for d's additional destinations (removes it when
// there are none).
func recordExperimentHosts(vs *unstructured.Unstructured, d contract.Desired) {
	ann := vs.GetAnnotations()
	if len(d.Additional) == 0 {
		if _, ok := ann[AnnotationExperimentHosts]; ok {
			delete(ann, AnnotationExperimentHosts)
			vs.SetAnnotations(ann)
		}
		return
	}
	hosts := make([]string, 0, len(d.Additional))
	for _, a := range d.Additional {
		hosts = append(hosts, a.ServiceName)
	}
	b, _ := json.Marshal(hosts)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationExperimentHosts] = string(b)
	vs.SetAnnotations(ann)
}

// experimentKey is what names an experiment destination: its subset with a subset split (a
// DestinationRule), else its host's first label.
func (c Config) experimentKey(dest map[string]any) string {
	inner := kubeobj.Map(dest["destination"])
	if c.Istio.DestinationRule != nil {
		return kubeobj.String(inner, "subset")
	}
	host, _, _ := strings.Cut(kubeobj.String(inner, "host"), ".")
	return host
}

// isExperiment: the destination is one of d's additional (experiment) destinations.
func (c Config) isExperiment(dest map[string]any, d contract.Desired) bool {
	h := c.experimentKey(dest)
	return h != "" && slices.ContainsFunc(d.Additional, func(a v1alpha1.WeightDestination) bool { return a.ServiceName == h })
}

// experimentDestinations makes a route's experiment destinations d's: each additional Service
// gets its weight (added after the others, on the canary destination's port), and the ones
// sluice added earlier (prev) that d no longer has are removed. With a subset split the
// destination is the canary destination's host (the DestinationRule's) with the subset named
// after the Service (see ExperimentSubsets).
func (c Config) experimentDestinations(route map[string]any, prev []string, d contract.Desired) {
	dests := kubeobj.Slice(route["route"])
	out := make([]any, 0, len(dests)+len(d.Additional))
	var port, host any
	seen := map[string]bool{}
	for _, dv := range dests {
		dest := kubeobj.Map(dv)
		h := c.experimentKey(dest)
		if c.roleOf(dest, d.Services) == roleCanary && host == nil {
			port = kubeobj.Map(dest["destination"])["port"]
			host = kubeobj.Map(dest["destination"])["host"]
		}
		if i := slices.IndexFunc(d.Additional, func(a v1alpha1.WeightDestination) bool { return a.ServiceName == h }); i >= 0 && h != "" {
			dest["weight"] = int64(d.Additional[i].Weight)
			seen[h] = true
		} else if h != "" && slices.Contains(prev, h) {
			continue // ours, no longer wanted
		}
		out = append(out, dv)
	}
	for _, a := range d.Additional {
		if seen[a.ServiceName] {
			continue
		}
		inner := map[string]any{"host": a.ServiceName}
		if c.Istio.DestinationRule != nil {
			inner = map[string]any{"host": host, "subset": a.ServiceName}
		}
		if port != nil {
			inner["port"] = runtime.DeepCopyJSONValue(port)
		}
		out = append(out, map[string]any{"destination": inner, "weight": int64(a.Weight)})
	}
	route["route"] = out
}
