package charts

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/internal/cli"
)

const (
	releaseName = "sluice"
	namespace   = "sluice-system"
)

// find returns the object of type T named name, failing the test when it is missing.
func find[T client.Object](t *testing.T, r rendering, name string) T {
	t.Helper()
	for _, o := range r.objects {
		if typed, ok := o.(T); ok && o.GetName() == name {
			return typed
		}
	}
	var zero T
	t.Fatalf("no %T named %q in the rendering; have %s", zero, name, summary(r))
	return zero
}

// summary lists the rendered objects as Kind/name.
func summary(r rendering) string {
	s := make([]string, 0, len(r.objects))
	for _, o := range r.objects {
		s = append(s, kindOf(o)+"/"+o.GetName())
	}
	return strings.Join(s, " ")
}

func kindOf(o client.Object) string {
	if u, ok := o.(*unstructured.Unstructured); ok {
		return u.GetKind()
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", o), "*v1.")
}

// controllerFlags parses a container's args the way the image's entrypoint, /sluice, would:
// with the real command tree, so an unknown or malformed flag fails as it would in the pod.
func controllerFlags(t *testing.T, args []string) *cobra.Command {
	t.Helper()
	root := cli.NewRootCommand(strings.NewReader(""), io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatalf("args %q: %v", args, err)
	}
	if cmd.Name() != "controller" {
		t.Fatalf("args %q run %q, not the controller", args, cmd.CommandPath())
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("sluice controller refuses args %q: %v", args, err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Fatalf("sluice controller refuses args %q: %v", args, err)
	}
	return cmd
}

func flagValue(t *testing.T, cmd *cobra.Command, name string) string {
	t.Helper()
	f := cmd.Flags().Lookup(name)
	if f == nil {
		t.Fatalf("sluice controller has no flag --%s", name)
	}
	return f.Value.String()
}

// generatedRules are the rules controller-gen wrote into config/rbac/role.yaml.
func generatedRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile("../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("config/rbac/role.yaml: %v", err)
	}
	if len(role.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	return role.Rules
}

// checkWiring checks what must line up whatever the values: the pods run as the ServiceAccount
// the bindings name, the Service, PDB and NetworkPolicy select the controller's pods, and the
// named ports exist.
func checkWiring(t *testing.T, r rendering, d *appsv1.Deployment) {
	t.Helper()
	pod := labels.Set(d.Spec.Template.Labels)
	sel := labels.SelectorFromSet(d.Spec.Selector.MatchLabels)
	if !sel.Matches(pod) {
		t.Errorf("Deployment selector %v does not match its pod labels %v", sel, pod)
	}
	sa := d.Spec.Template.Spec.ServiceAccountName
	find[*corev1.ServiceAccount](t, r, sa)
	bindings := 0
	for _, o := range r.objects {
		var subjects []rbacv1.Subject
		switch b := o.(type) {
		case *rbacv1.ClusterRoleBinding:
			subjects = b.Subjects
			find[*rbacv1.ClusterRole](t, r, b.RoleRef.Name)
		case *rbacv1.RoleBinding:
			subjects = b.Subjects
			role := find[*rbacv1.Role](t, r, b.RoleRef.Name)
			if role.Namespace != b.Namespace {
				t.Errorf("RoleBinding %s in %q binds Role %s of %q", b.Name, b.Namespace, role.Name, role.Namespace)
			}
		default:
			continue
		}
		bindings++
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: d.Namespace}}
		if !equality.Semantic.DeepEqual(subjects, want) {
			t.Errorf("%s/%s subjects %+v, want %+v", kindOf(o), o.GetName(), subjects, want)
		}
	}
	if bindings == 0 {
		t.Error("no binding grants the ServiceAccount anything")
	}
	ports := map[string]int32{}
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, o := range r.objects {
		var selector labels.Selector
		switch x := o.(type) {
		case *corev1.Service:
			selector = labels.SelectorFromSet(x.Spec.Selector)
			for _, p := range x.Spec.Ports {
				if _, ok := ports[p.TargetPort.String()]; !ok {
					t.Errorf("Service %s targets port %q; the container has %v", x.Name, p.TargetPort.String(), ports)
				}
			}
		case *policyv1.PodDisruptionBudget:
			selector = labels.SelectorFromSet(x.Spec.Selector.MatchLabels)
		case *networkingv1.NetworkPolicy:
			selector = labels.SelectorFromSet(x.Spec.PodSelector.MatchLabels)
			for _, in := range x.Spec.Ingress {
				for _, p := range in.Ports {
					if _, ok := ports[p.Port.String()]; !ok {
						t.Errorf("NetworkPolicy %s admits port %q; the container has %v", x.Name, p.Port.String(), ports)
					}
				}
			}
		default:
			continue
		}
		if !selector.Matches(pod) {
			t.Errorf("%s/%s selects %v, which does not match the controller's pods %v", kindOf(o), o.GetName(), selector, pod)
		}
	}
	if got := outsideReleaseNamespace(r); len(got) > 0 {
		t.Errorf("objects outside the release namespace %q: %v", d.Namespace, got)
	}
}

