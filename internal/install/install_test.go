package install_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// TestInstall applies dist/install.yaml and runs the controller as its Deployment does, with
// only its ServiceAccount's token: a Rollout in another namespace goes through an update, and
// what the RBAC must not allow is refused.
func TestInstall(t *testing.T) {
	admin := adminClient(t)
	objs := manifest(t, "install.yaml")
	applyAll(t.Context(), t, admin, objs, "")

	d := find[appsv1.Deployment](t, objs, "Deployment")
	ns := d.Namespace
	if ns != "sluice-system" {
		t.Fatalf("the Deployment is in namespace %q, want sluice-system", ns)
	}
	// The pods pass the namespace's restricted Pod Security Standard, and the Service and
	// the PodDisruptionBudget select them (kwok runs no container but reports them ready).
	waitDeploymentAvailable(t, admin, ns, d.Name, *d.Spec.Replicas)
	svc := find[corev1.Service](t, objs, "Service")
	waitMetricsEndpoints(t, admin, ns, svc, int(*d.Spec.Replicas))
	pdb := find[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
	devclustertest.Eventually(t, time.Minute, func() string {
		got := &policyv1.PodDisruptionBudget{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: pdb.Name}, got); err != nil {
			return err.Error()
		}
		if got.Status.CurrentHealthy != *d.Spec.Replicas || got.Status.DisruptionsAllowed != *d.Spec.Replicas-1 {
			return fmt.Sprintf("PodDisruptionBudget: %d healthy, %d disruptions allowed", got.Status.CurrentHealthy, got.Status.DisruptionsAllowed)
		}
		return ""
	})
	checkNetworkPolicy(t, find[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy"), d)

	run := podRunOf(t, d, ns)
	saCfg, kubeconfig := serviceAccountConfig(t, devclustertest.Config(t), ns, run.serviceAcct)
	start := time.Now()
	logs, _ := startController(t, run, kubeconfig)
	httpOK(t, run.health, run.readiness, 30*time.Second)
	httpOK(t, run.health, run.liveness, 5*time.Second)

	appNS := devclustertest.Namespace(t)
	ro := rolloutThroughUpdate(t, admin, appNS)
	t.Logf("controller started, Rollout created, updated and Healthy again in %s", time.Since(start).Round(100*time.Millisecond))

	// The replica that reconciled holds the Lease in the controller's namespace.
	lease := &coordinationv1.Lease{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: controller.LeaderElectionID}, lease); err != nil {
		t.Fatalf("leader-election Lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("Lease %s/%s has no holder", ns, lease.Name)
	}
	checkEvents(t, admin, ro)
	noForbidden(t, logs)
	if body := httpOK(t, run.metrics, "/metrics", 5*time.Second); !strings.Contains(body, `controller_runtime_reconcile_total{controller="rollout"`) {
		t.Errorf("/metrics has no controller_runtime_reconcile_total for the rollout controller")
	}

	sa := kubernetes.NewForConfigOrDie(saCfg)
	ctx := t.Context()
	if _, err := sa.CoreV1().Pods(appNS).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the token cannot list pods, which the controller must: %v", err)
	}
	// Notifications read their ConfigMap and Secret by name in the controller's namespace (a
	// list and watch with a metadata.name field selector); no other Secret can be listed.
	byName := metav1.ListOptions{FieldSelector: "metadata.name=argo-rollouts-notification-secret"}
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, byName); err != nil {
		t.Errorf("the token cannot list the notification Secret by name, which notifications must: %v", err)
	}
	forbidden(t, "listing Secrets in the controller's namespace", func() error {
		_, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		return err
	})
	forbidden(t, "listing Secrets in all namespaces", func() error {
		_, err := sa.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
		return err
	})
	forbidden(t, "listing ConfigMaps in all namespaces", func() error {
		_, err := sa.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{})
		return err
	})
	forbidden(t, "creating a Secret", func() error {
		_, err := sa.CoreV1().Secrets(appNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		return err
	})
	forbidden(t, "reading Nodes", func() error {
		_, err := sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err
	})
	forbidden(t, "deleting a Namespace", func() error {
		return sa.CoreV1().Namespaces().Delete(ctx, appNS, metav1.DeleteOptions{})
	})
	forbidden(t, "creating a Lease outside the controller's namespace", func() error {
		_, err := sa.CoordinationV1().Leases(appNS).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		return err
	})
	forbidden(t, "creating a Pod", func() error {
		_, err := sa.CoreV1().Pods(appNS).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}}}, metav1.CreateOptions{})
		return err
	})
	forbidden(t, "changing the ClusterRole", func() error {
		return sa.RbacV1().ClusterRoles().Delete(ctx, "sluice-controller", metav1.DeleteOptions{})
	})
}

