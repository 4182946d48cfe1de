package install_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// TestNamespaceInstall applies dist/namespace-install.yaml into one namespace (kubectl apply -n;
// the CRDs are already there, as a cluster admin would install them) and runs the controller
// as its Deployment does, with only the namespace's Role: a Rollout in that namespace goes
// through an update, one in another namespace is left alone, and nothing outside the namespace
// is reachable with the token.
func TestNamespaceInstall(t *testing.T) {
	admin := adminClient(t)
	objs := manifest(t, "namespace-install.yaml")
	for _, o := range objs {
		if o.GetNamespace() != "" || o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "Namespace" ||
			o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" {
			t.Fatalf("namespace-install.yaml has %s %s/%s: want only namespaced objects without a namespace", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
	ns := devclustertest.Namespace(t)
	applyAll(t.Context(), t, admin, objs, ns)

	d := find[appsv1.Deployment](t, objs, "Deployment")
	waitDeploymentAvailable(t, admin, ns, d.Name, *d.Spec.Replicas)
	run := podRunOf(t, d, ns)
	if !slices.Contains(run.args, "--namespace="+ns) {
		t.Fatalf("args %q: want --namespace=%s (the pod's namespace)", run.args, ns)
	}
	saCfg, kubeconfig := serviceAccountConfig(t, devclustertest.Config(t), ns, run.serviceAcct)
	logs, _ := startController(t, run, kubeconfig)
	httpOK(t, run.health, run.readiness, 30*time.Second)

	other := devclustertest.Namespace(t)
	outside := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict([]byte(rolloutYAML), outside); err != nil {
		t.Fatal(err)
	}
	outside.Namespace = other
	if err := admin.Create(t.Context(), outside); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rolloutThroughUpdate(t, admin, ns)
	t.Logf("Rollout created, updated and Healthy again in %s", time.Since(start).Round(100*time.Millisecond))
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(outside), outside); err != nil {
		t.Fatal(err)
	}
	if outside.Status.Phase != "" || outside.Status.ObservedGeneration != "" {
		t.Errorf("Rollout %s/%s in another namespace was reconciled: status %+v", other, outside.Name, outside.Status)
	}
	noForbidden(t, logs)

	sa := kubernetes.NewForConfigOrDie(saCfg)
	ctx := t.Context()
	forbidden(t, "listing Rollouts in all namespaces", func() error {
		var list v1alpha1.RolloutList
		c, err := client.New(saCfg, client.Options{Scheme: admin.Scheme()})
		if err != nil {
			return err
		}
		return c.List(ctx, &list)
	})
	forbidden(t, "listing ReplicaSets in another namespace", func() error {
		_, err := sa.AppsV1().ReplicaSets(other).List(ctx, metav1.ListOptions{})
		return err
	})
	forbidden(t, "reading Secrets in another namespace", func() error {
		_, err := sa.CoreV1().Secrets(other).Get(ctx, "x", metav1.GetOptions{})
		return err
	})
	checkClusterTemplateRefused(t, admin, ns)
}

// clusterTemplateRollout is a Rollout whose analysis step names a ClusterAnalysisTemplate,
// which a namespaced controller's Role cannot read.
const clusterTemplateRollout = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: cluster-template
spec:
  replicas: 1
  selector:
    matchLabels: {app: cluster-template}
  template:
    metadata:
      labels: {app: cluster-template}
    spec:
      containers:
      - name: web
        image: nginx:1.25
  strategy:
    canary:
      steps:
      - analysis:
          templates:
          - templateName: smoke
            clusterScope: true
`

// checkClusterTemplateRefused: a Rollout that names a ClusterAnalysisTemplate gets, within a
// few seconds, InvalidSpec saying the read was forbidden (the controller reads such templates
// directly when it is namespaced), not a pass that waits a minute for a cache that never fills.
func checkClusterTemplateRefused(t *testing.T, admin client.Client, ns string) {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict([]byte(clusterTemplateRollout), ro); err != nil {
		t.Fatal(err)
	}
	ro.Namespace = ns
	if err := admin.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	devclustertest.Eventually(t, 15*time.Second, func() string {
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(ro), ro); err != nil {
			return err.Error()
		}
		for _, c := range ro.Status.Conditions {
			if c.Type == v1alpha1.RolloutInvalidSpec && c.Status == "True" && strings.Contains(c.Message, "forbidden") {
				return ""
			}
		}
		return fmt.Sprintf("conditions %+v: want InvalidSpec saying the ClusterAnalysisTemplate is forbidden", ro.Status.Conditions)
	})
	t.Logf("ClusterAnalysisTemplate refusal on the Rollout after %s", time.Since(start).Round(100*time.Millisecond))
}
