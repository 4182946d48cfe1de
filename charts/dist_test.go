package charts

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestMatchesDistInstall compares the chart (release sluice in sluice-system, default values)
// with the kustomize install, dist/install.yaml: the same objects by kind and name, the same
// controller container (image, args, env, ports, probes, resources, security), rules, ports,
// disruption budget and network policy. The deliberate differences, not compared:
//   - the chart creates no Namespace (helm install --create-namespace does) and no CRDs
//     (charts/sluice/README.md says why);
//   - the chart's labels and selectors carry app.kubernetes.io/instance (two releases never
//     select each other's pods) and Helm's version/managed-by/chart labels.
func TestMatchesDistInstall(t *testing.T) {
	b, err := os.ReadFile("../dist/install.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no dist/install.yaml")
	}
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(string(b))
	if err != nil {
		t.Fatalf("dist/install.yaml: %v", err)
	}
	dist := rendering{}
	for _, o := range objs {
		switch kindOf(o) {
		case "Namespace", "CustomResourceDefinition":
			continue
		}
		dist.objects = append(dist.objects, o)
	}
	chart := render(t, releaseName, namespace, "")
	if got, want := keys(chart), keys(dist); !slices.Equal(got, want) {
		t.Fatalf("the chart renders\n  %v\ndist/install.yaml has\n  %v", got, want)
	}

	cd := find[*appsv1.Deployment](t, chart, "sluice-controller")
	dd := find[*appsv1.Deployment](t, dist, "sluice-controller")
	if !equality.Semantic.DeepEqual(cd.Spec.Template.Spec.Containers, dd.Spec.Template.Spec.Containers) {
		t.Errorf("controller containers differ:\n%s", diffYAML(t, cd.Spec.Template.Spec.Containers, dd.Spec.Template.Spec.Containers))
	}
	if !equality.Semantic.DeepEqual(cd.Spec.Template.Spec.SecurityContext, dd.Spec.Template.Spec.SecurityContext) ||
		cd.Spec.Template.Spec.ServiceAccountName != dd.Spec.Template.Spec.ServiceAccountName ||
		*cd.Spec.Replicas != *dd.Spec.Replicas {
		t.Errorf("pod specs differ (replicas, ServiceAccount, security context):\n%s",
			diffYAML(t, cd.Spec, dd.Spec))
	}

	if c, d := find[*rbacv1.ClusterRole](t, chart, "sluice-controller"), find[*rbacv1.ClusterRole](t, dist, "sluice-controller"); !equality.Semantic.DeepEqual(c.Rules, d.Rules) {
		t.Errorf("ClusterRole sluice-controller rules differ (make generate renders both from config/rbac/role.yaml):\n%s", diffYAML(t, c.Rules, d.Rules))
	}
	for _, r := range dist.objects {
		if role, ok := r.(*rbacv1.Role); ok {
			if c := find[*rbacv1.Role](t, chart, role.Name); !equality.Semantic.DeepEqual(c.Rules, role.Rules) {
				t.Errorf("Role %s rules differ:\n%s", role.Name, diffYAML(t, c.Rules, role.Rules))
			}
		}
	}
	cs, ds := find[*corev1.Service](t, chart, "sluice-controller-metrics"), find[*corev1.Service](t, dist, "sluice-controller-metrics")
	if !equality.Semantic.DeepEqual(cs.Spec.Ports, ds.Spec.Ports) {
		t.Errorf("metrics Service ports differ:\n%s", diffYAML(t, cs.Spec.Ports, ds.Spec.Ports))
	}
	cp, dp := find[*policyv1.PodDisruptionBudget](t, chart, "sluice-controller"), find[*policyv1.PodDisruptionBudget](t, dist, "sluice-controller")
	if !equality.Semantic.DeepEqual(cp.Spec.MinAvailable, dp.Spec.MinAvailable) || !equality.Semantic.DeepEqual(cp.Spec.MaxUnavailable, dp.Spec.MaxUnavailable) {
		t.Errorf("PodDisruptionBudgets differ:\n%s", diffYAML(t, cp.Spec, dp.Spec))
	}
	cn, dn := find[*networkingv1.NetworkPolicy](t, chart, "sluice-controller"), find[*networkingv1.NetworkPolicy](t, dist, "sluice-controller")
	cn.Spec.PodSelector, dn.Spec.PodSelector = metav1.LabelSelector{}, metav1.LabelSelector{} // labels differ by design
	if !equality.Semantic.DeepEqual(cn.Spec, dn.Spec) {
		t.Errorf("NetworkPolicies differ:\n%s", diffYAML(t, cn.Spec, dn.Spec))
	}
}

// keys lists the objects as Kind/namespace/name, sorted.
func keys(r rendering) []string {
	out := make([]string, 0, len(r.objects))
	for _, o := range r.objects {
		out = append(out, kindOf(o)+"/"+o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(out)
	return out
}
