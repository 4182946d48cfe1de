package v1alpha1

// This file holds the strings of the status protocol that other tools rely on: condition types
// and reasons, pause reasons, phases, and the labels and annotations the controller writes.
// They are Argo Rollouts' values (argo-compat.md §2), so the `kubectl argo rollouts` plugin, Argo
// CD's health checks and notification triggers keep working against sluice.

// RolloutConditionType is the type of a condition in Rollout.status.conditions.
type RolloutConditionType string

// Rollout condition types.
const (
	// RolloutInvalidSpec is True while the spec cannot be acted on; the rollout does not progress
	// until the spec is fixed. Its message says what is wrong.
	RolloutInvalidSpec RolloutConditionType = "InvalidSpec"
	// RolloutAvailable is True when the rollout has at least spec.replicas available pods serving
	// (for blue-green: behind the active Service).
	RolloutAvailable RolloutConditionType = "Available"
	// RolloutProgressing tracks the progress of an update; it turns False with reason
	// ProgressDeadlineExceeded or RolloutAborted when the update stalls or is aborted.
	RolloutProgressing RolloutConditionType = "Progressing"
	// RolloutReplicaFailure is copied from a ReplicaSet that fails to create or delete pods.
	RolloutReplicaFailure RolloutConditionType = "ReplicaFailure"
	// RolloutPaused is True while the rollout is paused, by a user or by a step.
	RolloutPaused RolloutConditionType = "Paused"
	// RolloutCompleted is True when the stable ReplicaSet runs the desired pod template
	// (status.stableRS == status.currentPodHash).
	RolloutCompleted RolloutConditionType = "Completed"
	// RolloutHealthy is True when the rollout is completed and all its pods are available.
	RolloutHealthy RolloutConditionType = "Healthy"
)

// Reasons of Rollout conditions. The same strings are used as event reasons.
const (
	// ReasonNewReplicaSetCreated (Progressing=True): the ReplicaSet for a new template was created.
	ReasonNewReplicaSetCreated string = "NewReplicaSetCreated"
	// ReasonFoundNewReplicaSet (Progressing=True): an existing ReplicaSet matches the template.
	ReasonFoundNewReplicaSet string = "FoundNewReplicaSet"
	// ReasonReplicaSetUpdated (Progressing=True): ReplicaSets were scaled.
	ReasonReplicaSetUpdated string = "ReplicaSetUpdated"
	// ReasonNewReplicaSetAvailable (Progressing=True): the update finished and is available.
	ReasonNewReplicaSetAvailable string = "NewReplicaSetAvailable"
	// ReasonReplicaSetNotAvailable (Progressing=True): the ReplicaSet has unavailable pods.
	ReasonReplicaSetNotAvailable string = "ReplicaSetNotAvailable"
	// ReasonReplicaSetCreateError (Progressing=False): the ReplicaSet could not be created.
	ReasonReplicaSetCreateError string = "ReplicaSetCreateError"
	// ReasonProgressDeadlineExceeded (Progressing=False): no progress within
	// spec.progressDeadlineSeconds.
	ReasonProgressDeadlineExceeded string = "ProgressDeadlineExceeded"
	// ReasonRolloutAborted (Progressing=False): the update was aborted, by a user or by a failed
	// analysis, experiment or step plugin.
	ReasonRolloutAborted string = "RolloutAborted"
	// ReasonRolloutPaused (Progressing=Unknown, Paused=True): the rollout is paused.
	ReasonRolloutPaused string = "RolloutPaused"
	// ReasonRolloutResumed (Progressing=Unknown): the rollout was resumed.
	ReasonRolloutResumed string = "RolloutResumed"
	// ReasonRolloutRetry (Progressing=Unknown): an aborted update is being retried.
	ReasonRolloutRetry string = "RolloutRetry"
	// ReasonAvailable is the reason of the Available condition (Argo uses the same string for
	// True and False).
	ReasonAvailable string = "AvailableReason"
	// ReasonRolloutCompleted is the reason of the Completed condition.
	ReasonRolloutCompleted string = "RolloutCompleted"
	// ReasonRolloutHealthy is the reason of the Healthy condition.
	ReasonRolloutHealthy string = "RolloutHealthy"
	// ReasonInvalidSpec is the reason of the InvalidSpec condition.
	ReasonInvalidSpec string = "InvalidSpec"
)

// PauseReason says why the controller paused a rollout (status.pauseConditions[].reason).
type PauseReason string

// Pause reasons.
const (
	// PauseReasonCanaryPauseStep: the rollout reached a canary `pause` step.
	PauseReasonCanaryPauseStep PauseReason = "CanaryPauseStep"
	// PauseReasonBlueGreenPause: a blue-green rollout waits for promotion.
	PauseReasonBlueGreenPause PauseReason = "BlueGreenPause"
	// PauseReasonInconclusiveAnalysis: an AnalysisRun ended Inconclusive.
	PauseReasonInconclusiveAnalysis PauseReason = "InconclusiveAnalysisRun"
	// PauseReasonInconclusiveExperiment: an Experiment ended Inconclusive.
	PauseReasonInconclusiveExperiment PauseReason = "InconclusiveExperiment"
)

// RolloutPhase is the summary of a rollout's state in status.phase, derived from its conditions.
type RolloutPhase string

// Rollout phases.
const (
	// RolloutPhaseHealthy: fully promoted and available.
	RolloutPhaseHealthy RolloutPhase = "Healthy"
	// RolloutPhaseDegraded: invalid spec, aborted, or past the progress deadline.
	RolloutPhaseDegraded RolloutPhase = "Degraded"
	// RolloutPhaseProgressing: an update is making progress.
	RolloutPhaseProgressing RolloutPhase = "Progressing"
	// RolloutPhasePaused: paused by a user or a step; does not progress until resumed.
	RolloutPhasePaused RolloutPhase = "Paused"
)

