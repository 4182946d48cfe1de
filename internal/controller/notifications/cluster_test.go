package notifications_test

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
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
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

// hook is a webhook receiver on 127.0.0.1 that records "METHOD PATH auth BODY" lines.
type hook struct {
	*httptest.Server
	mu  sync.Mutex
	got []string
}

func newHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), b))
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func load(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile("../../../" + path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatal(err)
	}
}

// Argo's catalog in the controller's namespace, a webhook on 127.0.0.1 and a canary
// subscribed to it (examples/notifications): the initial deploy, a step completed, a custom
// trigger whose condition holds at the pause, and an abort each send exactly one request,
// with Argo's template text rendered with the Rollout's values and the Secret's token.
func TestNotificationsOfACanary(t *testing.T) {
	t.Parallel()
	c, ns, h := setup(t, nil)
	ro := &v1alpha1.Rollout{}
	load(t, "examples/notifications/rollout.yaml", ro)
	ro.Namespace = ns
	ro.Annotations["notifications.argoproj.io/subscribe.on-canary-paused.my-hook"] = ""
	if err := c.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	waitRequests(t, h, completed)

	setImage(t, c, ro, "nginx:1.26")
	paused := `POST /paused Bearer s3cret {"rollout": "my-rollout", "step": 1}`
	waitRequests(t, h, completed, step1, paused)

	controllertest.StatusPatch(t, c, ns, ro.Name, `{"status":{"abort":true}}`)
	waitRequests(t, h, completed, step1, paused, aborted)

	// Nothing more comes (the pause condition was notified once for this pod hash).
	time.Sleep(3 * time.Second)
	if got := h.requests(); len(got) != 4 {
		t.Errorf("requests after the abort: %s", strings.Join(got, "\n"))
	}
	cur := &v1alpha1.Rollout{}
	if err := c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: ro.Name}, cur); err != nil {
		t.Fatal(err)
	}
	if v := cur.Annotations["notified.notifications.argoproj.io"]; !strings.Contains(v, "on-canary-paused:") {
		t.Errorf("notified annotation %q does not record the on-canary-paused notification", v)
	}
}

// The messages of Argo's catalog, for the Rollout of examples/notifications.
const (
	completed = "GET / Bearer s3cret Rollout my-rollout has been completed."
	step1     = "GET / Bearer s3cret Rollout my-rollout step number 1/3 has been completed."
	aborted   = "GET / Bearer s3cret Rollout my-rollout has been aborted."
	running   = "GET / Bearer s3cret Rollout my-rollout's analysis run is running."
	failed    = "GET / Bearer s3cret Rollout my-rollout's analysis run failed."
)

// An analysis step whose run starts, then fails: on-analysis-run-running and
// on-analysis-run-failed send Argo's messages (from the AnalysisRun<Phase> events on the
// Rollout), then on-rollout-aborted.
func TestAnalysisRunNotifications(t *testing.T) {
	t.Parallel()
	c, ns, h := setup(t, nil)
	var rate atomic.Value
	rate.Store("0")
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"errorRate": %s}`, rate.Load())
	}))
	t.Cleanup(metrics.Close)
	count := intstr.FromInt32(60)
	tmpl := &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "error-rate", Namespace: ns},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
			Name: "error-rate", Interval: "1s", Count: &count,
			SuccessCondition: "result <= 0.05", FailureCondition: "result > 0.1",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: metrics.URL, JSONPath: "{$.errorRate}"}},
		}}},
	}
	if err := c.Create(t.Context(), tmpl); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	load(t, "examples/notifications/rollout.yaml", ro)
	ro.Namespace = ns
	ro.Spec.Strategy.Canary.Steps[1] = v1alpha1.CanaryStep{Analysis: &v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "error-rate"}},
	}}
	ro.Annotations["notifications.argoproj.io/subscribe.on-analysis-run-running.my-hook"] = ""
	ro.Annotations["notifications.argoproj.io/subscribe.on-analysis-run-failed.my-hook"] = ""
	if err := c.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	waitRequests(t, h, completed)
	setImage(t, c, ro, "nginx:1.26")
	waitRequests(t, h, completed, step1, running)
	rate.Store("0.2")
	waitRequests(t, h, completed, step1, running, failed, aborted)
}

// A Rollout that takes its pod template from a Deployment (workloadRef): the event-triggered
// notification sees the Deployment's template in .rollout.spec.template, as under Argo.
func TestWorkloadRefTemplateInNotifications(t *testing.T) {
	t.Parallel()
	c, ns, h := setup(t, map[string]string{
		"template.rollout-completed": "message: Rollout {{.rollout.metadata.name}} runs {{(index .rollout.spec.template.spec.containers 0).image}}.\n",
	})
	labels := map[string]string{"app": "wl"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "wl", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
			},
		},
	}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "wl", Namespace: ns, Annotations: map[string]string{
			"notifications.argoproj.io/subscribe.on-rollout-completed.my-hook": "",
		}},
		Spec: v1alpha1.RolloutSpec{
			Replicas:    new(int32(1)),
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "wl"},
			Strategy:    v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{{SetWeight: new(int32(50))}}}},
		},
	}
	if err := c.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	waitRequests(t, h, "GET / Bearer s3cret Rollout wl runs nginx:1.25.")
}

func setImage(t *testing.T, c client.Client, ro *v1alpha1.Rollout, image string) {
	t.Helper()
	cur := &v1alpha1.Rollout{}
	if err := c.Get(t.Context(), types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}, cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Template.Spec.Containers[0].Image = image
	if err := c.Patch(t.Context(), cur, patch); err != nil {
		t.Fatal(err)
	}
}

// setup creates a namespace holding examples/notifications' ConfigMap (Argo's catalog, its
// webhook pointed at a hook on 127.0.0.1, plus a condition trigger on-canary-paused) and
// Secret (extra keys added), and runs the controller with it as the controller namespace.
func setup(t *testing.T, extra map[string]string) (client.Client, string, *hook) {
	t.Helper()
	cfg := devclustertest.Config(t)
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ns := devclustertest.Namespace(t)
	h := newHook(t)

	cm := &corev1.ConfigMap{}
	load(t, "examples/notifications/argo-rollouts-notification-configmap.yaml", cm)
	cm.Namespace = ns
	cm.Data["service.webhook.my-hook"] = "url: " + h.URL + "\nheaders:\n- name: Authorization\n  value: Bearer $hook-token\n"
	cm.Data["trigger.on-canary-paused"] = "- when: rollout.status.phase == 'Paused'\n  oncePer: rollout.status.currentPodHash\n  send: [canary-paused]\n"
	cm.Data["template.canary-paused"] = "webhook:\n  my-hook:\n    method: POST\n    path: /paused\n" +
		"    body: '{\"rollout\": \"{{.rollout.metadata.name}}\", \"step\": {{.rollout.status.currentStepIndex}}}'\n"
	maps.Copy(cm.Data, extra)
	secret := &corev1.Secret{}
	load(t, "examples/notifications/secret.yaml", secret)
	secret.Namespace = ns
	secret.StringData["hook-token"] = "s3cret"
	for _, o := range []client.Object{cm, secret} {
		if err := c.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	controllertest.StartWith(t, cfg, controller.Options{Namespace: ns, Workers: 2, ControllerNamespace: ns})
	return c, ns, h
}

// waitRequests waits until the hook has received exactly want (in any order: the event and
// condition paths run side by side).
func waitRequests(t *testing.T, h *hook, want ...string) {
	t.Helper()
	slices.Sort(want)
	devclustertest.Eventually(t, time.Minute, func() string {
		got := h.requests()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Sprintf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return ""
	})
}
