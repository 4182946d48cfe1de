package job_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/job"
	"github.com/sluicehq/sluice/internal/metricprovider/providertest"
)

func TestMain(m *testing.M) {
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

// env is a provider on the test cluster and an AnalysisRun in a fresh namespace (a real one:
// the garbage collector deletes Jobs whose owner does not exist).
type env struct {
	t   *testing.T
	c   client.Client
	p   *job.Provider
	run *v1alpha1.AnalysisRun
}

func newEnv(t *testing.T) *env {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(devclustertest.Config(t), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	run := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: devclustertest.Namespace(t)},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
			Name: "placeholder", Provider: v1alpha1.MetricProvider{Job: jobMetric("exit 0", nil)},
		}}},
	}
	if err := c.Create(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: c, p: job.New(metricprovider.Deps{Client: c}), run: run}
}

func jobMetric(script string, mutate func(*v1alpha1.JobSpec)) *v1alpha1.JobMetric {
	m := &v1alpha1.JobMetric{
		Metadata: v1alpha1.PodTemplateMetadata{
			Labels:      map[string]string{"team": "checkout"},
			Annotations: map[string]string{"note": "smoke"},
		},
		Spec: v1alpha1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: v1alpha1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "test", Image: "alpine:3.8", Command: []string{"sh", "-c"}, Args: []string{script},
				}},
			}},
		},
	}
	if mutate != nil {
		mutate(&m.Spec)
	}
	return m
}

func (e *env) request(metric string, jm *v1alpha1.JobMetric) metricprovider.Request {
	return metricprovider.Request{
		Run:    e.run,
		Metric: v1alpha1.Metric{Name: metric, Provider: v1alpha1.MetricProvider{Job: jm}},
		Now:    time.Now(),
	}
}

// measure calls Measure, then Resume until the measurement is no longer Running.
func (e *env) measure(req metricprovider.Request, timeout time.Duration) (first, last metricprovider.Result) {
	e.t.Helper()
	first = e.p.Measure(e.t.Context(), req)
	if first.Err != nil || first.Phase != v1alpha1.AnalysisPhaseRunning {
		e.t.Fatalf("Measure: %+v, want Running", first)
	}
	if first.Metadata[job.MetadataJobName] == "" || first.ResumeAt.IsZero() {
		e.t.Fatalf("Measure: no job-name or no ResumeAt: %+v", first)
	}
	m := v1alpha1.Measurement{Phase: first.Phase, Metadata: first.Metadata, StartedAt: &metav1.Time{Time: req.Now}}
	last = first
	devclustertest.Eventually(e.t, timeout, func() string {
		req.Now = time.Now()
		last = e.p.Resume(e.t.Context(), req, m)
		if last.Phase == v1alpha1.AnalysisPhaseRunning && last.Err == nil {
			return "still running: " + last.Message
		}
		return ""
	})
	return first, last
}

func (e *env) job(name string) (*batchv1.Job, error) {
	j := &batchv1.Job{}
	return j, e.c.Get(e.t.Context(), client.ObjectKey{Namespace: e.run.Namespace, Name: name}, j)
}

func TestSuccessfulJobWithArgoLabelsAnnotationsAndOwner(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	first, last := e.measure(e.request("smoke", jobMetric("exit 0", nil)), 30*time.Second)
	t.Logf("Measure -> Successful in %s", time.Since(start).Round(time.Millisecond))
	if last.Phase != v1alpha1.AnalysisPhaseSuccessful || last.Err != nil {
		t.Fatalf("result %+v, want Successful", last)
	}
	name := first.Metadata[job.MetadataJobName]
	if want := string(e.run.UID) + ".smoke.1"; name != want {
		t.Fatalf("Job name %s, want %s", name, want)
	}
	j, err := e.job(name)
	if err != nil {
		t.Fatal(err)
	}
	if j.Labels[job.LabelRunUID] != string(e.run.UID) || j.Labels["team"] != "checkout" {
		t.Errorf("labels %v", j.Labels)
	}
	for k, v := range map[string]string{
		job.AnnotationRunName: "run", job.AnnotationRunNamespace: e.run.Namespace,
		job.AnnotationMetricName: "smoke", "note": "smoke",
	} {
		if j.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, j.Annotations[k], v)
		}
	}
	ref := metav1.GetControllerOf(j)
	if ref == nil || ref.UID != e.run.UID || ref.Kind != "AnalysisRun" || ref.APIVersion != "argoproj.io/v1alpha1" {
		t.Errorf("controller reference %+v, want the AnalysisRun", ref)
	}
	if ts := resumeIn(first); ts <= 0 || ts > 10*time.Second {
		t.Errorf("ResumeAt %s after Now", ts)
	}
}

