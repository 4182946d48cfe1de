package v1alpha1

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Why these two types exist instead of corev1.PodTemplateSpec and
// batchv1.JobSpec:
//
// controller-gen renders an embedded metav1.ObjectMeta as a bare `type:
// object`, and the API server prunes every field below such a node, so the
// labels and annotations of a pod template would be dropped on write (the
// Rollout's selector would then no longer match its own template).
// PodTemplateSpec and JobSpec have the same JSON shape as their upstream
// counterparts, but the template's metadata is a PodTemplateMetadata (labels
// and annotations), which is also the metadata Argo Rollouts' CRDs keep. Use
// the conversion helpers below to get the upstream types.
//
// Known gap: metadata nested deeper inside a PodSpec (the volumeClaimTemplate
// of a generic ephemeral volume) is still a bare object and is pruned.

// PodTemplateSpec describes the pods that will be created. It has the JSON
// shape of a Kubernetes pod template; of the template's metadata, only labels
// and annotations are kept.
type PodTemplateSpec struct {
	// metadata holds the labels and annotations given to every pod. The labels
	// must match the selector.
	// +optional
	PodTemplateMetadata `json:"metadata,omitzero"`

	// spec is the pod specification, as in a Deployment's pod template.
	// +optional
	Spec corev1.PodSpec `json:"spec,omitempty"`
}

// CorePodTemplateSpec returns the template as a corev1.PodTemplateSpec
// (deep-copied).
func (in *PodTemplateSpec) CorePodTemplateSpec() corev1.PodTemplateSpec {
	out := in.DeepCopy()
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: out.Labels, Annotations: out.Annotations},
		Spec:       out.Spec,
	}
}

// PodTemplateSpecFromCore converts a corev1.PodTemplateSpec (deep-copied).
// Template metadata other than labels and annotations is dropped, as the CRD
// schema would drop it.
func PodTemplateSpecFromCore(t *corev1.PodTemplateSpec) PodTemplateSpec {
	in := t.DeepCopy()
	return PodTemplateSpec{
		PodTemplateMetadata: PodTemplateMetadata{Labels: in.Labels, Annotations: in.Annotations},
		Spec:                in.Spec,
	}
}

// JobSpec is the specification of the Kubernetes Job a job metric runs. It has
// the JSON shape of a batch/v1 JobSpec; see the Kubernetes Job documentation
// for the meaning of each field.
type JobSpec struct {
	// parallelism is the maximum number of pods the Job runs at the same time.
	// +optional
	Parallelism *int32 `json:"parallelism,omitempty"`
	// completions is the number of pods that must finish successfully.
	// +optional
	Completions *int32 `json:"completions,omitempty"`
	// activeDeadlineSeconds is how long, in seconds from its start, the Job may
	// stay active before it is terminated.
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// podFailurePolicy decides how failed pods count towards the Job's failure.
	// +optional
	PodFailurePolicy *batchv1.PodFailurePolicy `json:"podFailurePolicy,omitempty"`
	// successPolicy decides when an Indexed Job counts as succeeded.
	// +optional
	SuccessPolicy *batchv1.SuccessPolicy `json:"successPolicy,omitempty"`
	// backoffLimit is the number of retries before the Job is marked failed
	// (Kubernetes default: 6). A failed Job is a failed measurement.
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// backoffLimitPerIndex is the number of retries per index of an Indexed Job.
	// +optional
	BackoffLimitPerIndex *int32 `json:"backoffLimitPerIndex,omitempty"`
	// maxFailedIndexes is the number of failed indexes after which an Indexed Job
	// fails.
	// +optional
	MaxFailedIndexes *int32 `json:"maxFailedIndexes,omitempty"`
	// selector is a label query over the Job's pods; normally set by Kubernetes.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// manualSelector lets the user choose the selector instead of Kubernetes.
	// +optional
	ManualSelector *bool `json:"manualSelector,omitempty"`
	// template describes the pod the Job runs; restartPolicy must be Never or
	// OnFailure.
	// +required
	Template PodTemplateSpec `json:"template"`
	// ttlSecondsAfterFinished makes a finished Job eligible for deletion after
	// this many seconds.
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// completionMode is NonIndexed (default) or Indexed.
	// +optional
	CompletionMode *batchv1.CompletionMode `json:"completionMode,omitempty"`
	// suspend, when true, keeps the Job from creating pods.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
	// podReplacementPolicy says when replacement pods are created:
	// TerminatingOrFailed or Failed.
	// +optional
	PodReplacementPolicy *batchv1.PodReplacementPolicy `json:"podReplacementPolicy,omitempty"`
	// managedBy names the controller that manages the Job; leave unset for the
	// Kubernetes Job controller.
	// +optional
	ManagedBy *string `json:"managedBy,omitempty"`
	// scheduling configures workload-aware (for example gang) scheduling of the
	// Job's pods (alpha in Kubernetes). It is kept as given, without schema: its
	// upstream schema carries update rules that cannot apply inside a list of
	// metrics.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Scheduling *batchv1.JobSchedulingConfiguration `json:"scheduling,omitempty"`
}

// BatchJobSpec returns the spec as a batchv1.JobSpec (deep-copied).
func (in *JobSpec) BatchJobSpec() batchv1.JobSpec {
	out := in.DeepCopy()
	return batchv1.JobSpec{
		Parallelism:             out.Parallelism,
		Completions:             out.Completions,
		ActiveDeadlineSeconds:   out.ActiveDeadlineSeconds,
		PodFailurePolicy:        out.PodFailurePolicy,
		SuccessPolicy:           out.SuccessPolicy,
		BackoffLimit:            out.BackoffLimit,
		BackoffLimitPerIndex:    out.BackoffLimitPerIndex,
		MaxFailedIndexes:        out.MaxFailedIndexes,
		Selector:                out.Selector,
		ManualSelector:          out.ManualSelector,
		Template:                out.Template.CorePodTemplateSpec(),
		TTLSecondsAfterFinished: out.TTLSecondsAfterFinished,
		CompletionMode:          out.CompletionMode,
		Suspend:                 out.Suspend,
		PodReplacementPolicy:    out.PodReplacementPolicy,
		ManagedBy:               out.ManagedBy,
		Scheduling:              out.Scheduling,
	}
}
