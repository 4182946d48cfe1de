package analysis_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
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

func (e *env) run(name string) *v1alpha1.AnalysisRun {
	e.t.Helper()
	ar := &v1alpha1.AnalysisRun{}
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, ar); err != nil {
		e.t.Fatal(err)
	}
	return ar
}

func (e *env) waitPhase(name string, want v1alpha1.AnalysisPhase) *v1alpha1.AnalysisRun {
	e.t.Helper()
	var ar *v1alpha1.AnalysisRun
	devclustertest.Eventually(e.t, time.Minute, func() string {
		ar = e.run(name)
		if ar.Status.Phase != want {
			return fmt.Sprintf("run %s: %s %q, want %s", name, ar.Status.Phase, ar.Status.Message, want)
		}
		return ""
	})
	return ar
}

// errorRate is a loopback web backend whose error rate a test sets; it checks the token.
type errorRate struct {
	rate  atomic.Value // string
	calls atomic.Int32
	srv   *httptest.Server
}

func newErrorRate(t *testing.T, token string) *errorRate {
	t.Helper()
	b := &errorRate{}
	b.rate.Store("0")
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"service":%q,"errorRate":%s}`, r.URL.Query().Get("service"), b.rate.Load())
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func webRun(name, url string, mod func(*v1alpha1.AnalysisRun)) *v1alpha1.AnalysisRun {
	count := intstr.FromInt32(3)
	ar := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.AnalysisRunSpec{
			Args: []v1alpha1.Argument{
				{Name: "service", Value: new("checkout")},
				{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "backend", Key: "token"}}},
			},
			Metrics: []v1alpha1.Metric{{
				Name: "error-rate", Interval: "1s", Count: &count,
				SuccessCondition: "result <= 0.05",
				Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{
					URL:      url + "/rate?service={{args.service}}",
					Headers:  []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}},
					JSONPath: "{$.errorRate}",
				}},
			}},
		},
	}
	if mod != nil {
		mod(ar)
	}
	return ar
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

func secret(token string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "backend"}, StringData: map[string]string{"token": token}}
}

// A standalone run against a real HTTP backend: measured three times a second apart, with the
// token from a Secret that never shows up in the run.
func TestWebRunSucceedsAndFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const token = "s3cr3t-t0ken"
	b := newErrorRate(t, token)
	e.create(secret(token), webRun("good", b.srv.URL, nil))
	ar := e.waitPhase("good", v1alpha1.AnalysisPhaseSuccessful)
	res := ar.Status.MetricResults[0]
	if res.Count != 3 || res.Successful != 3 || len(res.Measurements) != 3 || res.Measurements[0].Value != "0" {
		t.Fatalf("metric result %+v", res)
	}
	if ar.Status.RunSummary != (v1alpha1.RunSummary{Count: 1, Successful: 1}) {
		t.Errorf("runSummary %+v", ar.Status.RunSummary)
	}
	if gap := res.Measurements[2].StartedAt.Sub(res.Measurements[0].StartedAt.Time); gap < 2*time.Second-time.Millisecond {
		t.Errorf("three measurements within %v; interval is 1s", gap)
	}
	raw, _ := json.Marshal(ar)
	if strings.Contains(string(raw), token) {
		t.Fatalf("the secret is stored in the run: %s", raw)
	}

	b.rate.Store("0.2")
	e.create(webRun("bad", b.srv.URL, nil))
	ar = e.waitPhase("bad", v1alpha1.AnalysisPhaseFailed)
	if want := `Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0): last value 0.2`; ar.Status.Message != want {
		t.Errorf("message %q, want %q", ar.Status.Message, want)
	}

	// A wrong token: an Error measurement whose message has the backend's answer, never the token.
	e.create(webRun("denied", b.srv.URL, func(ar *v1alpha1.AnalysisRun) {
		ar.Spec.Args[1] = v1alpha1.Argument{Name: "token", Value: new("wrong-" + token)}
		ar.Spec.Metrics[0].ConsecutiveErrorLimit = new(intstr.FromInt32(0))
	}))
	ar = e.waitPhase("denied", v1alpha1.AnalysisPhaseError)
	if m := ar.Status.MetricResults[0].Measurements[0].Message; !strings.Contains(m, "401") {
		t.Errorf("error measurement message %q", m)
	}
}

func TestTerminateAndTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newErrorRate(t, "t")
	// Runs until terminated (interval, no count).
	e.create(secret("t"), webRun("forever", b.srv.URL, func(ar *v1alpha1.AnalysisRun) {
		ar.Spec.Metrics[0].Count = nil
		ar.Spec.TTLStrategy = &v1alpha1.TTLStrategy{SecondsAfterSuccess: new(int32(2))}
	}))
	devclustertest.Eventually(t, time.Minute, func() string {
		if ar := e.run("forever"); len(ar.Status.MetricResults) == 0 || ar.Status.MetricResults[0].Count < 2 {
			return "waiting for two measurements"
		}
		return ""
	})
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"terminate":true}}`))
	if err := e.c.Patch(t.Context(), &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "forever"}}, patch); err != nil {
		t.Fatal(err)
	}
	ar := e.waitPhase("forever", v1alpha1.AnalysisPhaseSuccessful)
	if ar.Status.Message != "Run Terminated" {
		t.Errorf("message %q", ar.Status.Message)
	}
	devclustertest.Eventually(t, 30*time.Second, func() string {
		err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: "forever"}, &v1alpha1.AnalysisRun{})
		if !apierrors.IsNotFound(err) {
			return "waiting for ttlStrategy.secondsAfterSuccess to delete the run"
		}
		return ""
	})
}

func TestInvalidRunIsAnError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(webRun("typo", "http://127.0.0.1:1", func(ar *v1alpha1.AnalysisRun) {
		ar.Spec.Metrics[0].Provider.Web.URL = "http://127.0.0.1:1/?s={{args.servise}}"
	}))
	ar := e.waitPhase("typo", v1alpha1.AnalysisPhaseError)
	if !strings.Contains(ar.Status.Message, "{{args.servise}}") {
		t.Errorf("message %q does not name the unresolved placeholder", ar.Status.Message)
	}
}
