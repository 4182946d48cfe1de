package routertest

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

// crdGVK is the kind of a CustomResourceDefinition.
var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// LegacyIstioCRDs returns the VirtualService and DestinationRule CRDs the local cluster installs
// (istio.io/api, pinned), changed to serve what an Istio before 1.22 serves: v1beta1 (the
// storage version) and v1alpha3, no v1.
func LegacyIstioCRDs(tb testing.TB) []*unstructured.Unstructured {
	tb.Helper()
	docs, err := devcluster.CRDDocuments(tb.Context(), devcluster.CRDsIstio)
	if err != nil {
		tb.Fatalf("reading the Istio CRDs: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, doc := range docs {
		objs, err := Decode(doc)
		if err != nil {
			tb.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() != crdGVK.Kind || !slices.Contains([]string{"virtualservices.networking.istio.io", "destinationrules.networking.istio.io"}, o.GetName()) {
				continue
			}
			var versions []any
			for _, v := range kubeobj.Slice(kubeobj.Nested(o.Object, "spec", "versions")) {
				vm := kubeobj.Map(v)
				if kubeobj.String(vm, "name") == "v1" {
					continue
				}
				vm["storage"] = kubeobj.String(vm, "name") == "v1beta1"
				versions = append(versions, vm)
			}
			kubeobj.SetNested(o.Object, versions, "spec", "versions")
			out = append(out, o)
		}
	}
	if len(out) != 2 {
		tb.Fatalf("found %d of the 2 Istio CRDs", len(out))
	}
	return out
}

// InstallCRDs creates the CRDs and waits until they are Established.
func InstallCRDs(tb testing.TB, c client.Client, crds []*unstructured.Unstructured) {
	tb.Helper()
	for _, crd := range crds {
		crd = crd.DeepCopy()
		crd.SetGroupVersionKind(crdGVK)
		if err := c.Create(tb.Context(), crd); err != nil {
			tb.Fatalf("creating CRD %s: %v", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		devclustertest.Eventually(tb, 30*time.Second, func() string {
			cur, found, err := kubeobj.Get(tb.Context(), c, crdGVK, client.ObjectKeyFromObject(crd))
			if err != nil || !found {
				return "CRD " + crd.GetName() + " not readable"
			}
			for _, cv := range kubeobj.Slice(kubeobj.Nested(cur.Object, "status", "conditions")) {
				cond := kubeobj.Map(cv)
				if kubeobj.String(cond, "type") == "Established" && kubeobj.String(cond, "status") == "True" {
					return ""
				}
			}
			return "CRD " + crd.GetName() + " not Established"
		})
	}
}
