package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Rollout replaces a Deployment: it owns ReplicaSets and updates them
// progressively with a canary or blue-green strategy, optionally shifting
// traffic through a router and gating each step on analysis.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=rollouts,shortName=ro
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.HPAReplicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.replicas`,description="Number of desired pods"
// +kubebuilder:printcolumn:name="Current",type=integer,JSONPath=`.status.replicas`,description="Total number of non-terminated pods targeted by this rollout"
// +kubebuilder:printcolumn:name="Up-to-date",type=integer,JSONPath=`.status.updatedReplicas`,description="Total number of non-terminated pods targeted by this rollout that have the desired template spec"
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.availableReplicas`,description="Total number of available pods (ready for at least minReadySeconds) targeted by this rollout"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,priority=1,description="Healthy, Progressing, Paused or Degraded"
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=`.status.currentStepIndex`,priority=1,description="Index of the current canary step"
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.canary.weights.canary.weight`,priority=1,description="Traffic weight last set on the router for the canary"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,description="Time since resource was created"
type Rollout struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state: the pods to run and how to update them.
	// +required
	Spec RolloutSpec `json:"spec"`
	// status is the observed state, written by the controller (and, for the pause,
	// abort and promote fields, by clients such as the kubectl plugin).
	// +optional
	Status RolloutStatus `json:"status,omitzero"`
}

// RolloutList is a list of Rollouts.
//
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Rollouts.
	Items []Rollout `json:"items"`
}

// RolloutSpec is the desired state of a Rollout.
//
// +kubebuilder:validation:XValidation:rule="has(self.selector) || has(self.workloadRef)",message="selector is required unless workloadRef is set"
// +kubebuilder:validation:XValidation:rule="has(self.template) || has(self.workloadRef)",message="template is required unless workloadRef is set"
// +kubebuilder:validation:XValidation:rule="!has(self.workloadRef) || !has(self.template) || (!has(self.template.metadata) && !has(self.template.spec))",message="template must be empty when workloadRef is set: the pod template comes from the referenced workload"
// +kubebuilder:validation:XValidation:rule="(has(self.progressDeadlineSeconds) ? self.progressDeadlineSeconds : 600) > (has(self.minReadySeconds) ? self.minReadySeconds : 0)",message="progressDeadlineSeconds (default 600) must be greater than minReadySeconds"
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || !has(self.strategy.canary) || !has(self.strategy.canary.scaleDownDelayRevisionLimit) || self.strategy.canary.scaleDownDelayRevisionLimit <= (has(self.revisionHistoryLimit) ? self.revisionHistoryLimit : 10)",message="strategy.canary.scaleDownDelayRevisionLimit must not exceed revisionHistoryLimit (default 10)"
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || !has(self.strategy.blueGreen) || !has(self.strategy.blueGreen.scaleDownDelayRevisionLimit) || self.strategy.blueGreen.scaleDownDelayRevisionLimit <= (has(self.revisionHistoryLimit) ? self.revisionHistoryLimit : 10)",message="strategy.blueGreen.scaleDownDelayRevisionLimit must not exceed revisionHistoryLimit (default 10)"
type RolloutSpec struct {
	// replicas is the number of pods the rollout runs once an update is complete.
	// If unset, the controller writes 1. It is the scale subresource's replica
	// count, so a HorizontalPodAutoscaler can own it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// selector is the label query over the rollout's pods; it must match the
	// template's labels. Required unless workloadRef supplies it. It cannot be
	// changed once set.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="selector is immutable"
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="selector must not be empty: an empty selector matches every pod in the namespace"
	Selector *metav1.LabelSelector `json:"selector"`

	// template describes the pods that will be created. Required unless
	// workloadRef is set, in which case it must be empty.
	// +optional
	Template PodTemplateSpec `json:"template,omitzero"`

	// workloadRef takes the pod template (and, if unset here, the selector) from
	// an existing Deployment, ReplicaSet or PodTemplate instead of spec.template.
	// +optional
	WorkloadRef *ObjectRef `json:"workloadRef,omitempty"`

	// TemplateResolvedFromRef is set, in memory only, once the controller has copied the
	// referenced workload's pod template into Template (Argo's field of the same name): the
	// template is then the workload's, not one the user wrote beside workloadRef.
	TemplateResolvedFromRef bool `json:"-"`

	// minReadySeconds is how long a new pod must be ready, without any container
	// crashing, before it counts as available. Default 0: available as soon as
	// ready.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`

	// rollbackWindow makes a rollback to one of the last N revisions skip the
	// steps and promote immediately.
	// +optional
	RollbackWindow *RollbackWindowSpec `json:"rollbackWindow,omitempty"`

	// strategy says how an update replaces the old pods: exactly one of canary or
	// blueGreen.
	// +optional
	Strategy RolloutStrategy `json:"strategy,omitzero"`

	// revisionHistoryLimit is the number of old ReplicaSets kept (scaled to zero)
	// for rollbacks. Default 10.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// paused, when true, halts the rollout where it is: no scaling, no step
	// progress, no traffic change, until it is set back to false.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// progressDeadlineSeconds is how long, in seconds, an update may go without
	// progress before the rollout is marked Degraded with reason
	// ProgressDeadlineExceeded. Pause steps and paused rollouts do not count.
	// Default 600; must be greater than minReadySeconds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`

	// progressDeadlineAbort, when true, aborts the update once
	// progressDeadlineSeconds is exceeded instead of only reporting it. Default
	// false.
	// +optional
	ProgressDeadlineAbort bool `json:"progressDeadlineAbort,omitempty"`

	// restartAt asks for every pod created before this time to be replaced
	// (evicted, respecting PodDisruptionBudgets and maxUnavailable). `kubectl argo
	// rollouts restart` sets it.
	// +optional
	RestartAt *metav1.Time `json:"restartAt,omitempty"`

	// analysis sets how many finished AnalysisRuns and Experiments are kept.
	// +optional
	Analysis *AnalysisRunStrategy `json:"analysis,omitempty"`
}