// resumeIn is how long after the request a result asks to be resumed.
func resumeIn(r metricprovider.Result) time.Duration { return time.Until(r.ResumeAt) + time.Second/2 }

func TestFailedJobFailsTheMeasurement(t *testing.T) {
	e := newEnv(t)
	_, last := e.measure(e.request("smoke", jobMetric("sleep 1 && exit 1", nil)), 30*time.Second)
	if last.Phase != v1alpha1.AnalysisPhaseFailed || !strings.Contains(last.Message, "BackoffLimitExceeded") {
		t.Fatalf("result %+v, want Failed with BackoffLimitExceeded", last)
	}
	t.Log(last.Message)
}

func TestJobPastItsDeadlineFailsTheMeasurement(t *testing.T) {
	e := newEnv(t)
	req := e.request("slow", jobMetric("sleep infinity", func(s *v1alpha1.JobSpec) {
		s.ActiveDeadlineSeconds = ptr.To[int64](2)
	}))
	start := time.Now()
	_, last := e.measure(req, 30*time.Second)
	// The Job's status.startTime has whole seconds, so its deadline may pass up to 1 s early.
	if d := time.Since(start); d < time.Second {
		t.Fatalf("finished after %s, before the Job's 2 s deadline", d)
	}
	if last.Phase != v1alpha1.AnalysisPhaseFailed || !strings.Contains(last.Message, "DeadlineExceeded") {
		t.Fatalf("result %+v, want Failed with DeadlineExceeded", last)
	}
	t.Logf("after %s: %s", time.Since(start).Round(time.Millisecond), last.Message)
}

func TestTerminateDeletesTheRunningJob(t *testing.T) {
	e := newEnv(t)
	req := e.request("forever", jobMetric("sleep infinity", nil))
	first := e.p.Measure(t.Context(), req)
	name := first.Metadata[job.MetadataJobName]
	m := v1alpha1.Measurement{Phase: first.Phase, Metadata: first.Metadata}
	time.Sleep(time.Second)
	if r := e.p.Resume(t.Context(), req, m); r.Phase != v1alpha1.AnalysisPhaseRunning {
		t.Fatalf("Resume of a sleeping Job: %+v, want Running", r)
	}
	r := e.p.Terminate(t.Context(), req, m)
	if r.Phase != v1alpha1.AnalysisPhaseSuccessful || r.Err != nil {
		t.Fatalf("Terminate: %+v, want Successful", r)
	}
	devclustertest.Eventually(t, 30*time.Second, func() string {
		if _, err := e.job(name); !apierrors.IsNotFound(err) {
			return "the Job still exists"
		}
		pods := &corev1.PodList{}
		if err := e.c.List(t.Context(), pods, client.InNamespace(e.run.Namespace)); err != nil {
			return err.Error()
		}
		if len(pods.Items) > 0 {
			return "the Job's pod still exists"
		}
		return ""
	})
	if r := e.p.Terminate(t.Context(), req, m); r.Err != nil {
		t.Fatalf("Terminate of a deleted Job: %v", r.Err)
	}
}

func TestGarbageCollectKeepsTheNewestOfTheMetric(t *testing.T) {
	e := newEnv(t)
	var names []string
	for i := range 3 {
		e.run.Status.MetricResults = []v1alpha1.MetricResult{{Name: "gc", Count: int32(i)}}
		r := e.p.Measure(t.Context(), e.request("gc", jobMetric("exit 0", nil)))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		names = append(names, r.Metadata[job.MetadataJobName])
	}
	other := e.p.Measure(t.Context(), e.request("other", jobMetric("exit 0", nil))).Metadata[job.MetadataJobName]
	if err := e.p.GarbageCollect(t.Context(), e.request("gc", nil), 1); err != nil {
		t.Fatal(err)
	}
	devclustertest.Eventually(t, 10*time.Second, func() string {
		for i, n := range append(names, other) {
			_, err := e.job(n)
			if gone := apierrors.IsNotFound(err); gone != (i < 2) {
				return n + ": gone=" + map[bool]string{true: "yes", false: "no"}[gone]
			}
		}
		return ""
	})
}

