package alb

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Router is the ALB router of one Rollout.
type Router struct {
	c   client.Client
	cfg Config
}

var _ contract.Router = (*Router)(nil)

// New builds the router of a Rollout whose trafficRouting.alb is set.
func New(c client.Client, ro *v1alpha1.Rollout) (*Router, error) {
	cfg := ConfigFor(ro)
	if len(cfg.Ingresses()) == 0 {
		return nil, contract.Invalidf(Type, "trafficRouting.alb must set ingress or ingresses")
	}
	return &Router{c: c, cfg: cfg}, nil
}

// Type implements contract.Router.
func (r *Router) Type() string { return Type }

// mutate applies change to every Ingress (merge patch with optimistic locking, retried on
// conflicts, skipped when nothing changes). missingOK skips Ingresses that do not exist.
func (r *Router) mutate(ctx context.Context, missingOK bool, change func(*networkingv1.Ingress) (*networkingv1.Ingress, error)) error {
	for _, name := range r.cfg.Ingresses() {
		key := types.NamespacedName{Namespace: r.cfg.Namespace, Name: name}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur := &networkingv1.Ingress{}
			if err := r.c.Get(ctx, key, cur); err != nil {
				return err
			}
			want, err := change(cur)
			if err != nil || !Changed(cur, want) {
				return err
			}
			return r.c.Patch(ctx, want, client.MergeFromWithOptions(cur, client.MergeFromWithOptimisticLock{}), kubeobj.FieldOwner)
		})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err) && missingOK:
		case apierrors.IsNotFound(err):
			return contract.Invalidf(Type, "Ingress `%s` (trafficRouting.alb) not found in namespace %s", name, r.cfg.Namespace)
		default:
			if _, ok := contract.AsInvalidConfig(err); ok {
				return err
			}
			return fmt.Errorf("updating ALB Ingress %s: %w", name, err)
		}
	}
	return nil
}

// SetWeight writes the weighted forward action on every Ingress.
func (r *Router) SetWeight(ctx context.Context, d contract.Desired) error {
	if err := d.Check(); err != nil {
		return err
	}
	return r.mutate(ctx, false, func(ing *networkingv1.Ingress) (*networkingv1.Ingress, error) {
		return r.cfg.Ingress(ing, d)
	})
}

// SetHeaderRoute writes (or removes) the header route's action, conditions and path.
func (r *Router) SetHeaderRoute(ctx context.Context, hr contract.HeaderRoute) error {
	return r.mutate(ctx, false, func(ing *networkingv1.Ingress) (*networkingv1.Ingress, error) {
		return r.cfg.WithHeaderRoute(ing, hr)
	})
}

// SetMirrorRoute is not supported: ALB has no mirroring.
func (r *Router) SetMirrorRoute(context.Context, contract.MirrorRoute) error {
	return contract.Unsupported(Type, "setMirrorRoute")
}

// RemoveManagedRoutes removes every header route.
func (r *Router) RemoveManagedRoutes(ctx context.Context) error {
	if len(r.cfg.ManagedRoutes) == 0 {
		return nil
	}
	return r.mutate(ctx, false, r.cfg.WithoutManagedRoutes)
}

// UpdateHash has nothing to do: ALB reaches the pods through the Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// Verify never reports Verified: sluice does not read the target-group weights from AWS. It
// reports NotVerified while an Ingress's annotation differs from the split d, else Unknown.
func (r *Router) Verify(ctx context.Context, d contract.Desired) (contract.Verification, error) {
	var vs []contract.Verification
	for _, name := range r.cfg.Ingresses() {
		cur := &networkingv1.Ingress{}
		if err := r.c.Get(ctx, types.NamespacedName{Namespace: r.cfg.Namespace, Name: name}, cur); err != nil {
			if apierrors.IsNotFound(err) {
				return contract.Verification{}, contract.Invalidf(Type, "Ingress `%s` (trafficRouting.alb) not found in namespace %s", name, r.cfg.Namespace)
			}
			return contract.Verification{}, err
		}
		want, err := r.cfg.Ingress(cur, d)
		if err != nil {
			return contract.Verification{}, err
		}
		key := r.cfg.ActionKey(r.cfg.ActionService(d.Stable))
		if Changed(cur, want) {
			vs = append(vs, contract.NotVerifiedf("Ingress %s: %s sends %s to the canary, want %d", name, key, describe(cur.Annotations[key], d.Canary), d.Weight))
			continue
		}
		vs = append(vs, contract.Unknown("Ingress %s: %s sends %d/%d to the canary; the AWS target-group weights are not checked (sluice does not call AWS)", name, key, d.Weight, d.TotalWeight()))
	}
	return contract.Combine(vs...), nil
}

// Cleanup resets the actions this Rollout manages and removes its header routes and
// bookkeeping entry; missing Ingresses are skipped.
func (r *Router) Cleanup(ctx context.Context) error {
	return r.mutate(ctx, true, r.cfg.Clean)
}

// Objects lists the Ingresses the router changes.
func Objects(ro *v1alpha1.Rollout) []contract.ObjectRef {
	names := ConfigFor(ro).Ingresses()
	refs := make([]contract.ObjectRef, 0, len(names))
	for _, name := range names {
		refs = append(refs, contract.ObjectRef{Group: networkingv1.GroupName, Kind: "Ingress", Namespace: ro.Namespace, Name: name})
	}
	return refs
}
