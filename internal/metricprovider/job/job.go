package job

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// Type is the provider's key in a metric's provider block.
const Type = "job"

// Names Argo Rollouts gives a job metric's Job and measurement (argo-compat.md §1.6).
const (
	// MetadataJobName is the measurement's metadata key holding the Job's name.
	MetadataJobName = "job-name"
	// LabelRunUID is the Job's label holding the AnalysisRun's UID.
	LabelRunUID = "analysisrun.argoproj.io/uid"
	// AnnotationRunName is the Job's annotation holding the AnalysisRun's name.
	AnnotationRunName = "analysisrun.argoproj.io/name"
	// AnnotationRunNamespace is the Job's annotation holding the AnalysisRun's namespace.
	AnnotationRunNamespace = "analysisrun.argoproj.io/namespace"
	// AnnotationMetricName is the Job's annotation holding the metric's name.
	AnnotationMetricName = "analysisrun.argoproj.io/metric-name"
)

// Polling of a running Job (see the package documentation).
const (
	resumeYoung = 2 * time.Second
	resumeOld   = 10 * time.Second
	youngFor    = time.Minute
)

// Provider runs job metrics.
type Provider struct {
	client client.Client
}

// New returns a job provider. deps.Client must read from the API server (see the package
// documentation).
func New(deps metricprovider.Deps) *Provider { return &Provider{client: deps.Client} }

// Type implements metricprovider.Provider.
func (p *Provider) Type() string { return Type }

// Measure creates the measurement's Job (or adopts it) and returns Running.
func (p *Provider) Measure(ctx context.Context, req metricprovider.Request) metricprovider.Result {
	job, err := newJob(req)
	if err != nil {
		return metricprovider.Errorf(err)
	}
	err = p.client.Create(ctx, job)
	if err == nil {
		return running(job.Name, req.Now, req.Now, fmt.Sprintf("Job %s created", job.Name))
	}
	if !apierrors.IsAlreadyExists(err) {
		return metricprovider.Errorf(fmt.Errorf("creating Job %s/%s: %w", job.Namespace, job.Name, err))
	}
	existing := &batchv1.Job{}
	if err := p.client.Get(ctx, client.ObjectKeyFromObject(job), existing); err != nil {
		return metricprovider.Errorf(fmt.Errorf("reading the existing Job %s/%s: %w", job.Namespace, job.Name, err))
	}
	if ref := metav1.GetControllerOf(existing); ref == nil || ref.UID != req.Run.UID {
		return metricprovider.Errorf(fmt.Errorf("a Job %s/%s already exists and is not controlled by this AnalysisRun", job.Namespace, job.Name))
	}
	if res, done := verdict(existing); done {
		return res
	}
	return running(job.Name, req.Now, req.Now, fmt.Sprintf("Job %s adopted (it existed already)", job.Name))
}

// Resume reads the measurement's Job and returns its outcome, or Running.
func (p *Provider) Resume(ctx context.Context, req metricprovider.Request, m v1alpha1.Measurement) metricprovider.Result {
	name := m.Metadata[MetadataJobName]
	if name == "" {
		return metricprovider.Errorf(errors.New("the measurement does not name its Job (metadata job-name)"))
	}
	started := req.Now
	if m.StartedAt != nil {
		started = m.StartedAt.Time
	}
	job := &batchv1.Job{}
	err := p.client.Get(ctx, client.ObjectKey{Namespace: req.Run.Namespace, Name: name}, job)
	switch {
	case apierrors.IsNotFound(err):
		return metricprovider.Errorf(fmt.Errorf("the Job %s/%s is gone before it finished", req.Run.Namespace, name))
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return metricprovider.Errorf(fmt.Errorf("reading Job %s/%s: %w", req.Run.Namespace, name, err))
	case err != nil:
		// A passing API problem must not turn a Job that is still running into an error.
		return running(name, started, req.Now, fmt.Sprintf("reading Job %s failed (%v); trying again", name, err))
	}
	if res, done := verdict(job); done {
		return res
	}
	return running(name, started, req.Now, fmt.Sprintf("Job %s is running", name))
}

// Terminate deletes the measurement's Job; the measurement is Successful, as in Argo Rollouts.
func (p *Provider) Terminate(ctx context.Context, req metricprovider.Request, m v1alpha1.Measurement) metricprovider.Result {
	name := m.Metadata[MetadataJobName]
	if name == "" {
		return metricprovider.Errorf(errors.New("the measurement does not name its Job (metadata job-name)"))
	}
	if err := p.delete(ctx, req.Run.Namespace, name); err != nil {
		return metricprovider.Errorf(err)
	}
	return metricprovider.Result{
		Phase:    v1alpha1.AnalysisPhaseSuccessful,
		Message:  fmt.Sprintf("Metric Terminated: Job %s deleted", name),
		Metadata: map[string]string{MetadataJobName: name},
	}
}