// ObjectRef points at the workload that provides a Rollout's pod template.
type ObjectRef struct {
	// apiVersion of the referenced workload, for example apps/v1.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// kind of the referenced workload: Deployment, ReplicaSet or PodTemplate.
	// +optional
	Kind string `json:"kind,omitempty"`
	// name of the referenced workload, in the rollout's namespace.
	// +optional
	Name string `json:"name,omitempty"`
	// scaleDown says what happens to a referenced Deployment once the rollout runs
	// the pods: never (default), onsuccess (scaled to zero when the rollout
	// becomes healthy) or progressively (scaled down as the rollout scales up).
	// +optional
	// +kubebuilder:validation:Enum=never;onsuccess;progressively
	ScaleDown string `json:"scaleDown,omitempty"`
}

// Values of ObjectRef.ScaleDown.
const (
	ScaleDownNever         string = "never"
	ScaleDownOnSuccess     string = "onsuccess"
	ScaleDownProgressively string = "progressively"
)

// RollbackWindowSpec sets which rollbacks skip the steps.
type RollbackWindowSpec struct {
	// revisions is how many revisions back a rollback is fast-tracked: promoted
	// without steps.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Revisions int32 `json:"revisions,omitempty"`
}

// AnalysisRunStrategy sets the retention of finished AnalysisRuns and
// Experiments.
type AnalysisRunStrategy struct {
	// successfulRunHistoryLimit is the number of successful AnalysisRuns and
	// Experiments kept. Default 5.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SuccessfulRunHistoryLimit *int32 `json:"successfulRunHistoryLimit,omitempty"`
	// unsuccessfulRunHistoryLimit is the number of Failed, Error or Inconclusive
	// AnalysisRuns and Experiments kept. Default 5.
	// +optional
	// +kubebuilder:validation:Minimum=0
	UnsuccessfulRunHistoryLimit *int32 `json:"unsuccessfulRunHistoryLimit,omitempty"`
}

// RolloutStrategy is the update strategy of a Rollout.
//
// +kubebuilder:validation:XValidation:rule="has(self.canary) != has(self.blueGreen)",message="exactly one of strategy.canary or strategy.blueGreen must be set"
type RolloutStrategy struct {
	// blueGreen runs the new version next to the old one behind a preview Service
	// and switches the active Service to it at promotion.
	// +optional
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
	// canary moves to the new version in steps: traffic weights, pauses, analysis,
	// experiments.
	// +optional
	Canary *CanaryStrategy `json:"canary,omitempty"`
}

