package smi

import (
	"maps"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Type is the router's name.
const Type = "SMI"

// Group is the TrafficSplit API group.
const Group = "split.smi-spec.io"

// Kind is the TrafficSplit kind.
const Kind = "TrafficSplit"

// The TrafficSplit versions the router can write.
const (
	V1alpha1 = "v1alpha1"
	V1alpha2 = "v1alpha2"
	V1alpha3 = "v1alpha3"
)

// APIVersions are the TrafficSplit versions the router can write. Without an explicit version
// (the controller's --traffic-split-api-version, whose default in Argo Rollouts is v1alpha1)
// the router writes the newest one the cluster serves.
var APIVersions = []string{V1alpha3, V1alpha2, V1alpha1}

// APIVersionFlag is the controller flag that picks the version explicitly.
const APIVersionFlag = "--traffic-split-api-version"

// API is the TrafficSplit kind with how its version is chosen: version when set, else the
// newest of APIVersions the cluster serves.
func API(version string) kubeobj.API {
	return kubeobj.API{GroupKind: schema.GroupKind{Group: Group, Kind: Kind}, Known: APIVersions, Version: version, Flag: APIVersionFlag}
}

// Config is what the router takes from the Rollout and the controller options.
type Config struct {
	// Rollout and Namespace are the Rollout's name and namespace.
	Rollout, Namespace string
	// SMI is spec.strategy.canary.trafficRouting.smi.
	SMI v1alpha1.SMITrafficRouting
	// APIVersion is the TrafficSplit version. ConfigFor leaves it as chosen explicitly ("" =
	// the newest the cluster serves); the router fills in the version it resolved before it
	// calls Spec or TrafficSplit.
	APIVersion string
}

// ConfigFor reads the Config of a Rollout whose trafficRouting.smi is set.
func ConfigFor(ro *v1alpha1.Rollout, apiVersion string) (Config, error) {
	if err := API(apiVersion).CheckVersion(); err != nil {
		return Config{}, err
	}
	return Config{Rollout: ro.Name, Namespace: ro.Namespace, SMI: *ro.Spec.Strategy.Canary.TrafficRouting.SMI, APIVersion: apiVersion}, nil
}

// Name is the TrafficSplit's name: trafficSplitName, or the Rollout's name.
func (c Config) Name() string {
	if c.SMI.TrafficSplitName != "" {
		return c.SMI.TrafficSplitName
	}
	return c.Rollout
}

// GVK is the TrafficSplit kind at the configured version.
func (c Config) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: Group, Version: c.APIVersion, Kind: Kind}
}

// weight encodes a weight for the version: v1alpha1 weights are quantities ("20"), later
// versions integers.
func (c Config) weight(w int32) any {
	if c.APIVersion == V1alpha1 {
		return resource.NewQuantity(int64(w), resource.DecimalExponent).String()
	}
	return int64(w)
}

// Spec is the TrafficSplit spec for the split d: service = rootService (default stableService),
// backends canary, the additional destinations, then stable.
func Spec(cfg Config, d contract.Desired) map[string]any {
	root := cfg.SMI.RootService
	if root == "" {
		root = d.Stable
	}
	backends := make([]any, 0, len(d.Additional)+2)
	backends = append(backends, map[string]any{"service": d.Canary, "weight": cfg.weight(d.Weight)})
	for _, a := range d.Additional {
		backends = append(backends, map[string]any{"service": a.ServiceName, "weight": cfg.weight(a.Weight)})
	}
	backends = append(backends, map[string]any{"service": d.Stable, "weight": cfg.weight(d.StableWeight())})
	return map[string]any{"service": root, "backends": backends}
}

// TrafficSplit returns current (nil: a new object) changed to carry the split d: spec.service
// and spec.backends are replaced, everything else (v1alpha3 matches, labels, annotations) kept.
func TrafficSplit(current *unstructured.Unstructured, cfg Config, d contract.Desired) *unstructured.Unstructured {
	var out *unstructured.Unstructured
	if current == nil {
		out = kubeobj.New(cfg.GVK())
		out.SetName(cfg.Name())
		out.SetNamespace(cfg.Namespace)
	} else {
		out = current.DeepCopy()
	}
	spec := kubeobj.Map(out.Object["spec"])
	if spec == nil {
		spec = map[string]any{}
	}
	maps.Copy(spec, Spec(cfg, d))
	out.Object["spec"] = spec
	return out
}