// outsideReleaseNamespace lists the namespaced objects whose namespace is not the release's.
func outsideReleaseNamespace(r rendering) []string {
	var out []string
	for _, o := range r.objects {
		switch o.(type) {
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			continue
		}
		if o.GetNamespace() != namespace {
			out = append(out, kindOf(o)+"/"+o.GetName()+" in "+o.GetNamespace())
		}
	}
	return out
}

func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", d.Name, len(cs))
	}
	return cs[0]
}

func TestDefaultValues(t *testing.T) {
	r := render(t, releaseName, namespace, "")
	d := find[*appsv1.Deployment](t, r, "sluice-controller")
	checkWiring(t, r, d)
	c := container(t, d)

	if want := "ghcr.io/sluicehq/sluice:" + loadChart(t).Metadata.AppVersion; c.Image != want {
		t.Errorf("image %q, want %q (the chart's appVersion)", c.Image, want)
	}
	if c.ImagePullPolicy != "" {
		t.Errorf("imagePullPolicy %q, want it left to Kubernetes", c.ImagePullPolicy)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
	cmd := controllerFlags(t, c.Args)
	for flag, want := range map[string]string{
		"leader-elect":              "true",
		"health-probe-bind-address": ":8080",
		"metrics-bind-address":      ":8090",
		"namespace":                 "",
		"instance-id":               "",
		"dev-logs":                  "false",
	} {
		if got := flagValue(t, cmd, flag); got != want {
			t.Errorf("--%s=%q, want %q", flag, got, want)
		}
	}
	if len(c.Env) == 0 || c.Env[0].Name != "POD_NAMESPACE" || c.Env[0].ValueFrom == nil ||
		c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("env %+v, want POD_NAMESPACE from metadata.namespace first", c.Env)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes %s and %s, want /healthz and /readyz", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	psc := d.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 65532 || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod security context %+v, want non-root 65532 (the image's user)", psc)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("container security context %+v, want a read-only root filesystem", c.SecurityContext)
	}

	role := find[*rbacv1.ClusterRole](t, r, "sluice-controller")
	if !equality.Semantic.DeepEqual(role.Rules, generatedRules(t)) {
		t.Errorf("the chart's ClusterRole rules differ from config/rbac/role.yaml (run make generate):\n%s", diffYAML(t, role.Rules, generatedRules(t)))
	}
	find[*rbacv1.ClusterRoleBinding](t, r, "sluice-controller")
	find[*rbacv1.Role](t, r, "sluice-leader-election")
	find[*corev1.Service](t, r, "sluice-controller-metrics")
	find[*policyv1.PodDisruptionBudget](t, r, "sluice-controller")
	find[*networkingv1.NetworkPolicy](t, r, "sluice-controller")
	for _, o := range r.objects {
		if kindOf(o) == "ServiceMonitor" || kindOf(o) == "CustomResourceDefinition" {
			t.Errorf("%s/%s rendered by default", kindOf(o), o.GetName())
		}
	}
}

