package rollout_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/controller/controllertest"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(devclustertest.Main(m, devcluster.Options{
		CRDs: []devcluster.CRDSet{devcluster.CRDsIstio, devcluster.CRDsGatewayAPI, devcluster.CRDsSMI},
	}))
}

// env is one test's namespace with its own controller (a manager scoped to the namespace), so
// tests run in parallel without sharing objects, and a test can kill and restart "its"
// controller.
type env struct {
	t    *testing.T
	ns   string
	c    client.Client
	stop func()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := devclustertest.Config(t)
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: devclustertest.Namespace(t), c: c}
	e.startController()
	return e
}

func (e *env) startController() {
	e.t.Helper()
	e.stop = controllertest.Start(e.t, devclustertest.Config(e.t), e.ns)
}

// waitFor polls cond until it returns "" (done) or the timeout passes.
func (e *env) waitFor(timeout time.Duration, cond func() string) {
	e.t.Helper()
	devclustertest.Eventually(e.t, timeout, cond)
}

func (e *env) rollout(name string) *v1alpha1.Rollout {
	e.t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, ro); err != nil {
		e.t.Fatal(err)
	}
	return ro
}

// load reads a Rollout manifest (a path relative to the repository root).
func load(t *testing.T, path string) *v1alpha1.Rollout {
	t.Helper()
	b, err := os.ReadFile("../../../" + path)
	if err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict(b, ro); err != nil {
		t.Fatal(err)
	}
	return ro
}

func (e *env) create(ro *v1alpha1.Rollout) {
	e.t.Helper()
	ro.Namespace = e.ns
	if err := e.c.Create(e.t.Context(), ro); err != nil {
		e.t.Fatal(err)
	}
}

// setImage patches the first container's image like `kubectl argo rollouts set image`.
func (e *env) setImage(name, image string) {
	e.t.Helper()
	ro := e.rollout(name)
	patch := client.MergeFrom(ro.DeepCopy())
	ro.Spec.Template.Spec.Containers[0].Image = image
	if err := e.c.Patch(e.t.Context(), ro, patch); err != nil {
		e.t.Fatal(err)
	}
}

// statusPatch applies a merge patch to the status subresource, as Argo's kubectl plugin does.
func (e *env) statusPatch(name, patch string) {
	e.t.Helper()
	controllertest.StatusPatch(e.t, e.c, e.ns, name, patch)
}

func (e *env) specPatch(name, patch string) {
	e.t.Helper()
	controllertest.SpecPatch(e.t, e.c, e.ns, name, patch)
}

// pods counts the Running, not-terminating pods per pod-template hash, and which are Ready.
func (e *env) pods(selector map[string]string) (running, ready map[string]int) {
	e.t.Helper()
	var list corev1.PodList
	if err := e.c.List(e.t.Context(), &list, client.InNamespace(e.ns), client.MatchingLabels(selector)); err != nil {
		e.t.Fatal(err)
	}
	running, ready = map[string]int{}, map[string]int{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		h := p.Labels[v1alpha1.LabelPodTemplateHash]
		running[h]++
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready[h]++
			}
		}
	}
	return running, ready
}

// replicaSetCount counts the ReplicaSets in the namespace.
func (e *env) replicaSetCount() int {
	e.t.Helper()
	var list appsv1.ReplicaSetList
	if err := e.c.List(e.t.Context(), &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	return len(list.Items)
}

// healthy waits until the Rollout is Healthy at the current generation, fully promoted.
func (e *env) waitHealthy(name string, timeout time.Duration) *v1alpha1.Rollout {
	e.t.Helper()
	var ro *v1alpha1.Rollout
	e.waitFor(timeout, func() string {
		ro = e.rollout(name)
		st := ro.Status
		if st.ObservedGeneration != fmt.Sprint(ro.Generation) || st.Phase != v1alpha1.RolloutPhaseHealthy ||
			st.StableRS != st.CurrentPodHash || st.AvailableReplicas != ptr.Deref(ro.Spec.Replicas, 1) {
			return fmt.Sprintf("rollout %s: phase %q %q, stable %q current %q, available %d", name, st.Phase, st.Message, st.StableRS, st.CurrentPodHash, st.AvailableReplicas)
		}
		return ""
	})
	return ro
}

func counts(m map[string]int) string {
	var parts []string
	for h, n := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", h, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
