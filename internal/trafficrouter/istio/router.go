package istio

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Router is the Istio router of one Rollout.
type Router struct {
	c   client.Client
	cfg Config
	// keepDR: Cleanup leaves the DestinationRule alone (it is still in use).
	keepDR bool
}

var _ contract.Router = (*Router)(nil)

// New builds the router of a Rollout whose trafficRouting.istio is set; apiVersion is the
// VirtualService/DestinationRule version when chosen explicitly ("" = the newest version the
// cluster serves, looked up at every call through the client's RESTMapper).
func New(c client.Client, ro *v1alpha1.Rollout, apiVersion string) (*Router, error) {
	if err := API(KindVirtualService, apiVersion).CheckVersion(); err != nil {
		return nil, err
	}
	cfg := ConfigFor(ro, apiVersion)
	if len(cfg.VirtualServices()) == 0 && cfg.Istio.DestinationRule == nil {
		return nil, contract.Invalidf(Type, "trafficRouting.istio must set virtualService or virtualServices")
	}
	return &Router{c: c, cfg: cfg}, nil
}

// WithoutDestinationRuleCleanup returns a copy of the router whose Cleanup leaves the
// DestinationRule as it is (for a VirtualService the Rollout stopped using while it keeps the
// DestinationRule).
func (r *Router) WithoutDestinationRuleCleanup() *Router {
	out := *r
	out.keepDR = true
	return &out
}

// Type implements contract.Router.
func (r *Router) Type() string { return Type }

func (r *Router) vsKey(ref v1alpha1.IstioVirtualService) types.NamespacedName {
	return kubeobj.SplitName(ref.Name, r.cfg.Namespace)
}

func (r *Router) drKey() types.NamespacedName {
	return kubeobj.SplitName(r.cfg.Istio.DestinationRule.Name, r.cfg.Namespace)
}

// gvk is the version of kind to use: the explicit one, else the newest the cluster serves. A
// kind the cluster does not serve is an InvalidConfigError.
func (r *Router) gvk(kind string) (schema.GroupVersionKind, error) {
	return API(kind, r.cfg.APIVersion).ResolveFor(r.c, Type)
}

// mutateVS applies change to every VirtualService; a missing one is an InvalidConfigError.
func (r *Router) mutateVS(ctx context.Context, change func(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService) (*unstructured.Unstructured, error)) error {
	gvk, err := r.gvk(KindVirtualService)
	if err != nil {
		return err
	}
	for _, ref := range r.cfg.VirtualServices() {
		key := r.vsKey(ref)
		_, err := kubeobj.Mutate(ctx, r.c, gvk, key, func(vs *unstructured.Unstructured) (*unstructured.Unstructured, error) {
			return change(vs, ref)
		})
		if apierrors.IsNotFound(err) {
			return contract.Invalidf(Type, "VirtualService `%s` not found in namespace %s", key.Name, key.Namespace)
		}
		if err != nil {
			if _, ok := contract.AsInvalidConfig(err); ok {
				return err
			}
			return fmt.Errorf("updating VirtualService %s/%s: %w", key.Namespace, key.Name, err)
		}
	}
	return nil
}

// SetWeight sets the weights on the selected routes of every VirtualService (and on the
// mirror routes sluice manages).
func (r *Router) SetWeight(ctx context.Context, d contract.Desired) error {
	if err := d.Check(); err != nil {
		return err
	}
	subsets := r.cfg.Istio.DestinationRule != nil
	// Subset split: the experiment's subsets exist before a route sends to them, and the old
	// ones go only once no route does.
	if subsets && len(d.Additional) > 0 {
		if err := r.mutateDR(ctx, func(dr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
			return r.cfg.ExperimentSubsets(dr, d, true)
		}); err != nil {
			return err
		}
	}
	if err := r.mutateVS(ctx, func(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService) (*unstructured.Unstructured, error) {
		return r.cfg.VirtualService(vs, ref, d)
	}); err != nil || !subsets {
		return err
	}
	return r.mutateDR(ctx, func(dr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return r.cfg.ExperimentSubsets(dr, d, false)
	})
}

