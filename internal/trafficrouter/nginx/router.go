package nginx

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// Router is the NGINX router of one Rollout.
type Router struct {
	c   client.Client
	ro  *v1alpha1.Rollout
	cfg Config
}

var _ contract.Router = (*Router)(nil)

// New builds the router of a Rollout whose trafficRouting.nginx is set.
func New(c client.Client, ro *v1alpha1.Rollout) (*Router, error) {
	cfg := ConfigFor(ro)
	if len(cfg.StableIngresses()) == 0 {
		return nil, contract.Invalidf(Type, "trafficRouting.nginx must set stableIngress or stableIngresses")
	}
	return &Router{c: c, ro: ro, cfg: cfg}, nil
}

// Type implements contract.Router.
func (r *Router) Type() string { return Type }

// SetWeight creates or updates the canary Ingress of every stable Ingress.
func (r *Router) SetWeight(ctx context.Context, d contract.Desired) error {
	if err := d.Check(); err != nil {
		return err
	}
	if len(d.Additional) > 0 {
		return contract.Unsupported(Type, "additional (experiment) destinations")
	}
	for _, name := range r.cfg.StableIngresses() {
		if err := r.setWeight(ctx, name, d); err != nil {
			return err
		}
	}
	return nil
}

func (r *Router) setWeight(ctx context.Context, stableName string, d contract.Desired) error {
	desired, err := r.desired(ctx, stableName, d)
	if err != nil {
		return err
	}
	cur, err := r.canary(ctx, desired.Name)
	if err != nil {
		return err
	}
	if cur == nil {
		create := Merge(nil, desired)
		create.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(r.ro, v1alpha1.GroupVersion.WithKind(v1alpha1.RolloutKind))}
		if err := r.c.Create(ctx, create, kubeobj.FieldOwner); err != nil {
			// AlreadyExists: a stale cache; the next pass patches it.
			return fmt.Errorf("creating canary Ingress %s: %w", desired.Name, err)
		}
		return nil
	}
	merged := Merge(cur, desired)
	if !Changed(cur, merged) {
		return nil
	}
	if err := r.c.Patch(ctx, merged, client.MergeFromWithOptions(cur, client.MergeFromWithOptimisticLock{}), kubeobj.FieldOwner); err != nil {
		return fmt.Errorf("updating canary Ingress %s: %w", desired.Name, err)
	}
	return nil
}

// desired reads a stable Ingress and builds its canary Ingress.
func (r *Router) desired(ctx context.Context, stableName string, d contract.Desired) (*networkingv1.Ingress, error) {
	stable := &networkingv1.Ingress{}
	if err := r.c.Get(ctx, types.NamespacedName{Namespace: r.ro.Namespace, Name: stableName}, stable); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, contract.Invalidf(Type, "stable Ingress `%s` (trafficRouting.nginx) not found in namespace %s", stableName, r.ro.Namespace)
		}
		return nil, fmt.Errorf("reading stable Ingress %s: %w", stableName, err)
	}
	return CanaryIngress(r.cfg, stable, d)
}

// canary reads the canary Ingress: nil if it does not exist, an InvalidConfigError if another
// object controls it.
func (r *Router) canary(ctx context.Context, name string) (*networkingv1.Ingress, error) {
	cur := &networkingv1.Ingress{}
	if err := r.c.Get(ctx, types.NamespacedName{Namespace: r.ro.Namespace, Name: name}, cur); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading canary Ingress %s: %w", name, err)
	}
	if !metav1.IsControlledBy(cur, r.ro) {
		owner := "no controller"
		if ref := metav1.GetControllerOf(cur); ref != nil {
			owner = ref.Kind + " " + ref.Name
		}
		return nil, contract.Invalidf(Type, "canary Ingress `%s` exists and is not controlled by Rollout %s (%s): sluice does not overwrite it; delete it or rename the Rollout or stable Ingress",
			name, r.ro.Name, owner)
	}
	return cur, nil
}

// SetHeaderRoute is not supported: NGINX routes by header through the canary-by-header
// annotations, set with trafficRouting.nginx.additionalIngressAnnotations.
func (r *Router) SetHeaderRoute(context.Context, contract.HeaderRoute) error {
	return contract.Unsupported(Type, "setHeaderRoute (use trafficRouting.nginx.additionalIngressAnnotations canary-by-header instead)")
}

// SetMirrorRoute is not supported.
func (r *Router) SetMirrorRoute(context.Context, contract.MirrorRoute) error {
	return contract.Unsupported(Type, "setMirrorRoute")
}

// RemoveManagedRoutes has nothing to remove.
func (r *Router) RemoveManagedRoutes(context.Context) error { return nil }

// UpdateHash has nothing to do: NGINX reaches the pods through the Services.
func (r *Router) UpdateHash(context.Context, string, string) error { return nil }

// Verify reports NotVerified when a canary Ingress is missing or differs from the desired one,
// else Unknown: NGINX Ingress publishes no status that confirms a weight.
func (r *Router) Verify(ctx context.Context, d contract.Desired) (contract.Verification, error) {
	var vs []contract.Verification
	for _, name := range r.cfg.StableIngresses() {
		desired, err := r.desired(ctx, name, d)
		if err != nil {
			return contract.Verification{}, err
		}
		cur, err := r.canary(ctx, desired.Name)
		if err != nil {
			return contract.Verification{}, err
		}
		weightKey := r.cfg.Prefix() + "/canary-weight"
		switch {
		case cur == nil:
			vs = append(vs, contract.NotVerifiedf("canary Ingress %s does not exist yet", desired.Name))
		case Changed(cur, Merge(cur, desired)):
			vs = append(vs, contract.NotVerifiedf("canary Ingress %s is not as desired (%s %q, want %q)",
				desired.Name, weightKey, cur.Annotations[weightKey], desired.Annotations[weightKey]))
		default:
			vs = append(vs, contract.Unknown("canary Ingress %s carries %s %q; NGINX Ingress publishes no status that confirms it",
				desired.Name, weightKey, desired.Annotations[weightKey]))
		}
	}
	return contract.Combine(vs...), nil
}

// Cleanup deletes the canary Ingresses this Rollout controls.
func (r *Router) Cleanup(ctx context.Context) error {
	for _, name := range r.cfg.StableIngresses() {
		cur := &networkingv1.Ingress{}
		key := types.NamespacedName{Namespace: r.ro.Namespace, Name: CanaryIngressName(r.ro.Name, name)}
		if err := r.c.Get(ctx, key, cur); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("reading canary Ingress %s: %w", key.Name, err)
		}
		if !metav1.IsControlledBy(cur, r.ro) {
			continue
		}
		if err := r.c.Delete(ctx, cur, client.Preconditions{UID: &cur.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting canary Ingress %s: %w", key.Name, err)
		}
	}
	return nil
}

// Objects lists the stable Ingresses the router reads and the canary Ingresses it owns.
func Objects(ro *v1alpha1.Rollout) []contract.ObjectRef {
	cfg := ConfigFor(ro)
	refs := make([]contract.ObjectRef, 0, 2*len(cfg.StableIngresses()))
	for _, name := range cfg.StableIngresses() {
		refs = append(refs,
			contract.ObjectRef{Group: networkingv1.GroupName, Kind: "Ingress", Namespace: ro.Namespace, Name: name},
			contract.ObjectRef{Group: networkingv1.GroupName, Kind: "Ingress", Namespace: ro.Namespace, Name: CanaryIngressName(ro.Name, name), Owned: true})
	}
	return refs
}