// RolloutStatus is the observed state of a Rollout.
type RolloutStatus struct {
	// abort, when true, aborts the current update: traffic and pods go back to the
	// stable version. Clients set it (`kubectl argo rollouts abort`); the
	// controller also sets it when an analysis, experiment or step plugin fails.
	// Setting it back to false retries the update.
	// +optional
	Abort bool `json:"abort,omitempty"`
	// pauseConditions are the reasons the controller paused the rollout. The
	// controller adds them; a client resumes the rollout by removing them.
	// +optional
	// +listType=atomic
	PauseConditions []PauseCondition `json:"pauseConditions,omitempty"`
	// controllerPause is true once the controller has paused the rollout. With no
	// pauseConditions left it means a user resumed the rollout and the controller
	// has not yet acted on it.
	// +optional
	ControllerPause bool `json:"controllerPause,omitempty"`
	// abortedAt is when the controller first acted on the abort.
	// +optional
	AbortedAt *metav1.Time `json:"abortedAt,omitempty"`
	// currentPodHash is the pod-template hash of the desired template (the new
	// ReplicaSet).
	// +optional
	CurrentPodHash string `json:"currentPodHash,omitempty"`
	// currentStepHash is the hash of the canary steps; a change restarts the
	// steps.
	// +optional
	CurrentStepHash string `json:"currentStepHash,omitempty"`
	// replicas is the number of non-terminated pods of all the rollout's
	// ReplicaSets.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// updatedReplicas is the number of non-terminated pods with the desired
	// template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
	// readyReplicas is the number of ready pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// availableReplicas is the number of pods ready for at least minReadySeconds.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// currentStepIndex is the index of the canary step being executed; equal to
	// the number of steps once all are done. Clients may advance it to skip a
	// step.
	// +optional
	CurrentStepIndex *int32 `json:"currentStepIndex,omitempty"`
	// collisionCount counts pod-template hash collisions; it salts the hash of the
	// next ReplicaSet name.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// observedGeneration is the metadata.generation the controller last acted on,
	// as a decimal string. Trust phase only when it equals metadata.generation.
	// +optional
	ObservedGeneration string `json:"observedGeneration,omitempty"`
	// conditions are the rollout's conditions: Available, Progressing, Paused,
	// Completed, Healthy, ReplicaFailure and InvalidSpec.
	// +optional
	// +listType=atomic
	Conditions []RolloutCondition `json:"conditions,omitempty"`
	// canary is the state of a canary update.
	// +optional
	Canary CanaryStatus `json:"canary,omitzero"`
	// blueGreen is the state of a blue-green update.
	// +optional
	BlueGreen BlueGreenStatus `json:"blueGreen,omitzero"`
	// HPAReplicas is the replica count of the scale subresource: the pods
	// receiving traffic (canary: all pods of the stable and canary ReplicaSets;
	// blue-green: the active ReplicaSet).
	// +optional
	HPAReplicas int32 `json:"HPAReplicas,omitempty"`
	// selector is the label selector of the scale subresource, in string form.
	// +optional
	Selector string `json:"selector,omitempty"`
	// stableRS is the pod-template hash of the stable ReplicaSet, the last fully
	// promoted one.
	// +optional
	StableRS string `json:"stableRS,omitempty"`
	// restartedAt is the last spec.restartAt that has been fully carried out.
	// +optional
	RestartedAt *metav1.Time `json:"restartedAt,omitempty"`
	// promoteFull, when true, promotes the update at once, skipping the remaining
	// steps, pauses and analysis. Clients set it (`kubectl argo rollouts promote
	// --full`); the controller clears it.
	// +optional
	PromoteFull bool `json:"promoteFull,omitempty"`
	// phase summarizes the state: Healthy, Progressing, Paused or Degraded. Only
	// meaningful when observedGeneration equals metadata.generation.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`
	// message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// workloadObservedGeneration is the generation of the workloadRef object last
	// acted on.
	// +optional
	WorkloadObservedGeneration string `json:"workloadObservedGeneration,omitempty"`
	// alb is the load balancer and target groups found when ALB weight
	// verification is on.
	// +optional
	ALB *ALBStatus `json:"alb,omitempty"`
	// albs is alb for each Ingress when several are used.
	// +optional
	// +listType=atomic
	ALBs []ALBStatus `json:"albs,omitempty"`
	// duration tracks how long the current or last update took (alpha, not in an
	// Argo Rollouts release yet).
	// +optional
	Duration *RolloutDurationStatus `json:"duration,omitempty"`
}

