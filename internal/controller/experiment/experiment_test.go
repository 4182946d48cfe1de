package experiment_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

type env struct {
	t  *testing.T
	ns string
	c  client.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := devclustertest.Config(t)
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: devclustertest.Namespace(t), c: c}
	controllertest.Start(t, cfg, e.ns)
	return e
}

func (e *env) create(objs ...client.Object) {
	e.t.Helper()
	for _, o := range objs {
		o.SetNamespace(e.ns)
		if err := e.c.Create(e.t.Context(), o); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) get(name string, o client.Object) error {
	return e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, o)
}

func (e *env) experiment(name string) *v1alpha1.Experiment {
	e.t.Helper()
	ex := &v1alpha1.Experiment{}
	if err := e.get(name, ex); err != nil {
		e.t.Fatal(err)
	}
	return ex
}

func (e *env) waitPhase(name string, want v1alpha1.AnalysisPhase, timeout time.Duration) *v1alpha1.Experiment {
	e.t.Helper()
	var ex *v1alpha1.Experiment
	devclustertest.Eventually(e.t, timeout, func() string {
		ex = e.experiment(name)
		if ex.Status.Phase != want {
			return fmt.Sprintf("experiment %s: %s %q, want %s; templates %+v", name, ex.Status.Phase, ex.Status.Message, want, ex.Status.TemplateStatuses)
		}
		return ""
	})
	return ex
}

func template(name string, replicas int32, annotations map[string]string) v1alpha1.TemplateSpec {
	return v1alpha1.TemplateSpec{
		Name: name, Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guestbook", "role": name}},
		Template: v1alpha1.PodTemplateSpec{
			PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: map[string]string{"app": "guestbook", "role": name}, Annotations: annotations},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "guestbook", Image: "argoproj/rollouts-demo:" + name,
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			}}},
		},
	}
}

func templateStatus(ex *v1alpha1.Experiment, name string) v1alpha1.TemplateStatus {
	for _, ts := range ex.Status.TemplateStatuses {
		if ts.Name == name {
			return ts
		}
	}
	return v1alpha1.TemplateStatus{}
}

// A standalone Experiment with two templates (one with a Service) runs its duration once both
// are available, ends Successful with Argo's status, keeps its pods for scaleDownDelaySeconds
// and then scales both ReplicaSets to 0 and deletes the Service.
func TestStandaloneExperimentRunsItsDurationAndScalesDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	baseline := template("baseline", 1, nil)
	baseline.Service = &v1alpha1.TemplateService{}
	e.create(&v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Name: "guestbook"},
		Spec: v1alpha1.ExperimentSpec{
			Templates: []v1alpha1.TemplateSpec{baseline, template("canary", 2, nil)},
			Duration:  "4s", ScaleDownDelaySeconds: new(int32(3)),
		},
	})
	ex := e.waitPhase("guestbook", v1alpha1.AnalysisPhaseRunning, time.Minute)
	if ex.Status.AvailableAt == nil {
		t.Fatal("Running without availableAt")
	}
	rs := &appsv1.ReplicaSet{}
	if err := e.get("guestbook-canary", rs); err != nil {
		t.Fatal(err)
	}
	hash := rs.Labels[v1alpha1.LabelPodTemplateHash]
	if hash == "" || rs.Spec.Template.Labels[v1alpha1.LabelPodTemplateHash] != hash || rs.Spec.Selector.MatchLabels[v1alpha1.LabelPodTemplateHash] != hash ||
		rs.Annotations[v1alpha1.AnnotationExperimentName] != "guestbook" || rs.Annotations[v1alpha1.AnnotationExperimentTemplateName] != "canary" ||
		metav1.GetControllerOf(rs) == nil || metav1.GetControllerOf(rs).Kind != "Experiment" || *rs.Spec.Replicas != 2 {
		t.Fatalf("canary ReplicaSet %+v %+v", rs.ObjectMeta, rs.Spec.Replicas)
	}
	svc := &corev1.Service{}
	if err := e.get("guestbook-baseline", svc); err != nil {
		t.Fatalf("the baseline's Service: %v", err)
	}
	bs := templateStatus(ex, "baseline")
	if svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] == "" || svc.Spec.Ports[0].Port != 8080 || bs.ServiceName != "guestbook-baseline" || bs.PodTemplateHash != svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] {
		t.Fatalf("service %+v, baseline status %+v", svc.Spec, bs)
	}

	ex = e.waitPhase("guestbook", v1alpha1.AnalysisPhaseSuccessful, time.Minute)
	done := time.Now()
	if ran := done.Sub(ex.Status.AvailableAt.Time); ran < 4*time.Second {
		t.Errorf("Successful %v after availableAt, duration is 4s", ran)
	}
	for _, name := range []string{"baseline", "canary"} {
		if ts := templateStatus(ex, name); ts.Status != v1alpha1.TemplateStatusSuccessful || ts.AvailableReplicas == 0 || ts.LastTransitionTime == nil {
			t.Errorf("template %s at the end: %+v", name, ts)
		}
	}
	if c := ex.Status.Conditions; len(c) != 1 || c[0].Type != v1alpha1.ExperimentProgressing || c[0].Status != corev1.ConditionFalse || c[0].Reason != "ExperimentCompleted" {
		t.Errorf("conditions %+v", c)
	}
	// Scaled down after the delay, not before; then the Service goes.
	devclustertest.Eventually(t, 30*time.Second, func() string {
		for _, name := range []string{"guestbook-baseline", "guestbook-canary"} {
			if err := e.get(name, rs); err != nil || *rs.Spec.Replicas != 0 {
				return fmt.Sprintf("%s: %v, %d replicas", name, err, *rs.Spec.Replicas)
			}
		}
		return ""
	})
	if at, err := time.Parse(time.RFC3339, rs.Annotations[v1alpha1.AnnotationScaleDownDeadline]); err != nil || at.Before(done.Add(2*time.Second)) {
		t.Errorf("scale-down-deadline %q, want about 3s after the end at %v", rs.Annotations[v1alpha1.AnnotationScaleDownDeadline], done)
	}
	devclustertest.Eventually(t, 30*time.Second, func() string {
		if err := e.get("guestbook-baseline", &corev1.Service{}); !apierrors.IsNotFound(err) {
			return fmt.Sprintf("the baseline's Service is still there (%v)", err)
		}
		if ts := templateStatus(e.experiment("guestbook"), "baseline"); ts.ServiceName != "" || ts.AvailableReplicas != 0 {
			return fmt.Sprintf("baseline status %+v", ts)
		}
		return ""
	})
	if ex := e.experiment("guestbook"); ex.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("phase after the scale-down %s", ex.Status.Phase)
	}
}