// diffYAML shows two values side by side as YAML, for a failure message.
func diffYAML(t *testing.T, got, want any) string {
	t.Helper()
	g, _ := yaml.Marshal(got)
	w, _ := yaml.Marshal(want)
	return "got:\n" + string(g) + "want:\n" + string(w)
}

func TestNamespacedWithInstanceIDAndExtraArgs(t *testing.T) {
	r := render(t, "blue", namespace, `
controller:
  namespaced: true
  instanceID: blue
  logging: {format: console}
  extraArgs: [--rollout-threads=20, --qps=80]
  extraEnv: [{name: GOMEMLIMIT, value: 400MiB}]
image: {tag: v1.2.3}
`)
	// Release "blue" does not contain the chart name: names get both.
	d := find[*appsv1.Deployment](t, r, "blue-sluice-controller")
	checkWiring(t, r, d)
	c := container(t, d)
	if c.Image != "ghcr.io/sluicehq/sluice:v1.2.3" {
		t.Errorf("image %q, want the tag from image.tag", c.Image)
	}
	cmd := controllerFlags(t, c.Args)
	for flag, want := range map[string]string{
		"namespace":       namespace,
		"instance-id":     "blue",
		"dev-logs":        "true",
		"rollout-threads": "20",
		"qps":             "80",
		"leader-elect":    "true",
	} {
		if got := flagValue(t, cmd, flag); got != want {
			t.Errorf("--%s=%q, want %q", flag, got, want)
		}
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" && e.Value == "400MiB" }) {
		t.Errorf("env %+v lacks extraEnv's GOMEMLIMIT", c.Env)
	}
	role := find[*rbacv1.Role](t, r, "blue-sluice-controller")
	if role.Namespace != namespace {
		t.Errorf("Role in %q, want the release namespace", role.Namespace)
	}
	if !equality.Semantic.DeepEqual(role.Rules, generatedRules(t)) {
		t.Errorf("the namespaced Role's rules differ from config/rbac/role.yaml:\n%s", diffYAML(t, role.Rules, generatedRules(t)))
	}
	find[*rbacv1.RoleBinding](t, r, "blue-sluice-controller")
	for _, o := range r.objects {
		switch o.(type) {
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			t.Errorf("namespaced install renders %s/%s", kindOf(o), o.GetName())
		}
	}
}

func TestMetricsOffAndServiceMonitor(t *testing.T) {
	off := render(t, releaseName, namespace, `{metrics: {enabled: false, serviceMonitor: {enabled: true}}}`)
	d := find[*appsv1.Deployment](t, off, "sluice-controller")
	checkWiring(t, off, d)
	if got := flagValue(t, controllerFlags(t, container(t, d).Args), "metrics-bind-address"); got != "0" {
		t.Errorf("--metrics-bind-address=%q with metrics off, want 0", got)
	}
	for _, o := range off.objects {
		if _, ok := o.(*corev1.Service); ok || kindOf(o) == "ServiceMonitor" {
			t.Errorf("metrics off renders %s/%s", kindOf(o), o.GetName())
		}
	}
	if np := find[*networkingv1.NetworkPolicy](t, off, "sluice-controller"); len(np.Spec.Ingress) != 0 {
		t.Errorf("metrics off: NetworkPolicy admits %+v, want nothing", np.Spec.Ingress)
	}

	on := render(t, releaseName, namespace, `{metrics: {port: 9100, serviceMonitor: {enabled: true, interval: 30s, labels: {release: kube-prometheus}}}}`)
	d = find[*appsv1.Deployment](t, on, "sluice-controller")
	checkWiring(t, on, d)
	if got := flagValue(t, controllerFlags(t, container(t, d).Args), "metrics-bind-address"); got != ":9100" {
		t.Errorf("--metrics-bind-address=%q, want :9100", got)
	}
	sm := find[*unstructured.Unstructured](t, on, "sluice-controller")
	svc := find[*corev1.Service](t, on, "sluice-controller-metrics")
	smSel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if !labels.SelectorFromSet(smSel).Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selects %v; the metrics Service is labelled %v", smSel, svc.Labels)
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 || eps[0].(map[string]any)["port"] != svc.Spec.Ports[0].Name || eps[0].(map[string]any)["interval"] != "30s" {
		t.Errorf("ServiceMonitor endpoints %v, want port %q every 30s", eps, svc.Spec.Ports[0].Name)
	}
	if sm.GetLabels()["release"] != "kube-prometheus" {
		t.Errorf("ServiceMonitor labels %v lack serviceMonitor.labels", sm.GetLabels())
	}
}

