package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Experiment runs one or more ReplicaSets side by side for a while, optionally
// with analyses, for example a baseline next to a canary. A Rollout experiment
// step creates one.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=experiments,shortName=exp
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`,description="Experiment status"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,description="Time since resource was created"
type Experiment struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the ReplicaSets and analyses to run.
	// +required
	Spec ExperimentSpec `json:"spec"`
	// status holds the state of the ReplicaSets and analyses.
	// +optional
	Status ExperimentStatus `json:"status,omitzero"`
}

// ExperimentList is a list of Experiments.
//
// +kubebuilder:object:root=true
type ExperimentList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Experiments.
	Items []Experiment `json:"items"`
}

// ExperimentSpec is the content of an Experiment.
type ExperimentSpec struct {
	// templates are the ReplicaSets to run.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	Templates []TemplateSpec `json:"templates"`
	// duration the experiment runs for once all ReplicaSets are available (30s,
	// 5m, 1h). Without it, the experiment runs until its analyses finish or it is
	// terminated.
	// +optional
	Duration DurationString `json:"duration,omitempty"`
	// progressDeadlineSeconds is how long a ReplicaSet may take to become
	// available before the experiment fails. Default 600.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// terminate, when true, stops the experiment early.
	// +optional
	Terminate bool `json:"terminate,omitempty"`
	// analyses are AnalysisRuns started with the experiment.
	// +optional
	// +listType=atomic
	Analyses []ExperimentAnalysisTemplateRef `json:"analyses,omitempty"`
	// scaleDownDelaySeconds is how long the ReplicaSets stay up after the
	// experiment ends. Default 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// dryRun lists the metrics whose results do not affect the outcome.
	// +optional
	// +listType=atomic
	DryRun []DryRun `json:"dryRun,omitempty"`
	// measurementRetention sets how many measurements are kept per metric.
	// +optional
	// +listType=atomic
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// analysisRunMetadata are labels and annotations added to the AnalysisRuns.
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitzero"`
}

// TemplateSpec is one ReplicaSet of an Experiment.
type TemplateSpec struct {
	// name of the template, unique in the experiment; the ReplicaSet is named
	// <experiment>-<name>.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// replicas is the number of pods. Default 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// minReadySeconds is how long a pod must be ready before it counts as
	// available.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// selector of the ReplicaSet; must match the template's labels.
	// +required
	Selector *metav1.LabelSelector `json:"selector"`
	// template describes the pods.
	// +required
	Template PodTemplateSpec `json:"template"`
	// service, when set, creates a Service for these pods.
	// +optional
	Service *TemplateService `json:"service,omitempty"`
}

// TemplateService asks for a Service in front of an experiment's pods.
type TemplateService struct {
	// name of the Service. Default: the ReplicaSet's name.
	// +optional
	Name string `json:"name,omitempty"`
}

// ExperimentAnalysisTemplateRef is an analysis of an Experiment.
type ExperimentAnalysisTemplateRef struct {
	// name of the analysis in the experiment.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// templateName is the AnalysisTemplate (or, with clusterScope,
	// ClusterAnalysisTemplate).
	// +required
	// +kubebuilder:validation:MinLength=1
	TemplateName string `json:"templateName"`
	// clusterScope looks templateName up as a ClusterAnalysisTemplate.
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
	// args are the arguments passed to the template.
	// +optional
	// +listType=atomic
	Args []Argument `json:"args,omitempty"`
	// requiredForCompletion makes the experiment wait for this analysis before it
	// completes.
	// +optional
	RequiredForCompletion bool `json:"requiredForCompletion,omitempty"`
}

// ExperimentStatus is the state of an Experiment.
type ExperimentStatus struct {
	// phase of the experiment: Pending, Running, Successful, Failed, Error or
	// Inconclusive.
	// +optional
	Phase AnalysisPhase `json:"phase,omitempty"`
	// message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// templateStatuses are the states of the ReplicaSets.
	// +optional
	// +listType=atomic
	TemplateStatuses []TemplateStatus `json:"templateStatuses,omitempty"`
	// availableAt is when all ReplicaSets became available; the duration counts
	// from here.
	// +optional
	AvailableAt *metav1.Time `json:"availableAt,omitempty"`
	// conditions of the experiment.
	// +optional
	// +listType=atomic
	Conditions []ExperimentCondition `json:"conditions,omitempty"`
	// analysisRuns are the states of the analyses.
	// +optional
	// +listType=atomic
	AnalysisRuns []ExperimentAnalysisRunStatus `json:"analysisRuns,omitempty"`
}

// TemplateStatus is the state of one experiment ReplicaSet.
type TemplateStatus struct {
	// name of the template.
	// +required
	Name string `json:"name"`
	// replicas is the number of non-terminated pods.
	// +required
	Replicas int32 `json:"replicas"`
	// updatedReplicas is the number of pods with the template's spec.
	// +required
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// readyReplicas is the number of ready pods.
	// +required
	ReadyReplicas int32 `json:"readyReplicas"`
	// availableReplicas is the number of available pods.
	// +required
	AvailableReplicas int32 `json:"availableReplicas"`
	// collisionCount counts pod-template hash collisions.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// status of the template: Progressing, Running, Successful, Failed or Error.
	// +optional
	Status TemplateStatusCode `json:"status,omitempty"`
	// message explains the status.
	// +optional
	Message string `json:"message,omitempty"`
	// lastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// serviceName is the Service created for the template.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// podTemplateHash is the pod-template hash of the ReplicaSet.
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
}

// TemplateStatusCode is the status of an experiment template.
type TemplateStatusCode string

// Experiment template statuses.
const (
	TemplateStatusProgressing TemplateStatusCode = "Progressing"
	TemplateStatusRunning     TemplateStatusCode = "Running"
	TemplateStatusSuccessful  TemplateStatusCode = "Successful"
	TemplateStatusFailed      TemplateStatusCode = "Failed"
	TemplateStatusError       TemplateStatusCode = "Error"
)

// ExperimentCondition is one condition of an Experiment.
type ExperimentCondition struct {
	// type of the condition.
	// +required
	Type ExperimentConditionType `json:"type"`
	// status of the condition: True, False or Unknown.
	// +required
	Status corev1.ConditionStatus `json:"status"`
	// lastUpdateTime is when the condition was last written.
	// +required
	LastUpdateTime metav1.Time `json:"lastUpdateTime"`
	// lastTransitionTime is when the status last changed.
	// +required
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
	// reason is a CamelCase reason for the last transition.
	// +required
	Reason string `json:"reason"`
	// message is a human-readable explanation.
	// +required
	Message string `json:"message"`
}

// ExperimentAnalysisRunStatus is the state of one analysis of an Experiment.
type ExperimentAnalysisRunStatus struct {
	// name of the analysis.
	// +required
	Name string `json:"name"`
	// analysisRun is the name of the AnalysisRun.
	// +required
	AnalysisRun string `json:"analysisRun"`
	// phase of the AnalysisRun.
	// +required
	Phase AnalysisPhase `json:"phase"`
	// message from the AnalysisRun.
	// +optional
	Message string `json:"message,omitempty"`
}