// GarbageCollect deletes the metric's Jobs of this run but the newest keep.
func (p *Provider) GarbageCollect(ctx context.Context, req metricprovider.Request, keep int) error {
	list := &batchv1.JobList{}
	if err := p.client.List(ctx, list, client.InNamespace(req.Run.Namespace),
		client.MatchingLabels{LabelRunUID: string(req.Run.UID)}); err != nil {
		return fmt.Errorf("listing the Jobs of AnalysisRun %s/%s: %w", req.Run.Namespace, req.Run.Name, err)
	}
	var jobs []*batchv1.Job
	for i := range list.Items {
		j := &list.Items[i]
		if j.Annotations[AnnotationMetricName] == req.Metric.Name && j.DeletionTimestamp == nil {
			jobs = append(jobs, j)
		}
	}
	// Oldest first: by measurement number (creation times have whole seconds), then creation.
	slices.SortStableFunc(jobs, func(a, b *batchv1.Job) int {
		if c := sequence(a.Name) - sequence(b.Name); c != 0 {
			return c
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	var errs []error
	for _, j := range jobs[:max(0, len(jobs)-max(keep, 0))] {
		if err := p.delete(ctx, j.Namespace, j.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Provider) delete(ctx context.Context, ns, name string) error {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	err := p.client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Job %s/%s: %w", ns, name, err)
	}
	return nil
}

// verdict is the measurement's outcome once the Job has one. SuccessCriteriaMet and
// FailureTarget come first: the Job controller decided, and only waits for pods to stop.
func verdict(job *batchv1.Job) (metricprovider.Result, bool) {
	meta := map[string]string{MetadataJobName: job.Name}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			return metricprovider.Result{
				Phase: v1alpha1.AnalysisPhaseSuccessful, Metadata: meta,
				Message: fmt.Sprintf("Job %s completed", job.Name),
			}, true
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			msg := fmt.Sprintf("Job %s failed: %s", job.Name, c.Reason)
			if c.Message != "" {
				msg += ": " + c.Message
			}
			return metricprovider.Result{Phase: v1alpha1.AnalysisPhaseFailed, Metadata: meta, Message: msg}, true
		case batchv1.JobSuspended:
			// A suspended Job runs again when resumed; until then the measurement waits.
		}
	}
	return metricprovider.Result{}, false
}

func running(name string, started, now time.Time, msg string) metricprovider.Result {
	wait := resumeYoung
	if now.Sub(started) >= youngFor {
		wait = resumeOld
	}
	return metricprovider.Result{
		Phase:    v1alpha1.AnalysisPhaseRunning,
		ResumeAt: now.Add(wait),
		Message:  msg,
		Metadata: map[string]string{MetadataJobName: name},
	}
}

// newJob is the Job of the metric's next measurement.
func newJob(req metricprovider.Request) (*batchv1.Job, error) {
	run, metric := req.Run, req.Metric
	if metric.Provider.Job == nil {
		return nil, fmt.Errorf("metric %q has no job provider", metric.Name)
	}
	if run.UID == "" {
		return nil, fmt.Errorf("AnalysisRun %s/%s has no UID (not read from the API server?)", run.Namespace, run.Name)
	}
	n := int32(1)
	for _, r := range run.Status.MetricResults {
		if r.Name == metric.Name {
			n = r.Count + r.Error + 1
		}
	}
	spec := metric.Provider.Job
	labels := make(map[string]string, len(spec.Metadata.Labels)+1)
	maps.Copy(labels, spec.Metadata.Labels)
	labels[LabelRunUID] = string(run.UID)
	annotations := make(map[string]string, len(spec.Metadata.Annotations)+3)
	maps.Copy(annotations, spec.Metadata.Annotations)
	annotations[AnnotationRunName] = run.Name
	annotations[AnnotationRunNamespace] = run.Namespace
	annotations[AnnotationMetricName] = metric.Name
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        Name(string(run.UID), metric.Name, n),
			Namespace:   run.Namespace,
			Labels:      labels,
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         v1alpha1.GroupVersion.String(),
				Kind:               "AnalysisRun",
				Name:               run.Name,
				UID:                run.UID,
				Controller:         new(true),
				BlockOwnerDeletion: new(true),
			}},
		},
		Spec: spec.Spec.BatchJobSpec(),
	}, nil
}

// maxName is the longest Job name whose pods' job-name label is valid.
const maxName = validation.LabelValueMaxLength

// Name is the Job of measurement n of a metric: Argo's <uid>.<metric>.<n> when that is a valid
// Job name, else a deterministic shortened form.
func Name(uid, metric string, n int32) string {
	name := fmt.Sprintf("%s.%s.%d", uid, metric, n)
	if len(name) <= maxName && len(validation.IsDNS1123Subdomain(name)) == 0 {
		return name
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(metric))
	hash := fmt.Sprintf("%08x", h.Sum32())
	prefix := uid[:min(8, len(uid))] + "."
	suffix := "." + strconv.Itoa(int(n))
	var clean strings.Builder
	for _, r := range strings.ToLower(metric) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			clean.WriteRune(r)
		} else {
			clean.WriteByte('-')
		}
	}
	room := maxName - len(prefix) - len(suffix) - len(hash) - 1
	base := strings.Trim(clean.String()[:min(room, clean.Len())], "-")
	if base == "" {
		return prefix + hash + suffix
	}
	return prefix + base + "-" + hash + suffix
}

// sequence is the measurement number at the end of a Job's name (0 when there is none).
func sequence(name string) int {
	i := strings.LastIndexByte(name, '.')
	n, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return 0
	}
	return n
}

var _ metricprovider.Provider = (*Provider)(nil)