func TestExistingJobOfTheRunIsAdoptedAndAnotherRunsIsNot(t *testing.T) {
	e := newEnv(t)
	req := e.request("twice", jobMetric("sleep infinity", nil))
	a := e.p.Measure(t.Context(), req)
	b := e.p.Measure(t.Context(), req) // as after a restart that lost the first measurement
	if b.Err != nil || b.Phase != v1alpha1.AnalysisPhaseRunning || b.Metadata[job.MetadataJobName] != a.Metadata[job.MetadataJobName] {
		t.Fatalf("second Measure: %+v, want Running with the same Job as %+v", b, a)
	}
	jobs := &batchv1.JobList{}
	if err := e.c.List(t.Context(), jobs, client.InNamespace(e.run.Namespace)); err != nil || len(jobs.Items) != 1 {
		t.Fatalf("%d Jobs (%v), want 1", len(jobs.Items), err)
	}

	// Another real run: an owner that does not exist would make the garbage collector delete
	// the Job.
	impostor := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: e.run.Namespace},
		Spec:       *e.run.Spec.DeepCopy(),
	}
	if err := e.c.Create(t.Context(), impostor); err != nil {
		t.Fatal(err)
	}
	j, err := e.job(a.Metadata[job.MetadataJobName])
	if err != nil {
		t.Fatal(err)
	}
	orig := j.DeepCopy()
	j.OwnerReferences[0].UID, j.OwnerReferences[0].Name = impostor.UID, impostor.Name // another run's Job
	// A merge patch: the Job controller updates the Job too, so an Update could conflict.
	if err := e.c.Patch(t.Context(), j, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	if r := e.p.Measure(t.Context(), req); r.Err == nil {
		t.Fatalf("Measure adopted a Job another run controls: %+v", r)
	}
}

func TestLongMetricNameGivesAValidJobName(t *testing.T) {
	e := newEnv(t)
	metric := "request-success-rate-of-the-canary-behind-the-ingress"
	_, last := e.measure(e.request(metric, jobMetric("exit 0", nil)), 30*time.Second)
	name := last.Metadata[job.MetadataJobName]
	if last.Phase != v1alpha1.AnalysisPhaseSuccessful || len(name) > 63 || !strings.HasSuffix(name, ".1") {
		t.Fatalf("result %+v (name %s, %d chars)", last, name, len(name))
	}
	if job.Name(string(e.run.UID), metric, 1) != name {
		t.Fatalf("name not deterministic")
	}
}

func TestNameIsArgosWhenValidElseShortened(t *testing.T) {
	const uid = "0b4f1a2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
	if got := job.Name(uid, "smoke", 3); got != uid+".smoke.3" {
		t.Errorf("Name = %s, want Argo's <uid>.<metric>.<n>", got)
	}
	for _, metric := range []string{"successRate", "p99_latency", "a-metric-name-long-enough-to-push-the-job-name-past-63", "___"} {
		got := job.Name(uid, metric, 12)
		if len(got) > 63 || len(validation.IsDNS1123Subdomain(got)) > 0 || !strings.HasPrefix(got, "0b4f1a2c.") || !strings.HasSuffix(got, ".12") {
			t.Errorf("Name(%q) = %s: not a valid shortened Job name", metric, got)
		}
		if job.Name(uid, metric, 12) == job.Name(uid, metric+"x", 12) {
			t.Errorf("Name(%q) collides with another metric's", metric)
		}
	}
}

// The conformance suite's value checks do not apply to a provider with its own verdict; its
// Measure driver does, and so do its concurrency and zero-metric expectations.
func TestConcurrentMeasurementsThroughProvidertest(t *testing.T) {
	e := newEnv(t)
	const n = 6
	results := make([]metricprovider.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		script := []string{"exit 0", "sleep 1; exit 3"}[i%2]
		req := e.request(fmt.Sprintf("m%d", i), jobMetric(script, nil))
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			results[i] = providertest.Measure(ctx, e.p, req)
		})
	}
	wg.Wait()
	for i, r := range results {
		want := []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed}[i%2]
		if r.Err != nil || r.Phase != want {
			t.Errorf("measurement %d: %+v, want %s", i, r, want)
		}
	}
}

func TestZeroMetricsAndMeasurementsAreErrorsNotPanics(t *testing.T) {
	e := newEnv(t)
	for name, m := range map[string]v1alpha1.Metric{
		"zero job block": {Name: "zero", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{}}},
		"no job block":   {Name: "none"},
		"zero metric":    {},
	} {
		req := metricprovider.Request{Run: e.run, Metric: m, Now: time.Now()}
		if r := e.p.Measure(t.Context(), req); r.Err == nil || r.Message == "" {
			t.Errorf("%s: Measure = %+v, want an error that says why", name, r)
		}
		if r := e.p.Resume(t.Context(), req, v1alpha1.Measurement{}); r.Err == nil {
			t.Errorf("%s: Resume of a measurement without job-name = %+v, want an error", name, r)
		}
		if r := e.p.Terminate(t.Context(), req, v1alpha1.Measurement{}); r.Err == nil {
			t.Errorf("%s: Terminate of a measurement without job-name = %+v, want an error", name, r)
		}
	}
}