// RolloutCondition is one condition of a Rollout.
type RolloutCondition struct {
	// type of the condition.
	// +required
	Type RolloutConditionType `json:"type"`
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

// PauseCondition records why and since when the controller paused a rollout.
type PauseCondition struct {
	// reason for the pause.
	// +required
	Reason PauseReason `json:"reason"`
	// startTime is when the pause began; timed pause steps end at startTime +
	// duration.
	// +required
	StartTime metav1.Time `json:"startTime"`
}

// CanaryStatus is the state of a canary update.
type CanaryStatus struct {
	// currentStepAnalysisRunStatus is the AnalysisRun of the current analysis
	// step.
	// +optional
	CurrentStepAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentStepAnalysisRunStatus,omitempty"`
	// currentBackgroundAnalysisRunStatus is the background AnalysisRun.
	// +optional
	CurrentBackgroundAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentBackgroundAnalysisRunStatus,omitempty"`
	// currentExperiment is the name of the running Experiment.
	// +optional
	CurrentExperiment string `json:"currentExperiment,omitempty"`
	// weights are the traffic weights last set on the router(s); only with
	// trafficRouting.
	// +optional
	Weights *TrafficWeights `json:"weights,omitempty"`
	// stablePingPong says which of the ping-pong Services is stable: ping or pong.
	// +optional
	// +kubebuilder:validation:Enum=ping;pong
	StablePingPong PingPongType `json:"stablePingPong,omitempty"`
	// stepPluginStatuses are the states of the step plugins run so far.
	// +optional
	// +listType=atomic
	StepPluginStatuses []StepPluginStatus `json:"stepPluginStatuses,omitempty"`
}

// PingPongType names one of the two ping-pong Services.
type PingPongType string

// Ping-pong Services.
const (
	PPPing PingPongType = "ping"
	PPPong PingPongType = "pong"
)

// TrafficWeights is the traffic split last set on the router(s).
type TrafficWeights struct {
	// canary is the weight sent to the canary ReplicaSet.
	// +required
	Canary WeightDestination `json:"canary"`
	// stable is the weight sent to the stable ReplicaSet.
	// +required
	Stable WeightDestination `json:"stable"`
	// additional are the weights sent elsewhere, such as Experiment ReplicaSets.
	// +optional
	// +listType=atomic
	Additional []WeightDestination `json:"additional,omitempty"`
	// verified is whether the router confirmed the weight took effect (ALB,
	// plugins); unset when the router cannot tell.
	// +optional
	Verified *bool `json:"verified,omitempty"`
}

// WeightDestination is one destination of the traffic split.
type WeightDestination struct {
	// weight is the share of traffic, out of the router's total (100 unless
	// maxTrafficWeight).
	// +required
	Weight int32 `json:"weight"`
	// serviceName is the Service the traffic goes to.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// podTemplateHash is the pod-template hash of the ReplicaSet behind the
	// Service.
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
}

// RolloutAnalysisRunStatus is the state of an AnalysisRun a Rollout created.
type RolloutAnalysisRunStatus struct {
	// name of the AnalysisRun.
	// +required
	Name string `json:"name"`
	// status is the AnalysisRun's phase.
	// +required
	Status AnalysisPhase `json:"status"`
	// message from the AnalysisRun.
	// +optional
	Message string `json:"message,omitempty"`
}

// ALBStatus names the AWS load balancer and target groups behind an Ingress.
type ALBStatus struct {
	// loadBalancer is the ALB.
	// +optional
	LoadBalancer AwsResourceRef `json:"loadBalancer,omitzero"`
	// canaryTargetGroup is the target group of the canary Service.
	// +optional
	CanaryTargetGroup AwsResourceRef `json:"canaryTargetGroup,omitzero"`
	// stableTargetGroup is the target group of the stable Service.
	// +optional
	StableTargetGroup AwsResourceRef `json:"stableTargetGroup,omitzero"`
	// ingress is the name of the Ingress.
	// +optional
	Ingress string `json:"ingress,omitempty"`
}

// AwsResourceRef identifies an AWS resource.
type AwsResourceRef struct {
	// name of the resource.
	// +required
	Name string `json:"name"`
	// arn of the resource.
	// +required
	ARN string `json:"arn"`
	// fullName of the resource, as used in CloudWatch dimensions.
	// +optional
	FullName string `json:"fullName"`
}

// BlueGreenStatus is the state of a blue-green update.
type BlueGreenStatus struct {
	// previewSelector is the pod-template hash the preview Service selects.
	// +optional
	PreviewSelector string `json:"previewSelector,omitempty"`
	// activeSelector is the pod-template hash the active Service selects.
	// +optional
	ActiveSelector string `json:"activeSelector,omitempty"`
	// scaleUpPreviewCheckPoint is true once the preview ReplicaSet may be scaled
	// to full size after the rollout is resumed.
	// +optional
	ScaleUpPreviewCheckPoint bool `json:"scaleUpPreviewCheckPoint,omitempty"`
	// prePromotionAnalysisRunStatus is the AnalysisRun run before the switch.
	// +optional
	PrePromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"prePromotionAnalysisRunStatus,omitempty"`
	// postPromotionAnalysisRunStatus is the AnalysisRun run after the switch.
	// +optional
	PostPromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"postPromotionAnalysisRunStatus,omitempty"`
}

// StepPluginStatus is the state of one step plugin execution.
type StepPluginStatus struct {
	// index of the canary step that runs the plugin.
	// +required
	Index int32 `json:"index"`
	// name of the plugin.
	// +required
	Name string `json:"name"`
	// startedAt is when the operation started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// updatedAt is when the status was last updated.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
	// finishedAt is when the operation finished.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// phase of the operation: Running, Successful, Failed or Error.
	// +optional
	Phase StepPluginPhase `json:"phase,omitempty"`
	// message from the plugin.
	// +optional
	Message string `json:"message,omitempty"`
	// operation is what the plugin was asked to do: Run, Terminate or Abort.
	// +required
	Operation StepPluginOperation `json:"operation"`
	// executions is the number of times the operation ran.
	// +optional
	Executions int32 `json:"executions,omitempty"`
	// backoff is the wait before the next execution (duration string).
	// +optional
	Backoff DurationString `json:"backoff,omitempty"`
	// disabled is true when the plugin is disabled and the step was skipped.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// status is the plugin's own state, as JSON.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Status json.RawMessage `json:"status,omitempty"`
}

// StepPluginPhase is the phase of a step plugin operation.
type StepPluginPhase string

// Step plugin phases.
const (
	StepPluginPhaseRunning    StepPluginPhase = "Running"
	StepPluginPhaseSuccessful StepPluginPhase = "Successful"
	StepPluginPhaseFailed     StepPluginPhase = "Failed"
	StepPluginPhaseError      StepPluginPhase = "Error"
)

// StepPluginOperation is an operation a step plugin is asked to perform.
type StepPluginOperation string

// Step plugin operations.
const (
	StepPluginOperationRun       StepPluginOperation = "Run"
	StepPluginOperationTerminate StepPluginOperation = "Terminate"
	StepPluginOperationAbort     StepPluginOperation = "Abort"
)

// RolloutDurationStatus records the timing of the current or last update.
type RolloutDurationStatus struct {
	// rolloutStartedAt is when the update started.
	// +optional
	RolloutStartedAt *metav1.Time `json:"rolloutStartedAt,omitempty"`
	// manualPauseStartedAt is when the current manual pause started.
	// +optional
	ManualPauseStartedAt *metav1.Time `json:"manualPauseStartedAt,omitempty"`
	// totalManualPauseDurationSeconds is the time spent in manual pauses so far.
	// +optional
	TotalManualPauseDurationSeconds *int64 `json:"totalManualPauseDurationSeconds,omitempty"`
	// finishedAt is when the update finished.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// completionStatus is how the update ended: Promoted, FastPromoted, Aborted,
	// Superseded, RolledBack or FastRolledBack.
	// +optional
	CompletionStatus string `json:"completionStatus,omitempty"`
}
