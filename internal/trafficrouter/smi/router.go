package smi

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Router is the SMI router of one Rollout.
type Router struct {
	c   client.Client
	ro  *v1alpha1.Rollout
	cfg Config
}

var _ contract.Router = (*Router)(nil)

// New builds the router of a Rollout whose trafficRouting.smi is set, writing TrafficSplits
// at apiVersion when it is chosen explicitly, else at the newest version the cluster serves
// (looked up at every call through the client's RESTMapper).
func New(c client.Client, ro *v1alpha1.Rollout, apiVersion string) (*Router, error) {
	cfg, err := ConfigFor(ro, apiVersion)
	if err != nil {
		return nil, err
	}
	return &Router{c: c, ro: ro, cfg: cfg}, nil
}

// Type implements contract.Router.
func (r *Router) Type() string { return Type }

func (r *Router) key() types.NamespacedName {
	return types.NamespacedName{Namespace: r.cfg.Namespace, Name: r.cfg.Name()}
}

// resolved returns the Config with the version to write: the explicit one, else the newest
// the cluster serves. A cluster without the TrafficSplit API is an InvalidConfigError.
func (r *Router) resolved() (Config, error) {
	gvk, err := API(r.cfg.APIVersion).ResolveFor(r.c, Type)
	if err != nil {
		return Config{}, err
	}
	cfg := r.cfg
	cfg.APIVersion = gvk.Version
	return cfg, nil
}

// get reads the TrafficSplit: nil if absent, an InvalidConfigError if the Rollout does not own it.
func (r *Router) get(ctx context.Context, cfg Config) (*unstructured.Unstructured, error) {
	cur, found, err := kubeobj.Get(ctx, r.c, cfg.GVK(), r.key())
	if err != nil {
		return nil, fmt.Errorf("reading TrafficSplit %s: %w", r.cfg.Name(), err)
	}
	if !found {
		return nil, nil
	}
	if !metav1.IsControlledBy(cur, r.ro) {
		return nil, contract.Invalidf(Type, "Rollout does not own TrafficSplit `%s`: sluice creates and owns the TrafficSplit named by trafficRouting.smi.trafficSplitName (default: the Rollout's name); delete the existing one or choose another trafficSplitName", r.cfg.Name())
	}
	return cur, nil
}

// SetWeight creates or updates the TrafficSplit.
func (r *Router) SetWeight(ctx context.Context, d contract.Desired) error {
	if err := d.Check(); err != nil {
		return err
	}
	cfg, err := r.resolved()
	if err != nil {
		return err
	}
	cur, err := r.get(ctx, cfg)
	if err != nil {
		return err
	}
	if cur == nil {
		ts := TrafficSplit(nil, cfg, d)
		ts.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(r.ro, v1alpha1.GroupVersion.WithKind(v1alpha1.RolloutKind))})
		if err := r.c.Create(ctx, ts, kubeobj.FieldOwner); err != nil {
			return fmt.Errorf("creating TrafficSplit %s: %w", r.cfg.Name(), err)
		}
		return nil
	}
	_, err = kubeobj.Mutate(ctx, r.c, cfg.GVK(), r.key(), func(cur *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		if !metav1.IsControlledBy(cur, r.ro) {
			return nil, contract.Invalidf(Type, "Rollout does not own TrafficSplit `%s`", r.cfg.Name())
		}
		return TrafficSplit(cur, cfg, d), nil
	})
	if err != nil {
		return fmt.Errorf("updating TrafficSplit %s: %w", r.cfg.Name(), err)
	}
	return nil
}

// SetHeaderRoute is not supported.
func (r *Router) SetHeaderRoute(context.Context, contract.HeaderRoute) error {
	return contract.Unsupported(Type, "setHeaderRoute")
}

// SetMirrorRoute is not supported.
func (r *Router) SetMirrorRoute(context.Context, contract.MirrorRoute) error {
	return contract.Unsupported(Type, "setMirrorRoute")
}

// RemoveManagedRoutes has nothing to remove.
func (r *Router) RemoveManagedRoutes(context.Context) error { return nil }

// UpdateHash has nothing to do: SMI reaches the pods through the Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// Verify reports NotVerified when the TrafficSplit is missing or differs, else Unknown: SMI
// defines no status.
func (r *Router) Verify(ctx context.Context, d contract.Desired) (contract.Verification, error) {
	cfg, err := r.resolved()
	if err != nil {
		return contract.Verification{}, err
	}
	cur, err := r.get(ctx, cfg)
	if err != nil {
		return contract.Verification{}, err
	}
	if cur == nil {
		return contract.NotVerifiedf("TrafficSplit %s does not exist yet", r.cfg.Name()), nil
	}
	if !kubeobj.EqualJSON(cur.Object, TrafficSplit(cur, cfg, d).Object) {
		return contract.NotVerifiedf("TrafficSplit %s does not carry canary weight %d/%d yet", r.cfg.Name(), d.Weight, d.TotalWeight()), nil
	}
	return contract.Unknown("TrafficSplit %s carries canary weight %d/%d; SMI defines no status that confirms it", r.cfg.Name(), d.Weight, d.TotalWeight()), nil
}

// Cleanup deletes the TrafficSplit if this Rollout owns it (nothing to do on a cluster without
// the TrafficSplit API).
func (r *Router) Cleanup(ctx context.Context) error {
	gvk, err := API(r.cfg.APIVersion).Resolve(r.c.RESTMapper())
	if kubeobj.IsNotServed(err) {
		return nil
	}
	if err != nil {
		return err
	}
	cur, found, err := kubeobj.Get(ctx, r.c, gvk, r.key())
	if err != nil || !found || !metav1.IsControlledBy(cur, r.ro) {
		return err
	}
	uid := cur.GetUID()
	if err := r.c.Delete(ctx, cur, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting TrafficSplit %s: %w", r.cfg.Name(), err)
	}
	return nil
}

// Objects lists the TrafficSplit the router owns.
func Objects(ro *v1alpha1.Rollout) []contract.ObjectRef {
	cfg := Config{Rollout: ro.Name, Namespace: ro.Namespace, SMI: *ro.Spec.Strategy.Canary.TrafficRouting.SMI}
	return []contract.ObjectRef{{Group: Group, Kind: Kind, Namespace: ro.Namespace, Name: cfg.Name(), Owned: true}}
}