// ExperimentConditionType is the type of a condition in Experiment.status.conditions.
type ExperimentConditionType string

// Experiment condition types.
const (
	// ExperimentProgressing tracks whether the experiment makes progress.
	ExperimentProgressing ExperimentConditionType = "Progressing"
	// ExperimentInvalidSpec is True while the experiment spec cannot be acted on.
	ExperimentInvalidSpec ExperimentConditionType = "InvalidSpec"
)

// Labels the controller sets.
const (
	// LabelPodTemplateHash carries the pod-template hash on ReplicaSets, their pods and selectors,
	// on Service selectors, DestinationRule subsets, AppMesh VirtualNodes, AnalysisRuns and
	// Experiments.
	LabelPodTemplateHash string = "rollouts-pod-template-hash"
	// LabelControllerInstanceID segregates objects between controllers started with
	// --instance-id: a controller only acts on objects whose label matches its instance id (or on
	// objects without the label when it has none).
	LabelControllerInstanceID string = "argo-rollouts.argoproj.io/controller-instance-id"
	// LabelRolloutType says why a Rollout created an AnalysisRun: one of the RolloutType values.
	LabelRolloutType string = "rollout-type"
	// LabelStepIndex is the index of the canary step that created an AnalysisRun or Experiment.
	LabelStepIndex string = "step-index"
	// LabelAnalysisRunUID marks the Jobs created by a job metric with the AnalysisRun's UID.
	LabelAnalysisRunUID string = "analysisrun.argoproj.io/uid"
	// LabelGatewayAPICanary marks Gateway API routes while a canary receives traffic; its value
	// is GatewayAPICanaryInProgress.
	LabelGatewayAPICanary string = "rollouts.argoproj.io/gatewayapi-canary"
)

// Values of LabelRolloutType.
const (
	RolloutTypeStep          string = "Step"
	RolloutTypeBackground    string = "Background"
	RolloutTypePrePromotion  string = "PrePromotion"
	RolloutTypePostPromotion string = "PostPromotion"
)

// GatewayAPICanaryInProgress is the value of LabelGatewayAPICanary.
const GatewayAPICanaryInProgress string = "in-progress"

// Annotations the controller sets or reads.
const (
	// AnnotationRevision is the revision number on a Rollout, its ReplicaSets and AnalysisRuns.
	AnnotationRevision string = "rollout.argoproj.io/revision"
	// AnnotationRevisionHistory lists the earlier revisions a reused ReplicaSet served.
	AnnotationRevisionHistory string = "rollout.argoproj.io/revision-history"
	// AnnotationDesiredReplicas records spec.replicas on a ReplicaSet at its last scaling; a
	// mismatch on the new or stable ReplicaSet marks a scaling event.
	AnnotationDesiredReplicas string = "rollout.argoproj.io/desired-replicas"
	// AnnotationScaleDownDeadline holds the RFC 3339 time after which an old ReplicaSet may be
	// scaled to zero.
	AnnotationScaleDownDeadline string = "scale-down-deadline"
	// AnnotationEphemeralMetadata records, as JSON, the canary/stable metadata injected into a
	// ReplicaSet's pods, so it can be removed when the role changes.
	AnnotationEphemeralMetadata string = "rollout.argoproj.io/ephemeral-metadata"
	// AnnotationWorkloadGeneration records the generation of the spec.workloadRef object last seen.
	AnnotationWorkloadGeneration string = "rollout.argoproj.io/workload-generation"
	// AnnotationManagedByRollouts names the Rollout that switched a Service's (or
	// DestinationRule's) selector.
	AnnotationManagedByRollouts string = "argo-rollouts.argoproj.io/managed-by-rollouts"
	// AnnotationManagedALBAnnotations records, per Rollout, which ALB Ingress annotations the
	// controller owns.
	AnnotationManagedALBAnnotations string = "rollouts.argoproj.io/managed-alb-annotations"
	// AnnotationManagedALBActions is the legacy form of AnnotationManagedALBAnnotations; the
	// controller deletes it.
	AnnotationManagedALBActions string = "rollouts.argoproj.io/managed-alb-actions"
	// AnnotationRestartedAfter is defined by Argo Rollouts but never written; kept for reference.
	AnnotationRestartedAfter string = "argo-rollouts.argoproj.io/restarted-after"
	// AnnotationAnalysisRunName, AnnotationAnalysisRunNamespace and AnnotationAnalysisRunMetricName
	// identify the AnalysisRun and metric a job-metric Job belongs to.
	AnnotationAnalysisRunName       string = "analysisrun.argoproj.io/name"
	AnnotationAnalysisRunNamespace  string = "analysisrun.argoproj.io/namespace"
	AnnotationAnalysisRunMetricName string = "analysisrun.argoproj.io/metric-name"
	// AnnotationExperimentName and AnnotationExperimentTemplateName mark the ReplicaSets an
	// Experiment creates.
	AnnotationExperimentName         string = "experiment.argoproj.io/name"
	AnnotationExperimentTemplateName string = "experiment.argoproj.io/template-name"
)

// AnnotationEffectiveCanaryWeight is sluice's own annotation (not Argo's) on a Rollout without a
// traffic router: the share of available pods that run the canary, in percent with at most one
// decimal ("25", "33.3"): what a Service really sends to the canary, next to the requested
// setWeight. It is absent when the Rollout is fully promoted or has a router.
const AnnotationEffectiveCanaryWeight = "sluice.dev/effective-canary-weight"