// rateBackend is a metrics backend on loopback: an error rate per pod-template hash.
type rateBackend struct {
	mu     sync.Mutex
	hashes []string
	srv    *httptest.Server
}

func newRateBackend(t *testing.T, rate string) *rateBackend {
	t.Helper()
	b := &rateBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hashes = append(b.hashes, r.URL.Query().Get("hash"))
		b.mu.Unlock()
		fmt.Fprintf(w, `{"errorRate":%s}`, rate)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func rateTemplate(url string) *v1alpha1.AnalysisTemplate {
	n := intstr.FromInt32(2)
	return &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "error-rate"},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "hash"}},
			Metrics: []v1alpha1.Metric{{
				Name: "error-rate", Interval: "1s", Count: &n, SuccessCondition: "result <= 0.05",
				Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: url + "/?hash={{args.hash}}", JSONPath: "{$.errorRate}"}},
			}},
		},
	}
}

// An Experiment without a duration whose required analysis (measuring the canary template's
// pods by their hash) fails goes Failed with the analysis's message, and scales down.
func TestRequiredAnalysisFailureFailsTheExperiment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newRateBackend(t, "0.5")
	e.create(rateTemplate(b.srv.URL), &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Name: "compare"},
		Spec: v1alpha1.ExperimentSpec{
			Templates:             []v1alpha1.TemplateSpec{template("baseline", 1, nil), template("canary", 1, nil)},
			ScaleDownDelaySeconds: new(int32(0)),
			Analyses: []v1alpha1.ExperimentAnalysisTemplateRef{{
				Name: "canary-errors", TemplateName: "error-rate", RequiredForCompletion: true,
				Args: []v1alpha1.Argument{{Name: "hash", Value: new("{{templates.canary.podTemplateHash}}")}},
			}},
		},
	})
	ex := e.waitPhase("compare", v1alpha1.AnalysisPhaseFailed, time.Minute)
	if !strings.Contains(ex.Status.Message, "error-rate") || len(ex.Status.AnalysisRuns) != 1 ||
		ex.Status.AnalysisRuns[0].AnalysisRun != "compare-canary-errors" || ex.Status.AnalysisRuns[0].Phase != v1alpha1.AnalysisPhaseFailed {
		t.Fatalf("failed experiment: %q %+v", ex.Status.Message, ex.Status.AnalysisRuns)
	}
	rs := &appsv1.ReplicaSet{}
	if err := e.get("compare-canary", rs); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	got := append([]string(nil), b.hashes...)
	b.mu.Unlock()
	if len(got) == 0 || got[0] != rs.Labels[v1alpha1.LabelPodTemplateHash] {
		t.Errorf("the backend was asked for %v, want the canary template's hash %s", got, rs.Labels[v1alpha1.LabelPodTemplateHash])
	}
	devclustertest.Eventually(t, 30*time.Second, func() string {
		if err := e.get("compare-canary", rs); err != nil || *rs.Spec.Replicas != 0 {
			return fmt.Sprintf("canary not scaled down (%v)", err)
		}
		return ""
	})
}

// A template whose pods never become ready fails the Experiment at progressDeadlineSeconds.
func TestPodsNeverReadyMissTheProgressDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(&v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Name: "stuck"},
		Spec: v1alpha1.ExperimentSpec{
			Templates: []v1alpha1.TemplateSpec{
				template("baseline", 1, nil),
				template("canary", 1, map[string]string{devcluster.ReadyAnnotation: "never"}),
			},
			Duration: "1h", ProgressDeadlineSeconds: new(int32(5)),
		},
	})
	ex := e.waitPhase("stuck", v1alpha1.AnalysisPhaseFailed, time.Minute)
	if want := "Template 'canary' exceeded its progressDeadlineSeconds (5)"; ex.Status.Message != want || templateStatus(ex, "canary").Status != v1alpha1.TemplateStatusFailed {
		t.Fatalf("message %q, canary %+v", ex.Status.Message, templateStatus(ex, "canary"))
	}
	if ex.Status.AvailableAt != nil {
		t.Errorf("availableAt %v with a template never available", ex.Status.AvailableAt)
	}
}