// mutateDR applies change to the DestinationRule; a missing one is an InvalidConfigError.
func (r *Router) mutateDR(ctx context.Context, change func(dr *unstructured.Unstructured) (*unstructured.Unstructured, error)) error {
	key := r.drKey()
	gvk, err := r.gvk(KindDestinationRule)
	if err != nil {
		return err
	}
	_, err = kubeobj.Mutate(ctx, r.c, gvk, key, change)
	if apierrors.IsNotFound(err) {
		return contract.Invalidf(Type, "DestinationRule `%s` not found in namespace %s", key.Name, key.Namespace)
	}
	if err != nil {
		if _, ok := contract.AsInvalidConfig(err); ok {
			return err
		}
		return fmt.Errorf("updating DestinationRule %s: %w", key.Name, err)
	}
	return nil
}

// SetHeaderRoute puts (or removes) the header route in every VirtualService.
func (r *Router) SetHeaderRoute(ctx context.Context, hr contract.HeaderRoute) error {
	return r.mutateVS(ctx, func(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService) (*unstructured.Unstructured, error) {
		return r.cfg.WithHeaderRoute(vs, ref, hr)
	})
}

// SetMirrorRoute puts (or removes) the mirror route in every VirtualService.
func (r *Router) SetMirrorRoute(ctx context.Context, mr contract.MirrorRoute) error {
	return r.mutateVS(ctx, func(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService) (*unstructured.Unstructured, error) {
		return r.cfg.WithMirrorRoute(vs, ref, mr)
	})
}

// RemoveManagedRoutes removes the managed routes from every VirtualService.
func (r *Router) RemoveManagedRoutes(ctx context.Context) error {
	if len(r.cfg.ManagedRoutes) == 0 {
		return nil
	}
	return r.mutateVS(ctx, func(vs *unstructured.Unstructured, _ v1alpha1.IstioVirtualService) (*unstructured.Unstructured, error) {
		return r.cfg.WithoutManagedRoutes(vs), nil
	})
}

// UpdateHash labels the DestinationRule's canary and stable subsets (subset-level split only).
func (r *Router) UpdateHash(ctx context.Context, canaryHash, stableHash string) error {
	if r.cfg.Istio.DestinationRule == nil {
		return nil
	}
	return r.mutateDR(ctx, func(dr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return r.cfg.DestinationRule(dr, canaryHash, stableHash)
	})
}

// Verify reports NotVerified when a VirtualService (or the DestinationRule's subset hashes)
// differs from the split d. When they match, it reads Istio's Reconciled condition (written
// by istiod with status distribution on): True for the current generation → Verified, False →
// NotVerified, absent or older → Unknown.
func (r *Router) Verify(ctx context.Context, d contract.Desired) (contract.Verification, error) {
	var vs []contract.Verification
	vsGVK, err := r.gvk(KindVirtualService)
	if err != nil {
		return contract.Verification{}, err
	}
	for _, ref := range r.cfg.VirtualServices() {
		key := r.vsKey(ref)
		cur, found, err := kubeobj.Get(ctx, r.c, vsGVK, key)
		if err != nil {
			return contract.Verification{}, err
		}
		if !found {
			return contract.Verification{}, contract.Invalidf(Type, "VirtualService `%s` not found in namespace %s", key.Name, key.Namespace)
		}
		want, err := r.cfg.VirtualService(cur, ref, d)
		if err != nil {
			return contract.Verification{}, err
		}
		vs = append(vs, objectVerification("VirtualService", cur, kubeobj.EqualJSON(cur.Object, want.Object), d))
	}
	if dr := r.cfg.Istio.DestinationRule; dr != nil {
		drGVK, err := r.gvk(KindDestinationRule)
		if err != nil {
			return contract.Verification{}, err
		}
		cur, found, err := kubeobj.Get(ctx, r.c, drGVK, r.drKey())
		if err != nil {
			return contract.Verification{}, err
		}
		if !found {
			return contract.Verification{}, contract.Invalidf(Type, "DestinationRule `%s` not found in namespace %s", r.drKey().Name, r.drKey().Namespace)
		}
		hashes := r.cfg.subsetHashes(cur)
		switch {
		case d.CanaryHash != "" && hashes[dr.CanarySubsetName] != d.CanaryHash:
			vs = append(vs, contract.NotVerifiedf("DestinationRule %s subset %s selects hash %q, want %q", cur.GetName(), dr.CanarySubsetName, hashes[dr.CanarySubsetName], d.CanaryHash))
		case d.StableHash != "" && hashes[dr.StableSubsetName] != d.StableHash:
			vs = append(vs, contract.NotVerifiedf("DestinationRule %s subset %s selects hash %q, want %q", cur.GetName(), dr.StableSubsetName, hashes[dr.StableSubsetName], d.StableHash))
		}
		for _, a := range d.Additional {
			if hashes[a.ServiceName] != a.PodTemplateHash {
				vs = append(vs, contract.NotVerifiedf("DestinationRule %s has no subset %s selecting the experiment's hash %q yet", cur.GetName(), a.ServiceName, a.PodTemplateHash))
			}
		}
	}
	return contract.Combine(vs...), nil
}