func TestSingleReplicaWithoutLeaderElection(t *testing.T) {
	r := render(t, releaseName, namespace, `{replicaCount: 1, controller: {leaderElection: {enabled: false}}, image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}`)
	d := find[*appsv1.Deployment](t, r, "sluice-controller")
	checkWiring(t, r, d)
	c := container(t, d)
	if got := flagValue(t, controllerFlags(t, c.Args), "leader-elect"); got != "false" {
		t.Errorf("--leader-elect=%s, want false", got)
	}
	if want := "ghcr.io/sluicehq/sluice@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; c.Image != want {
		t.Errorf("image %q, want %q", c.Image, want)
	}
	for _, o := range r.objects {
		switch o.(type) {
		case *policyv1.PodDisruptionBudget:
			t.Errorf("one replica without leader election renders %s/%s", kindOf(o), o.GetName())
		case *rbacv1.Role:
			if o.GetName() != "sluice-notifications" { // notifications are not tied to leader election
				t.Errorf("one replica without leader election renders %s/%s", kindOf(o), o.GetName())
			}
		}
	}

	if _, err := tryRender(t, releaseName, namespace, `{controller: {leaderElection: {enabled: false}}}`); err == nil ||
		!strings.Contains(err.Error(), "needs replicaCount 1") {
		t.Errorf("two replicas without leader election: error %v, want a refusal", err)
	}
}

// TestReleaseFitsInASecret keeps the chart well below the 1 MiB the API server allows a Secret
// (Helm stores every revision, chart included, in one). The CRDs are left out for this
// reason: in crds/ they made the release Secret 1,017,904 bytes (97 % of the limit), as
// templates 1,582,196 bytes (install refused).
func TestReleaseFitsInASecret(t *testing.T) {
	c := loadChart(t)
	r := render(t, releaseName, namespace, "")
	size := releaseSecretSize(t, c, r, nil)
	t.Logf("release Secret data: %d bytes", size)
	if budget := 256 << 10; size > budget {
		t.Errorf("the release Secret would hold %d bytes, over the chart's budget of %d (the API server's limit is 1 MiB)", size, budget)
	}
	if len(c.CRDObjects()) > 0 {
		t.Errorf("the chart has %d files in crds/; see charts/sluice/README.md for why the CRDs are applied apart", len(c.CRDObjects()))
	}
}

// TestMisspeltValuesAreRefused: values.schema.json refuses keys the chart does not read and
// values of the wrong type, as helm install would.
func TestMisspeltValuesAreRefused(t *testing.T) {
	for _, values := range []string{
		`{replicas: 3}`,
		`{controller: {instanceId: blue}}`,
		`{metrics: {serviceMonitor: {enable: true}}}`,
		`{image: {digest: "0123"}}`,
		`{controller: {logging: {format: text}}}`,
		`{metrics: {port: "8090"}}`,
	} {
		if _, err := tryRender(t, releaseName, namespace, values); err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("values %s: error %v, want a schema error", values, err)
		}
	}
}
