package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
	"github.com/sluicehq/sluice/internal/controller/argolease"
	"github.com/sluicehq/sluice/internal/controller/rollout"
	"github.com/sluicehq/sluice/internal/experiment"
)

// Reconciler reconciles Experiments.
type Reconciler struct {
	client.Client
	// Reader reads around the cache: a running Experiment itself (a cache behind this
	// controller's last status write would plan the same transitions twice) and objects whose
	// creation raced with the cache.
	Reader client.Reader
	// ClusterTemplates reads ClusterAnalysisTemplates; nil means the cache
	// (rollout.TemplateReader).
	ClusterTemplates client.Reader
	Recorder         recorder.EventRecorder
	Clock            clock.PassiveClock
	// ArgoLease, when set, holds every pass back while Argo Rollouts' own controller is
	// running, so one Experiment is never run by both.
	ArgoLease interface {
		Check(ctx context.Context) (argolease.State, error)
	}
	// Instrument, when set, wraps every pass: the Argo-compatible reconcile metrics
	// (internal/controller/metrics).
	Instrument func(reconcile.Reconciler) reconcile.Reconciler
}

// +kubebuilder:rbac:groups=argoproj.io,resources=experiments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=argoproj.io,resources=experiments/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=argoproj.io,resources=experiments/finalizers,verbs=update
// +kubebuilder:rbac:groups=argoproj.io,resources=analysisruns,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=argoproj.io,resources=analysistemplates;clusteranalysistemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch;delete

// observed is what one pass read.
type observed struct {
	replicaSets map[string]*appsv1.ReplicaSet // by template name
	services    map[string]*corev1.Service    // by template name
	runs        map[string]*v1alpha1.AnalysisRun
	in          experiment.Input
}

// Reconcile runs one observe → plan → act → report pass for an Experiment.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if r.ArgoLease != nil {
		st, err := r.ArgoLease.Check(ctx)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("looking for a running Argo Rollouts controller (nothing done): %w", err)
		}
		if st.Live {
			wait := st.Expires.Sub(r.Clock.Now()) + time.Second
			return ctrl.Result{RequeueAfter: min(max(wait, time.Second), 15*time.Second)}, nil
		}
	}
	ex := &v1alpha1.Experiment{}
	if err := r.Get(ctx, req.NamespacedName, ex); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !experiment.Completed(ex.Status.Phase) {
		if err := r.Reader.Get(ctx, req.NamespacedName, ex); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if ex.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	obs, err := r.observe(ctx, ex)
	if err != nil {
		return ctrl.Result{}, err
	}
	p := experiment.Compute(obs.in)
	if !p.Invalid {
		if err := r.act(ctx, ex, obs, &p); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			return ctrl.Result{}, err
		}
	}
	if err := r.writeStatus(ctx, ex, &p.Status); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	for _, e := range p.Events {
		t := corev1.EventTypeNormal
		if e.Warning {
			t = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(ex, nil, t, e.Reason, "Experiment", "%s", e.Message)
	}
	return ctrl.Result{RequeueAfter: p.RequeueAfter}, nil
}