func objectVerification(kind string, cur *unstructured.Unstructured, applied bool, d contract.Desired) contract.Verification {
	if !applied {
		return contract.NotVerifiedf("%s %s does not carry canary weight %d/%d yet", kind, cur.GetName(), d.Weight, d.TotalWeight())
	}
	ok, known, msg := reconciled(cur)
	switch {
	case !known:
		return contract.Unknown("%s %s carries canary weight %d/%d; Istio reports no Reconciled condition for generation %d (istiod status distribution is off)",
			kind, cur.GetName(), d.Weight, d.TotalWeight(), cur.GetGeneration())
	case !ok:
		return contract.NotVerifiedf("istiod reports %s %s not reconciled: %s", kind, cur.GetName(), msg)
	}
	return contract.VerifiedBecause("istiod reports %s %s reconciled at generation %d", kind, cur.GetName(), cur.GetGeneration())
}

// Cleanup removes the managed routes, sends every selected route's traffic back to the stable
// (canary weight 0, without the experiment destinations sluice added) and removes the
// DestinationRule's hash labels, the experiment subsets sluice added and its annotations.
// Objects, routes or destinations that are gone are skipped.
func (r *Router) Cleanup(ctx context.Context) error {
	var errs []error
	vsGVK, err := API(KindVirtualService, r.cfg.APIVersion).Resolve(r.c.RESTMapper())
	switch {
	case kubeobj.IsNotServed(err): // no VirtualService can exist: nothing to undo
	case err != nil:
		errs = append(errs, err)
	default:
		for _, ref := range r.cfg.VirtualServices() {
			key := r.vsKey(ref)
			_, err := kubeobj.Mutate(ctx, r.c, vsGVK, key, func(vs *unstructured.Unstructured) (*unstructured.Unstructured, error) {
				out := r.cfg.WithoutManagedRoutes(vs)
				if back, err := r.cfg.allStable(out, ref); err == nil {
					out = back
				}
				return out, nil
			})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("cleaning VirtualService %s/%s: %w", key.Namespace, key.Name, err))
			}
		}
	}
	if r.cfg.Istio.DestinationRule != nil && !r.keepDR {
		drGVK, err := API(KindDestinationRule, r.cfg.APIVersion).Resolve(r.c.RESTMapper())
		if err == nil {
			_, err = kubeobj.Mutate(ctx, r.c, drGVK, r.drKey(), func(dr *unstructured.Unstructured) (*unstructured.Unstructured, error) {
				return r.cfg.CleanDestinationRule(dr), nil
			})
		}
		if err != nil && !apierrors.IsNotFound(err) && !kubeobj.IsNotServed(err) {
			errs = append(errs, fmt.Errorf("cleaning DestinationRule %s: %w", r.drKey().Name, err))
		}
	}
	return errors.Join(errs...)
}

// allStable sets canary weight 0 on the selected routes.
func (c Config) allStable(vs *unstructured.Unstructured, ref v1alpha1.IstioVirtualService) (*unstructured.Unstructured, error) {
	return c.VirtualService(vs, ref, contract.Desired{Services: c.Services})
}

// Objects lists the VirtualServices and the DestinationRule the router reads and changes.
func Objects(ro *v1alpha1.Rollout) []contract.ObjectRef {
	cfg := ConfigFor(ro, "")
	var refs []contract.ObjectRef
	for _, ref := range cfg.VirtualServices() {
		key := kubeobj.SplitName(ref.Name, ro.Namespace)
		refs = append(refs, contract.ObjectRef{Group: Group, Kind: KindVirtualService, Namespace: key.Namespace, Name: key.Name})
	}
	if dr := cfg.Istio.DestinationRule; dr != nil {
		key := kubeobj.SplitName(dr.Name, ro.Namespace)
		refs = append(refs, contract.ObjectRef{Group: Group, Kind: KindDestinationRule, Namespace: key.Namespace, Name: key.Name})
	}
	return refs
}
