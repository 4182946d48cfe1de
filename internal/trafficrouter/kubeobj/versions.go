package kubeobj

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// API is a kind a router reads and writes, and how its version is chosen.
type API struct {
	schema.GroupKind
	// Known are the versions the router can use, whatever their order.
	Known []string
	// Version, when set, is an explicit choice (a controller flag) that wins over discovery.
	Version string
	// Flag names the controller flag that sets Version, for messages ("" when there is none).
	Flag string
}

// NotServedError says that the cluster does not serve an API at a version sluice can use: its
// CustomResourceDefinition is not installed, the explicitly chosen version is not served, or no
// served version is one sluice knows.
type NotServedError struct {
	API API
	// Served are the versions the cluster serves (none when the kind is not served at all).
	Served []string
}

func (e *NotServedError) Error() string {
	a := e.API
	what := fmt.Sprintf("%s (%s)", a.Kind, a.Group)
	switch {
	case len(e.Served) == 0:
		return fmt.Sprintf("this cluster does not serve %s: its CustomResourceDefinition is not installed. Install it; sluice finds it at the next reconcile, without a restart", what)
	case a.Version != "":
		msg := fmt.Sprintf("this cluster serves %s at %s, not at %s", what, strings.Join(e.Served, ", "), a.Version)
		if a.Flag != "" {
			msg += fmt.Sprintf(" as the controller's %s asks; leave %s unset to use the version the cluster serves", a.Flag, a.Flag)
		}
		return msg
	}
	return fmt.Sprintf("this cluster serves %s only at %s, which sluice cannot use (it knows %s)", what, strings.Join(e.Served, ", "), strings.Join(sortNewestFirst(a.Known), ", "))
}

// IsNotServed reports whether err is (or wraps) a *NotServedError.
func IsNotServed(err error) bool {
	_, ok := errors.AsType[*NotServedError](err)
	return ok
}

// CheckVersion returns an error when a's explicit Version is set and is not one of Known.
func (a API) CheckVersion() error {
	if a.Version == "" || slices.Contains(a.Known, a.Version) {
		return nil
	}
	what := a.Flag
	if what == "" {
		what = "the version"
	}
	return fmt.Errorf("%s: unknown %s version %q (known: %s)", what, a.Kind, a.Version, strings.Join(sortNewestFirst(a.Known), ", "))
}

// Resolve returns the GroupVersionKind to read and write a at. An explicit Version wins (it must
// be served). Otherwise it is the cluster's preferred version of the kind (for a
// CustomResourceDefinition, the newest served version) when sluice knows it, else the newest
// served version among Known. A kind the cluster does not serve at a usable version is a
// *NotServedError; discovery failures are returned as they are.
func (a API) Resolve(mapper meta.RESTMapper) (schema.GroupVersionKind, error) {
	if err := a.CheckVersion(); err != nil {
		return schema.GroupVersionKind{}, err
	}
	mappings, err := mapper.RESTMappings(a.GroupKind)
	if err != nil && !meta.IsNoMatchError(err) {
		return schema.GroupVersionKind{}, fmt.Errorf("discovering the versions of %s: %w", a.GroupKind, err)
	}
	var served []string
	for _, m := range mappings {
		if v := m.GroupVersionKind.Version; !slices.Contains(served, v) {
			served = append(served, v)
		}
	}
	served = sortNewestFirst(served)
	gvk := a.WithVersion
	if len(served) == 0 {
		return schema.GroupVersionKind{}, &NotServedError{API: a}
	}
	if a.Version != "" {
		if slices.Contains(served, a.Version) {
			return gvk(a.Version), nil
		}
		return schema.GroupVersionKind{}, &NotServedError{API: a, Served: served}
	}
	if m, err := mapper.RESTMapping(a.GroupKind); err == nil && slices.Contains(a.Known, m.GroupVersionKind.Version) {
		return gvk(m.GroupVersionKind.Version), nil
	}
	for _, v := range served {
		if slices.Contains(a.Known, v) {
			return gvk(v), nil
		}
	}
	return schema.GroupVersionKind{}, &NotServedError{API: a, Served: served}
}

// ResolveFor is Resolve with the client's RESTMapper, and a *NotServedError turned into an
// *contract.InvalidConfigError of the router routerType (the Rollout needs an API the cluster
// does not offer: an InvalidSpec condition, not a transient error).
func (a API) ResolveFor(c client.Client, routerType string) (schema.GroupVersionKind, error) {
	gvk, err := a.Resolve(c.RESTMapper())
	if ns, ok := errors.AsType[*NotServedError](err); ok {
		return gvk, contract.Invalidf(routerType, "%s", ns.Error())
	}
	return gvk, err
}

// sortNewestFirst returns the versions ordered as Kubernetes ranks them (v2, v1, v1beta2,
// v1beta1, v1alpha1, …).
func sortNewestFirst(versions []string) []string {
	out := slices.Clone(versions)
	slices.SortStableFunc(out, func(a, b string) int { return version.CompareKubeAwareVersionStrings(b, a) })
	return out
}