// observe lists what the Experiment owns and checks the analyses that have not started.
func (r *Reconciler) observe(ctx context.Context, ex *v1alpha1.Experiment) (*observed, error) {
	obs := &observed{replicaSets: map[string]*appsv1.ReplicaSet{}, services: map[string]*corev1.Service{}, runs: map[string]*v1alpha1.AnalysisRun{}}
	in := experiment.Input{Experiment: ex, ReplicaSets: map[string]experiment.ReplicaSet{}, Services: map[string]string{},
		Runs: map[string]experiment.Run{}, AnalysisProblems: map[string]string{}, Now: r.Clock.Now()}
	owned := client.MatchingFields{ownerIndex: string(ex.UID)}
	var rsList appsv1.ReplicaSetList
	if err := r.List(ctx, &rsList, client.InNamespace(ex.Namespace), owned); err != nil {
		return nil, fmt.Errorf("listing ReplicaSets: %w", err)
	}
	for i := range rsList.Items {
		rs := &rsList.Items[i]
		name := rs.Annotations[v1alpha1.AnnotationExperimentTemplateName]
		if !mine(ex, rs) || rs.DeletionTimestamp != nil || name == "" || rs.Annotations[v1alpha1.AnnotationExperimentName] != ex.Name {
			continue
		}
		obs.replicaSets[name] = rs
		fact := experiment.ReplicaSet{Name: rs.Name, Hash: rs.Labels[v1alpha1.LabelPodTemplateHash], Spec: ptr.Deref(rs.Spec.Replicas, 1),
			Replicas: rs.Status.Replicas, Ready: rs.Status.ReadyReplicas, Available: rs.Status.AvailableReplicas}
		if v, ok := rs.Annotations[v1alpha1.AnnotationScaleDownDeadline]; ok {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				t = time.Time{} // unreadable: due
			}
			fact.ScaleDownDeadline = &t
		}
		in.ReplicaSets[name] = fact
	}
	var svcList corev1.ServiceList
	if err := r.List(ctx, &svcList, client.InNamespace(ex.Namespace), owned); err != nil {
		return nil, fmt.Errorf("listing Services: %w", err)
	}
	for i := range svcList.Items {
		svc := &svcList.Items[i]
		if name := svc.Annotations[v1alpha1.AnnotationExperimentTemplateName]; mine(ex, svc) && svc.DeletionTimestamp == nil && name != "" {
			obs.services[name] = svc
			in.Services[name] = svc.Name
		}
	}
	var runList v1alpha1.AnalysisRunList
	if err := r.List(ctx, &runList, client.InNamespace(ex.Namespace), owned); err != nil {
		return nil, fmt.Errorf("listing AnalysisRuns: %w", err)
	}
	for i := range runList.Items {
		ar := &runList.Items[i]
		if !mine(ex, ar) || ar.DeletionTimestamp != nil {
			continue
		}
		obs.runs[ar.Name] = ar
		in.Runs[ar.Name] = experiment.Run{Name: ar.Name, Phase: ar.Status.Phase, Message: ar.Status.Message, Terminated: ar.Spec.Terminate}
	}
	if !experiment.Terminating(ex) {
		for _, a := range ex.Spec.Analyses {
			if s := analysisStatus(ex, a.Name); s != nil && s.AnalysisRun != "" {
				continue
			}
			if _, err := r.flatten(ctx, ex.Namespace, &a); err != nil {
				in.AnalysisProblems[a.Name] = fmt.Sprintf("AnalysisTemplate verification failed for analysis '%s': %v", a.Name, err)
			}
		}
	}
	obs.in = in
	return obs, nil
}

func mine(ex *v1alpha1.Experiment, o metav1.Object) bool {
	ref := metav1.GetControllerOf(o)
	return ref != nil && ref.UID == ex.UID
}

func analysisStatus(ex *v1alpha1.Experiment, name string) *v1alpha1.ExperimentAnalysisRunStatus {
	for i := range ex.Status.AnalysisRuns {
		if ex.Status.AnalysisRuns[i].Name == name {
			return &ex.Status.AnalysisRuns[i]
		}
	}
	return nil
}

// flatten reads an analysis's template and the templates it composes.
func (r *Reconciler) flatten(ctx context.Context, ns string, a *v1alpha1.ExperimentAnalysisTemplateRef) (v1alpha1.AnalysisTemplateSpec, error) {
	read := rollout.TemplateReader{Namespaced: r.Client, Cluster: r.ClusterTemplates}
	return analysis.Flatten([]analysis.TemplateRef{{Name: a.TemplateName, Cluster: a.ClusterScope}}, func(ref analysis.TemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
		return read.Template(ctx, ns, ref)
	})
}

// writeStatus patches the status subresource with what changed (nothing when nothing did).
func (r *Reconciler) writeStatus(ctx context.Context, ex *v1alpha1.Experiment, st *v1alpha1.ExperimentStatus) error {
	if apiequality.Semantic.DeepEqual(ex.Status, *st) {
		return nil
	}
	a, err := json.Marshal(map[string]any{"status": ex.Status})
	if err != nil {
		return err
	}
	b, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return err
	}
	patch, err := jsonpatch.CreateMergePatch(a, b)
	if err != nil {
		return err
	}
	if err := r.Status().Patch(ctx, ex.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("patching Experiment status: %w", err)
	}
	return nil
}