// forbidden checks that call is refused with 403.
func forbidden(t *testing.T, what string, call func() error) {
	t.Helper()
	if err := call(); !apierrors.IsForbidden(err) {
		t.Errorf("%s with the controller's token: want 403 Forbidden, got %v", what, err)
	}
}

func waitDeploymentAvailable(t *testing.T, c client.Client, ns, name string, replicas int32) {
	t.Helper()
	devclustertest.Eventually(t, 90*time.Second, func() string {
		d := &appsv1.Deployment{}
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
			return err.Error()
		}
		if d.Status.AvailableReplicas != replicas {
			msg := fmt.Sprintf("Deployment %s/%s: %d of %d replicas available", ns, name, d.Status.AvailableReplicas, replicas)
			for _, cond := range d.Status.Conditions {
				msg += fmt.Sprintf("; %s=%s %s", cond.Type, cond.Status, cond.Message)
			}
			return msg + replicaSetFailure(t, c, ns)
		}
		return ""
	})
}

// replicaSetFailure is why the ReplicaSets could not create pods (e.g. refused by Pod
// Security admission), if they say so.
func replicaSetFailure(t *testing.T, c client.Client, ns string) string {
	t.Helper()
	var rss appsv1.ReplicaSetList
	if err := c.List(t.Context(), &rss, client.InNamespace(ns)); err != nil {
		return ""
	}
	var msg string
	for _, rs := range rss.Items {
		for _, cond := range rs.Status.Conditions {
			if cond.Type == appsv1.ReplicaSetReplicaFailure {
				msg += fmt.Sprintf("; ReplicaSet %s: %s", rs.Name, cond.Message)
			}
		}
	}
	return msg
}

// waitMetricsEndpoints waits until the metrics Service has an endpoint on each pod, on the
// port named metrics.
func waitMetricsEndpoints(t *testing.T, c client.Client, ns string, svc *corev1.Service, want int) {
	t.Helper()
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].Port != 8090 {
		t.Fatalf("Service %s: want one port named metrics, 8090; got %+v", svc.Name, svc.Spec.Ports)
	}
	devclustertest.Eventually(t, time.Minute, func() string {
		var slices discoveryv1.EndpointSliceList
		if err := c.List(t.Context(), &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
			return err.Error()
		}
		ready, port := 0, int32(0)
		for _, s := range slices.Items {
			for _, p := range s.Ports {
				if p.Name != nil && *p.Name == "metrics" && p.Port != nil {
					port = *p.Port
				}
			}
			for _, e := range s.Endpoints {
				if e.Conditions.Ready == nil || *e.Conditions.Ready {
					ready++
				}
			}
		}
		if ready != want || port != 8090 {
			return fmt.Sprintf("Service %s: %d ready endpoints on port %d, want %d on 8090", svc.Name, ready, port, want)
		}
		return ""
	})
}

// checkNetworkPolicy: the policy selects the controller's pods, lets traffic in only to the
// metrics port, and lets everything out.
func checkNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, d *appsv1.Deployment) {
	t.Helper()
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("NetworkPolicy %s selects %s=%s, which the controller's pods do not carry", np.Name, k, v)
		}
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.String() != "metrics" {
		t.Errorf("NetworkPolicy %s: want ingress to the metrics port only, got %+v", np.Name, np.Spec.Ingress)
	}
	if len(np.Spec.Egress) != 1 || len(np.Spec.Egress[0].To) != 0 || len(np.Spec.Egress[0].Ports) != 0 {
		t.Errorf("NetworkPolicy %s: want all egress allowed (API server, metric providers), got %+v", np.Name, np.Spec.Egress)
	}
}

// checkEvents: the controller recorded events about the Rollout (events.k8s.io, in the
// Rollout's namespace).
func checkEvents(t *testing.T, c client.Client, ro *v1alpha1.Rollout) {
	t.Helper()
	devclustertest.Eventually(t, 10*time.Second, func() string {
		var events eventsv1.EventList
		if err := c.List(t.Context(), &events, client.InNamespace(ro.Namespace)); err != nil {
			return err.Error()
		}
		for _, e := range events.Items {
			if e.Regarding.Kind == "Rollout" && e.Regarding.Name == ro.Name {
				return ""
			}
		}
		return fmt.Sprintf("no event about Rollout %s/%s among %d events", ro.Namespace, ro.Name, len(events.Items))
	})
}
