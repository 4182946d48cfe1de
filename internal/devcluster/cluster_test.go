package devcluster_test

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	devclustertest.Eventually(t, timeout, cond)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestDeploymentPodsRunReadyAndFillEndpointSlices(t *testing.T) {
	cs := kubernetes.NewForConfigOrDie(devclustertest.Config(t))
	ns := devclustertest.Namespace(t)
	ctx := t.Context()
	labels := map[string]string{"app": "web"}
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "example/web:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var podIPs []string
	eventually(t, 60*time.Second, func() string {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err.Error()
		}
		podIPs = podIPs[:0]
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || !podReady(&p) || p.Status.PodIP == "" || p.Spec.NodeName == "" {
				return "pod " + p.Name + " is not Running+Ready with an IP on a node yet"
			}
			podIPs = append(podIPs, p.Status.PodIP)
		}
		if len(podIPs) != 3 {
			return "want 3 pods"
		}
		return ""
	})
	slices.Sort(podIPs)
	for i := 1; i < len(podIPs); i++ {
		if podIPs[i] == podIPs[i-1] {
			t.Fatalf("pod IPs are not unique: %v", podIPs)
		}
	}
	eventually(t, 30*time.Second, func() string {
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err.Error()
		}
		var ready []string
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					ready = append(ready, ep.Addresses...)
				}
			}
		}
		slices.Sort(ready)
		if len(ready) != 3 {
			return "EndpointSlice has " + strconv.Itoa(len(ready)) + " ready endpoints, want 3"
		}
		for i := range ready {
			if ready[i] != podIPs[i] {
				return "EndpointSlice addresses differ from pod IPs"
			}
		}
		return ""
	})
	eventually(t, 30*time.Second, func() string {
		dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if dep.Status.AvailableReplicas != 3 {
			return "Deployment available replicas = " + strconv.Itoa(int(dep.Status.AvailableReplicas)) + ", want 3"
		}
		return ""
	})
}

func TestReadinessGateControlsPodReady(t *testing.T) {
	cs := kubernetes.NewForConfigOrDie(devclustertest.Config(t))
	ns := devclustertest.Namespace(t)
	ctx := t.Context()
	const gate = "example.com/ready"
	_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gated"},
		Spec: corev1.PodSpec{
			Containers:     []corev1.Container{{Name: "c", Image: "example/c:1"}},
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gate}, {ConditionType: "example.com/second"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *corev1.Pod {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "gated", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	eventually(t, 30*time.Second, func() string {
		if p := get(); p.Status.Phase != corev1.PodRunning {
			return "pod phase " + string(p.Status.Phase)
		}
		return ""
	})
	setGate := func(cond, status string) {
		t.Helper()
		patch := `{"status":{"conditions":[{"type":"` + cond + `","status":"` + status + `"}]}}`
		if _, err := cs.CoreV1().Pods(ns).Patch(ctx, "gated", types.StrategicMergePatchType, []byte(patch),
			metav1.PatchOptions{}, "status"); err != nil {
			t.Fatal(err)
		}
	}
	// Running with no gate set: not Ready, and it stays so (give kwok time to get it wrong).
	time.Sleep(time.Second)
	if podReady(get()) {
		t.Fatal("pod with unset readiness gates is Ready")
	}
	setGate(gate, "True")
	time.Sleep(time.Second)
	if podReady(get()) {
		t.Fatal("pod is Ready with only one of two gates True")
	}
	setGate("example.com/second", "True")
	eventually(t, 15*time.Second, func() string {
		if !podReady(get()) {
			return "pod not Ready after both gates went True"
		}
		return ""
	})
	setGate(gate, "False")
	eventually(t, 15*time.Second, func() string {
		if podReady(get()) {
			return "pod still Ready after a gate went False"
		}
		return ""
	})
	setGate(gate, "True")
	eventually(t, 15*time.Second, func() string {
		if !podReady(get()) {
			return "pod not Ready again after the gate went back to True"
		}
		return ""
	})
}

func TestThirdPartyCRDsInstallFromModuleCache(t *testing.T) {
	c := devclustertest.Cluster(t)
	ctx := t.Context()
	if err := c.InstallCRDs(ctx, devcluster.CRDsIstio, devcluster.CRDsGatewayAPI, devcluster.CRDsSMI); err != nil {
		t.Fatal(err)
	}
	ns := devclustertest.Namespace(t)
	dyn := dynamic.NewForConfigOrDie(c.RESTConfig())
	objs := []struct {
		gvr schema.GroupVersionResource
		obj map[string]any
	}{
		{schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1beta1", Resource: "virtualservices"}, map[string]any{
			"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": map[string]any{"name": "vs"},
			"spec": map[string]any{"hosts": []any{"web"}, "http": []any{map[string]any{"name": "primary", "route": []any{
				map[string]any{"destination": map[string]any{"host": "stable"}, "weight": int64(80)},
				map[string]any{"destination": map[string]any{"host": "canary"}, "weight": int64(20)},
			}}}},
		}},
		{schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}, map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": map[string]any{"name": "route"},
			"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": []any{
				map[string]any{"name": "stable", "port": int64(80), "weight": int64(80)},
				map[string]any{"name": "canary", "port": int64(80), "weight": int64(20)},
			}}}},
		}},
		{schema.GroupVersionResource{Group: "split.smi-spec.io", Version: "v1alpha2", Resource: "trafficsplits"}, map[string]any{
			"apiVersion": "split.smi-spec.io/v1alpha2", "kind": "TrafficSplit", "metadata": map[string]any{"name": "split"},
			"spec": map[string]any{"service": "web", "backends": []any{
				map[string]any{"service": "stable", "weight": int64(80)}, map[string]any{"service": "canary", "weight": int64(20)},
			}},
		}},
	}
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o.obj}
		if _, err := dyn.Resource(o.gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Errorf("creating %s: %v", o.gvr.Resource, err)
		}
	}
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "grpcroutes"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "tcproutes"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "tlsroutes"},
	} {
		if _, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("listing %s: %v", gvr, err)
		}
	}
}
