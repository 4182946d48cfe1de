package rollout

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

// routerObjectIndex indexes Rollouts by the keys (group/kind/namespace/name) of the router
// objects they read or write, so an event on an Ingress, VirtualService, TrafficSplit or
// route wakes exactly the Rollouts that use it: drift is corrected, and a fixed object clears
// an InvalidSpec.
const routerObjectIndex = ".spec.strategy.canary.trafficRouting.objects"

// watchRouterObjects adds a watch per router kind whose API the cluster serves, at the version
// the routers use (trafficrouter.Kinds resolves it with the same RESTMapper and rules). A kind
// the cluster does not serve is skipped: a Rollout that needs it gets InvalidSpec from its
// router, and a CRD installed later is used by the routers at once but watched only after a
// controller restart.
func watchRouterObjects(ctx context.Context, mgr ctrl.Manager, b *builder.Builder, opts trafficrouter.Options) (*builder.Builder, error) {
	err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Rollout{}, routerObjectIndex, func(o client.Object) []string {
		refs := trafficrouter.Objects(o.(*v1alpha1.Rollout))
		keys := make([]string, 0, len(refs))
		for _, r := range refs {
			keys = append(keys, r.Key())
		}
		return keys
	})
	if err != nil {
		return nil, err
	}
	c := mgr.GetClient()
	enqueue := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		gvk, err := c.GroupVersionKindFor(o)
		if err != nil {
			return nil
		}
		var list v1alpha1.RolloutList
		key := contract.ObjectKey(gvk.Group, gvk.Kind, o.GetNamespace(), o.GetName())
		if err := c.List(ctx, &list, client.MatchingFields{routerObjectIndex: key}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, ro := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}})
		}
		return reqs
	})
	kinds, skipped := trafficrouter.Kinds(mgr.GetRESTMapper(), opts)
	for _, err := range skipped {
		mgr.GetLogger().Info("not watching a router kind", "reason", err.Error())
	}
	for _, gvk := range kinds {
		var obj client.Object
		if gvk == networkingv1.SchemeGroupVersion.WithKind("Ingress") {
			obj = &networkingv1.Ingress{}
		} else {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			obj = u
		}
		b = b.Watches(obj, enqueue)
	}
	return b, nil
}
