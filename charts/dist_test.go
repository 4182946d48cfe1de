package charts

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
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
	compareWithDist(t, render(t, releaseName, namespace, ""), "install.yaml")
}

// TestMatchesDistNamespaceInstall compares the chart with controller.namespaced (release
// sluice in sluice-system) with dist/namespace-install.yaml applied with kubectl apply -n
// sluice-system. Beyond TestMatchesDistInstall's differences, the chart writes the namespace
// where kubectl apply -n puts it (objects, ServiceAccount subjects) and passes
// --namespace=<release namespace> where dist passes --namespace=$(POD_NAMESPACE); both are
// compared after the kubelet's expansion.
func TestMatchesDistNamespaceInstall(t *testing.T) {
	compareWithDist(t, render(t, releaseName, namespace, `{controller: {namespaced: true}}`), "namespace-install.yaml")
}

// compareWithDist compares a rendering of the chart with dist/<file> as kubectl apply -n
// sluice-system would create it.
func compareWithDist(t *testing.T, chart rendering, file string) {
	t.Helper()
	b, err := os.ReadFile("../dist/" + file)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("no dist/" + file)
	}
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(string(b))
	if err != nil {
		t.Fatalf("dist/%s: %v", file, err)
	}
	dist := rendering{}
	for _, o := range objs {
		switch o := o.(type) {
		case *rbacv1.RoleBinding:
			for i := range o.Subjects {
				if o.Subjects[i].Namespace == "" {
					o.Subjects[i].Namespace = namespace // what a RoleBinding means by none
				}
			}
		case *appsv1.Deployment:
			expandArgs(t, o)
		}
		switch kindOf(o) {
		case "Namespace", "CustomResourceDefinition":
			continue
		case "ClusterRole", "ClusterRoleBinding":
		default:
			if o.GetNamespace() == "" {
				o.SetNamespace(namespace) // kubectl apply -n
			}
		}
		dist.objects = append(dist.objects, o)
	}
	if got, want := keys(chart), keys(dist); !slices.Equal(got, want) {
		t.Fatalf("the chart renders\n  %v\ndist/%s has\n  %v", got, file, want)
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

	for _, o := range dist.objects {
		switch d := o.(type) {
		case *rbacv1.ClusterRole:
			if c := find[*rbacv1.ClusterRole](t, chart, d.Name); !equality.Semantic.DeepEqual(c.Rules, d.Rules) {
				t.Errorf("ClusterRole %s rules differ (make generate renders both from config/rbac/role.yaml):\n%s", d.Name, diffYAML(t, c.Rules, d.Rules))
			}
		case *rbacv1.Role:
			if c := find[*rbacv1.Role](t, chart, d.Name); !equality.Semantic.DeepEqual(c.Rules, d.Rules) {
				t.Errorf("Role %s rules differ:\n%s", d.Name, diffYAML(t, c.Rules, d.Rules))
			}
		case *rbacv1.ClusterRoleBinding:
			if c := find[*rbacv1.ClusterRoleBinding](t, chart, d.Name); !equality.Semantic.DeepEqual(c.RoleRef, d.RoleRef) || !equality.Semantic.DeepEqual(c.Subjects, d.Subjects) {
				t.Errorf("ClusterRoleBinding %s differs:\n%s", d.Name, diffYAML(t, c, d))
			}
		case *rbacv1.RoleBinding:
			if c := find[*rbacv1.RoleBinding](t, chart, d.Name); !equality.Semantic.DeepEqual(c.RoleRef, d.RoleRef) || !equality.Semantic.DeepEqual(c.Subjects, d.Subjects) {
				t.Errorf("RoleBinding %s differs:\n%s", d.Name, diffYAML(t, c, d))
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

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expandArgs replaces $(VAR) in the containers' args as the kubelet does, for the variables
// with a value or the pod's namespace (sluice-system) from the downward API.
func expandArgs(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	for ci := range d.Spec.Template.Spec.Containers {
		c := &d.Spec.Template.Spec.Containers[ci]
		env := map[string]string{}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom == nil:
				env[e.Name] = e.Value
			case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				env[e.Name] = namespace
			}
		}
		for i, a := range c.Args {
			c.Args[i] = varRef.ReplaceAllStringFunc(a, func(ref string) string {
				v, ok := env[varRef.FindStringSubmatch(ref)[1]]
				if !ok {
					t.Fatalf("arg %q refers to a variable the test cannot expand", a)
				}
				return v
			})
		}
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
