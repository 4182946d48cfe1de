package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Router is the Gateway API router of one Rollout.
type Router struct {
	c   client.Client
	cfg Config
}

var _ contract.Router = (*Router)(nil)

// New builds the router of a Rollout whose trafficRouting.plugins["argoproj-labs/gatewayAPI"]
// is set; streamVersion is the TCPRoute/TLSRoute version when chosen explicitly ("" = the
// newest version the cluster serves, looked up at every call through the client's RESTMapper,
// as for the other route kinds).
func New(c client.Client, ro *v1alpha1.Rollout, streamVersion string) (*Router, error) {
	if err := CheckStreamVersion(streamVersion); err != nil {
		return nil, err
	}
	cfg, err := ConfigFor(ro, streamVersion)
	if err != nil {
		return nil, err
	}
	return &Router{c: c, cfg: cfg}, nil
}

// Type implements contract.Router.
func (r *Router) Type() string { return Type }

// gvk is the version of a route kind to use. A kind the cluster does not serve is an
// InvalidConfigError.
func (r *Router) gvk(kind string) (schema.GroupVersionKind, error) {
	return API(kind, r.cfg.StreamVersion).ResolveFor(r.c, Type)
}

func (r *Router) key(rt Route) types.NamespacedName {
	return types.NamespacedName{Namespace: r.cfg.RouteNamespace(), Name: rt.Name}
}

// mutate applies change to each route selected by which; missingOK skips routes that do not
// exist, or whose kind the cluster does not serve (else they are an InvalidConfigError).
func (r *Router) mutate(ctx context.Context, which func(Route) bool, missingOK bool,
	change func(*unstructured.Unstructured) (*unstructured.Unstructured, error)) error {
	var errs []error
	for _, rt := range r.cfg.Plugin.Routes() {
		if !which(rt) {
			continue
		}
		key := r.key(rt)
		gvk, err := API(rt.Kind, r.cfg.StreamVersion).Resolve(r.c.RESTMapper())
		if err == nil {
			_, err = kubeobj.Mutate(ctx, r.c, gvk, key, change)
		}
		switch {
		case err == nil:
		case (apierrors.IsNotFound(err) || kubeobj.IsNotServed(err)) && missingOK:
		case apierrors.IsNotFound(err):
			return contract.Invalidf(Type, "%s `%s` not found in namespace %s", rt.Kind, key.Name, key.Namespace)
		case kubeobj.IsNotServed(err):
			return contract.Invalidf(Type, "%v", err)
		default:
			if _, ok := contract.AsInvalidConfig(err); ok || errors.Is(err, contract.ErrUnsupported) {
				return err
			}
			errs = append(errs, fmt.Errorf("updating %s %s/%s: %w", rt.Kind, key.Namespace, key.Name, err))
		}
	}
	return errors.Join(errs...)
}

func all(Route) bool { return true }

func withHeaderRoutes(rt Route) bool { return rt.UseHeaderRoutes && headerKinds(rt.Kind) }

// SetWeight sets the weights on every route.
func (r *Router) SetWeight(ctx context.Context, d contract.Desired) error {
	if err := d.Check(); err != nil {
		return err
	}
	return r.mutate(ctx, all, false, func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return r.cfg.Route(u, d)
	})
}

// requireHeaderRoutes fails when no configured route takes header and mirror routes.
func (r *Router) requireHeaderRoutes(step string) error {
	if slices.ContainsFunc(r.cfg.Plugin.Routes(), withHeaderRoutes) {
		return nil
	}
	return contract.Invalidf(Type, "%s needs an HTTPRoute or GRPCRoute with useHeaderRoutes: true in trafficRouting.plugins[%q] (httpRoute, singular, implies it)", step, PluginName)
}

// SetHeaderRoute puts (or removes) the header rules in the routes with useHeaderRoutes.
func (r *Router) SetHeaderRoute(ctx context.Context, hr contract.HeaderRoute) error {
	if err := r.requireHeaderRoutes("setHeaderRoute"); err != nil {
		return err
	}
	return r.mutate(ctx, withHeaderRoutes, false, func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return r.cfg.WithHeaderRoute(u, hr)
	})
}

// SetMirrorRoute puts (or removes) the mirror rule in the HTTPRoutes with useHeaderRoutes.
func (r *Router) SetMirrorRoute(ctx context.Context, mr contract.MirrorRoute) error {
	if err := r.requireHeaderRoutes("setMirrorRoute"); err != nil {
		return err
	}
	return r.mutate(ctx, func(rt Route) bool { return withHeaderRoutes(rt) && rt.Kind == KindHTTPRoute }, false,
		func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
			return r.cfg.WithMirrorRoute(u, mr)
		})
}

// RemoveManagedRoutes removes the header and mirror rules from every route.
func (r *Router) RemoveManagedRoutes(ctx context.Context) error {
	if len(r.cfg.ManagedRoutes) == 0 {
		return nil
	}
	return r.mutate(ctx, all, false, func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return r.cfg.WithoutManagedRoutes(u), nil
	})
}

// UpdateHash has nothing to do: Gateway API reaches the pods through the Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// Verify reports Verified only when every route carries the split d and every parent in its
// status reports Accepted=True for the route's current generation.
func (r *Router) Verify(ctx context.Context, d contract.Desired) (contract.Verification, error) {
	var vs []contract.Verification
	for _, rt := range r.cfg.Plugin.Routes() {
		key := r.key(rt)
		gvk, err := r.gvk(rt.Kind)
		if err != nil {
			return contract.Verification{}, err
		}
		cur, found, err := kubeobj.Get(ctx, r.c, gvk, key)
		if err != nil {
			return contract.Verification{}, err
		}
		if !found {
			return contract.Verification{}, contract.Invalidf(Type, "%s `%s` not found in namespace %s", rt.Kind, key.Name, key.Namespace)
		}
		want, err := r.cfg.Route(cur, d)
		if err != nil {
			return contract.Verification{}, err
		}
		if !kubeobj.EqualJSON(cur.Object, want.Object) {
			vs = append(vs, contract.NotVerifiedf("%s %s does not carry canary weight %d/%d yet", rt.Kind, key.Name, d.Weight, d.TotalWeight()))
			continue
		}
		vs = append(vs, acceptance(cur))
	}
	return contract.Combine(vs...), nil
}

// Cleanup removes the managed rules, sets the canary weight to 0 on the rules that reference
// both Services and removes the in-progress label; missing routes are skipped.
func (r *Router) Cleanup(ctx context.Context) error {
	d := contract.Desired{Services: r.cfg.Services, Total: r.cfg.Total}
	return r.mutate(ctx, all, true, func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		out := r.cfg.WithoutManagedRoutes(u)
		if back, err := r.cfg.Route(out, d); err == nil {
			out = back
		}
		return out, nil
	})
}

// Objects lists the routes the router changes.
func Objects(ro *v1alpha1.Rollout) []contract.ObjectRef {
	cfg, err := ConfigFor(ro, "")
	if err != nil {
		return nil
	}
	refs := make([]contract.ObjectRef, 0, len(cfg.Plugin.Routes()))
	for _, rt := range cfg.Plugin.Routes() {
		refs = append(refs, contract.ObjectRef{Group: Group, Kind: rt.Kind, Namespace: cfg.RouteNamespace(), Name: rt.Name})
	}
	return refs
}
