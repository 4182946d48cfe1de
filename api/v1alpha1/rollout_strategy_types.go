package v1alpha1

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// CanaryStrategy updates a Rollout step by step. Without trafficRouting, a
// step's weight is approximated by the ratio of canary to stable pods; with
// trafficRouting, the canary is scaled to the weight and a router sends
// exactly that share of requests to it.
//
// +kubebuilder:validation:XValidation:rule="!has(self.canaryService) || !has(self.stableService) || size(self.canaryService) == 0 || self.canaryService != self.stableService",message="canaryService and stableService must name two different Services"
// +kubebuilder:validation:XValidation:rule="!(has(self.maxSurge) && has(self.maxUnavailable) && (type(self.maxSurge) == int ? self.maxSurge == 0 : self.maxSurge.matches('^0+%?$')) && (type(self.maxUnavailable) == int ? self.maxUnavailable == 0 : self.maxUnavailable.matches('^0+%?$')))",message="maxSurge and maxUnavailable must not both be 0: no pod could ever be replaced"
// +kubebuilder:validation:XValidation:rule="!has(self.scaleDownDelaySeconds) || has(self.trafficRouting)",message="scaleDownDelaySeconds requires trafficRouting"
// +kubebuilder:validation:XValidation:rule="!has(self.dynamicStableScale) || !self.dynamicStableScale || has(self.trafficRouting)",message="dynamicStableScale requires trafficRouting"
// +kubebuilder:validation:XValidation:rule="!has(self.dynamicStableScale) || !self.dynamicStableScale || !has(self.scaleDownDelaySeconds)",message="dynamicStableScale cannot be combined with scaleDownDelaySeconds"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || self.steps.all(s, !has(s.setWeight) || s.setWeight <= (has(self.trafficRouting) && has(self.trafficRouting.maxTrafficWeight) ? self.trafficRouting.maxTrafficWeight : 100))",message="setWeight must be between 0 and 100, or between 0 and trafficRouting.maxTrafficWeight when that is set"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || has(self.trafficRouting) || self.steps.all(s, !has(s.setCanaryScale))",message="setCanaryScale steps require trafficRouting: without a router the canary's pod count is what sets its share of traffic"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || has(self.trafficRouting) || self.steps.all(s, !has(s.experiment) || s.experiment.templates.all(t, !has(t.weight)))",message="experiment template weight requires trafficRouting"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || self.steps.all(s, !has(s.setHeaderRoute) || (has(s.setHeaderRoute.name) && has(self.trafficRouting) && has(self.trafficRouting.managedRoutes) && self.trafficRouting.managedRoutes.exists(r, r.name == s.setHeaderRoute.name)))",message="setHeaderRoute.name must be one of the routes listed in trafficRouting.managedRoutes"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || self.steps.all(s, !has(s.setMirrorRoute) || (has(self.trafficRouting) && has(self.trafficRouting.managedRoutes) && self.trafficRouting.managedRoutes.exists(r, r.name == s.setMirrorRoute.name)))",message="setMirrorRoute.name must be one of the routes listed in trafficRouting.managedRoutes"
type CanaryStrategy struct {
	// canaryService is the Service the controller points at the canary pods
	// (selector rollouts-pod-template-hash = canary hash). Required by most
	// traffic routers.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	CanaryService string `json:"canaryService,omitempty"`
	// stableService is the Service the controller points at the stable pods.
	// Required by most traffic routers.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StableService string `json:"stableService,omitempty"`
	// steps are executed in order during an update. Each step sets a traffic
	// weight, pauses, runs an analysis or an experiment, changes the canary's
	// scale, sets a header or mirror route, or runs a step plugin. Without steps
	// an update goes straight to 100%.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Steps []CanaryStep `json:"steps,omitempty"`
	// trafficRouting makes a router (Istio, NGINX, ALB, SMI, …) send each step's
	// weight of the requests to the canary. Without it, the weight is approximated
	// with pod counts.
	// +optional
	TrafficRouting *RolloutTrafficRouting `json:"trafficRouting,omitempty"`
	// maxUnavailable is how many pods may be unavailable during the update: a
	// number, or a percentage of spec.replicas rounded down. Default 25%. Cannot
	// be 0 when maxSurge is 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%?$')",message="maxUnavailable must be a non-negative number of pods or a percentage such as 25%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// maxSurge is how many pods may run above spec.replicas during the update: a
	// number, or a percentage of spec.replicas rounded up. Default 25%. Cannot be
	// 0 when maxUnavailable is 0.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%?$')",message="maxSurge must be a non-negative number of pods or a percentage such as 25%"
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// analysis runs an AnalysisRun in the background for the whole update (from
	// startingStep on); its failure aborts the update.
	// +optional
	Analysis *RolloutAnalysisBackground `json:"analysis,omitempty"`
	// antiAffinity keeps canary pods off the nodes that run stable pods.
	// +optional
	AntiAffinity *AntiAffinity `json:"antiAffinity,omitempty"`
	// canaryMetadata are labels and annotations added to canary pods only while
	// they are the canary.
	// +optional
	CanaryMetadata *PodTemplateMetadata `json:"canaryMetadata,omitempty"`
	// stableMetadata are labels and annotations added to stable pods only while
	// they are stable.
	// +optional
	StableMetadata *PodTemplateMetadata `json:"stableMetadata,omitempty"`
	// scaleDownDelaySeconds is how long the old stable ReplicaSet stays up after
	// promotion, so routers have time to move traffic. Default 30. Requires
	// trafficRouting.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// scaleDownDelayRevisionLimit is how many old ReplicaSets may wait for their
	// scale-down delay at the same time. Default unlimited; must not exceed
	// revisionHistoryLimit.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// abortScaleDownDelaySeconds is how long the canary stays up after an abort,
	// with trafficRouting. Default 30; 0 leaves it up until the next update.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// dynamicStableScale scales the stable ReplicaSet down as traffic moves to the
	// canary, instead of keeping it at full size. Requires trafficRouting; slower
	// to abort.
	// +optional
	DynamicStableScale bool `json:"dynamicStableScale,omitempty"`
	// pingPong uses two Services that swap the canary and stable roles at every
	// release, instead of canaryService and stableService.
	// +optional
	PingPong *PingPongSpec `json:"pingPong,omitempty"`
	// minPodsPerReplicaSet raises any non-zero canary or stable pod count to at
	// least this many pods (capped at spec.replicas), for availability. Only with
	// trafficRouting.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinPodsPerReplicaSet *int32 `json:"minPodsPerReplicaSet,omitempty"`
	// replicaProgressThreshold is how many of the canary pods a step needs
	// available before it counts as reached. Default: all of them.
	// +optional
	ReplicaProgressThreshold *ReplicaProgressThreshold `json:"replicaProgressThreshold,omitempty"`
}

// ReplicaProgressThreshold is the share of canary pods that must be available
// for a step.
type ReplicaProgressThreshold struct {
	// type says how value is read: Percent (a percentage of the step's canary
	// pods) or Pod (a number of pods).
	// +required
	// +kubebuilder:validation:MinLength=1
	Type ProgressType `json:"type"`
	// value is the percentage or the number of pods.
	// +required
	// +kubebuilder:validation:Minimum=0
	Value int32 `json:"value"`
}

// ProgressType is the unit of a ReplicaProgressThreshold.
type ProgressType string

// Progress threshold units.
const (
	ProgressTypePercentage ProgressType = "Percent"
	ProgressTypePod        ProgressType = "Pod"
)

// CanaryStep is one step of a canary update. Set one action: setWeight, pause,
// analysis, experiment or plugin. setCanaryScale, setHeaderRoute and
// setMirrorRoute may be set alone or next to one of those actions, and take
// effect when the step starts.
//
// +kubebuilder:validation:XValidation:rule="has(self.setWeight) || has(self.pause) || has(self.analysis) || has(self.experiment) || has(self.setCanaryScale) || has(self.setHeaderRoute) || has(self.setMirrorRoute) || has(self.plugin)",message="a step must set one of setWeight, pause, analysis, experiment, setCanaryScale, setHeaderRoute, setMirrorRoute or plugin"
// +kubebuilder:validation:XValidation:rule="(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0) + (has(self.analysis) ? 1 : 0) + (has(self.experiment) ? 1 : 0) + (has(self.plugin) ? 1 : 0) <= 1",message="a step may set only one of setWeight, pause, analysis, experiment and plugin; use one step for each"
type CanaryStep struct {
	// setWeight sends this percentage of traffic to the canary (out of
	// trafficRouting.maxTrafficWeight if set, else 100) and scales the canary to
	// match. The step completes when the canary pods are available and the router
	// took the weight.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SetWeight *int32 `json:"setWeight,omitempty"`
	// pause stops the update: for a duration, or, with no duration, until a user
	// promotes the rollout (`kubectl argo rollouts promote`).
	// +optional
	Pause *RolloutPause `json:"pause,omitempty"`
	// experiment runs an Experiment (ReplicaSets of the canary or stable template,
	// optionally with analyses) and waits for it to finish; its failure aborts the
	// update.
	// +optional
	Experiment *RolloutExperimentStep `json:"experiment,omitempty"`
	// analysis runs an AnalysisRun and waits for it to succeed; failure aborts the
	// update, an inconclusive result pauses it.
	// +optional
	Analysis *RolloutAnalysis `json:"analysis,omitempty"`
	// setCanaryScale sets the canary's pod count independently of its traffic
	// weight, until a later step sets matchTrafficWeight. Requires trafficRouting.
	// +optional
	SetCanaryScale *SetCanaryScale `json:"setCanaryScale,omitempty"`
	// setHeaderRoute sends all requests with matching headers to the canary,
	// through the named managed route; with no match, removes that route.
	// +optional
	SetHeaderRoute *SetHeaderRoute `json:"setHeaderRoute,omitempty"`
	// setMirrorRoute copies a percentage of the matching requests to the canary
	// (responses are discarded), through the named managed route; with no match,
	// removes that route.
	// +optional
	SetMirrorRoute *SetMirrorRoute `json:"setMirrorRoute,omitempty"`
	// plugin runs a step plugin with the given configuration and waits for it to
	// succeed.
	// +optional
	Plugin *PluginStep `json:"plugin,omitempty"`
}

// RolloutPause is a pause step.
//
// +kubebuilder:validation:XValidation:rule="!has(self.duration) || (type(self.duration) == int ? self.duration >= 0 : self.duration.matches('^[0-9]+$|^(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|ms|s|m|h))+$'))",message="pause duration must be a non-negative number of seconds or a duration such as 30s, 5m or 1h30m"
type RolloutPause struct {
	// duration of the pause: a number of seconds (10) or a duration string (30s,
	// 5m, 1h). Without it, the rollout stays paused until promoted.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=64
	Duration *intstr.IntOrString `json:"duration,omitempty"`
}

// SetCanaryScale sets the canary's pod count independently of its traffic
// weight.
//
// +kubebuilder:validation:XValidation:rule="(has(self.replicas) ? 1 : 0) + (has(self.weight) ? 1 : 0) + (has(self.matchTrafficWeight) && self.matchTrafficWeight ? 1 : 0) <= 1",message="setCanaryScale takes only one of replicas, weight or matchTrafficWeight"
type SetCanaryScale struct {
	// weight scales the canary to this percentage of spec.replicas.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`
	// replicas scales the canary to this number of pods.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// matchTrafficWeight, when true, ends an earlier setCanaryScale: the canary is
	// scaled to its traffic weight again.
	// +optional
	MatchTrafficWeight bool `json:"matchTrafficWeight,omitempty"`
}

// SetHeaderRoute routes requests by header to the canary.
type SetHeaderRoute struct {
	// name of the route; must be listed in trafficRouting.managedRoutes.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// match lists the header conditions; a request matching all of them goes to
	// the canary. Empty: the route is removed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Match []HeaderRoutingMatch `json:"match,omitempty"`
}

// HeaderRoutingMatch matches one request header.
type HeaderRoutingMatch struct {
	// headerName is the name of the request header.
	// +required
	// +kubebuilder:validation:MinLength=1
	HeaderName string `json:"headerName"`
	// headerValue is how the header's value must match.
	// +required
	HeaderValue *StringMatch `json:"headerValue"`
}

// SetMirrorRoute mirrors matching requests to the canary.
type SetMirrorRoute struct {
	// name of the route; must be listed in trafficRouting.managedRoutes.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// match lists the request conditions; a request matching any of them is
	// mirrored. Empty: the route is removed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Match []RouteMatch `json:"match,omitempty"`
	// percentage of the matching requests that are mirrored, 0 to 100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Percentage *int32 `json:"percentage,omitempty"`
}

// RouteMatch matches a request by method, path and headers; all given
// conditions must hold.
type RouteMatch struct {
	// method matches the HTTP method.
	// +optional
	Method *StringMatch `json:"method,omitempty"`
	// path matches the URL path.
	// +optional
	Path *StringMatch `json:"path,omitempty"`
	// headers match request headers by name.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Headers map[string]StringMatch `json:"headers,omitempty"`
}

// StringMatch matches a string exactly, by prefix or by regular expression:
// exactly one of them.
//
// +kubebuilder:validation:XValidation:rule="(has(self.exact) && size(self.exact) > 0 ? 1 : 0) + (has(self.prefix) && size(self.prefix) > 0 ? 1 : 0) + (has(self.regex) && size(self.regex) > 0 ? 1 : 0) == 1",message="a string match must set exactly one of exact, prefix or regex"
type StringMatch struct {
	// exact matches the whole string.
	// +optional
	Exact string `json:"exact,omitempty"`
	// prefix matches the start of the string.
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// regex matches the string against a regular expression (router syntax).
	// +optional
	Regex string `json:"regex,omitempty"`
}

// PluginStep runs a step plugin.
type PluginStep struct {
	// name of the step plugin, as configured for the controller.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// config is passed to the plugin as is (any JSON object).
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Config json.RawMessage `json:"config,omitempty"`
}

// RolloutExperimentStep describes the Experiment an experiment step runs.
type RolloutExperimentStep struct {
	// templates are the ReplicaSets the experiment runs, each from the canary or
	// the stable template.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Templates []RolloutExperimentTemplate `json:"templates"`
	// duration the experiment runs for (30s, 5m, 1h). Without it, the experiment
	// ends when its analyses end.
	// +optional
	Duration DurationString `json:"duration,omitempty"`
	// analyses are AnalysisRuns started with the experiment.
	// +optional
	// +listType=atomic
	Analyses []RolloutExperimentStepAnalysisTemplateRef `json:"analyses,omitempty"`
	// dryRun lists the metrics whose results do not affect the experiment's
	// outcome.
	// +optional
	// +listType=atomic
	DryRun []DryRun `json:"dryRun,omitempty"`
	// analysisRunMetadata are labels and annotations added to the AnalysisRuns.
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitzero"`
	// scaleDownDelaySeconds is how long the experiment's ReplicaSets stay up after
	// it ends.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
}

// RolloutExperimentTemplate is one ReplicaSet of an experiment step.
type RolloutExperimentTemplate struct {
	// name of the template, unique in the experiment.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// specRef says which pod template to run: canary (the new template) or stable.
	// +required
	// +kubebuilder:validation:Enum=canary;stable
	SpecRef ReplicaSetSpecRef `json:"specRef"`
	// replicas is the number of pods. Default 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// metadata are labels and annotations added to the template's pods.
	// +optional
	Metadata PodTemplateMetadata `json:"metadata,omitzero"`
	// selector of the ReplicaSet. Default: the rollout's selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// weight is the percentage of traffic sent to these pods. Requires
	// trafficRouting.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Weight *int32 `json:"weight,omitempty"`
	// service, when set, makes the experiment create a Service for these pods.
	// +optional
	Service *TemplateService `json:"service,omitempty"`
}

// ReplicaSetSpecRef names the pod template an experiment template runs.
type ReplicaSetSpecRef string

// Experiment template sources.
const (
	CanarySpecRef ReplicaSetSpecRef = "canary"
	StableSpecRef ReplicaSetSpecRef = "stable"
)

// RolloutExperimentStepAnalysisTemplateRef is an analysis run by an experiment
// step.
type RolloutExperimentStepAnalysisTemplateRef struct {
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
	Args []AnalysisRunArgument `json:"args,omitempty"`
	// requiredForCompletion makes the experiment wait for this analysis before it
	// completes.
	// +optional
	RequiredForCompletion bool `json:"requiredForCompletion,omitempty"`
}

// PodTemplateMetadata are labels and annotations for pods.
type PodTemplateMetadata struct {
	// labels to add.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations to add.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AnalysisRunMetadata are labels and annotations for AnalysisRuns.
type AnalysisRunMetadata struct {
	// labels to add to the AnalysisRun.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations to add to the AnalysisRun.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RolloutAnalysisBackground is the background analysis of a canary update.
type RolloutAnalysisBackground struct {
	RolloutAnalysis `json:",inline"`
	// startingStep is the index of the step at which the background analysis
	// starts. Default 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// RolloutAnalysis describes the AnalysisRun a Rollout creates from one or more
// templates.
type RolloutAnalysis struct {
	// templates are combined into one AnalysisRun.
	// +optional
	// +listType=atomic
	Templates []RolloutAnalysisTemplate `json:"templates,omitempty"`
	// args are the arguments passed to the templates.
	// +optional
	// +listType=atomic
	Args []AnalysisRunArgument `json:"args,omitempty"`
	// dryRun lists the metrics whose results do not affect the rollout.
	// +optional
	// +listType=atomic
	DryRun []DryRun `json:"dryRun,omitempty"`
	// measurementRetention sets how many measurements are kept per metric.
	// +optional
	// +listType=atomic
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// analysisRunMetadata are labels and annotations added to the AnalysisRun.
	// +optional
	AnalysisRunMetadata AnalysisRunMetadata `json:"analysisRunMetadata,omitzero"`
}

// RolloutAnalysisTemplate references an AnalysisTemplate or
// ClusterAnalysisTemplate.
type RolloutAnalysisTemplate struct {
	// templateName is the name of the template.
	// +optional
	TemplateName string `json:"templateName"`
	// clusterScope looks templateName up as a ClusterAnalysisTemplate.
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`
}

// AnalysisRunArgument is an argument a Rollout passes to an AnalysisRun.
type AnalysisRunArgument struct {
	// name of the argument, as used in the template ({{args.name}}).
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// value of the argument.
	// +optional
	Value string `json:"value,omitempty"`
	// valueFrom takes the value from the rollout: a pod-template hash or a
	// metadata field.
	// +optional
	ValueFrom *ArgumentValueFrom `json:"valueFrom,omitempty"`
}

// ArgumentValueFrom takes an argument's value from the rollout.
type ArgumentValueFrom struct {
	// podTemplateHashValue is Stable or Latest: the pod-template hash of that
	// ReplicaSet.
	// +optional
	PodTemplateHashValue *ValueFromPodTemplateHash `json:"podTemplateHashValue,omitempty"`
	// fieldRef takes the value from a field of the Rollout, such as
	// metadata.labels['app'].
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// FieldRef selects a field of an object.
type FieldRef struct {
	// fieldPath is the path of the field, in downward-API syntax (metadata.name,
	// metadata.labels['key'], …).
	// +required
	FieldPath string `json:"fieldPath"`
}

// ValueFromPodTemplateHash names the ReplicaSet whose pod-template hash is
// used.
type ValueFromPodTemplateHash string

// Pod-template hash sources.
const (
	// Stable is the stable ReplicaSet's hash.
	Stable ValueFromPodTemplateHash = "Stable"
	// Latest is the newest ReplicaSet's hash.
	Latest ValueFromPodTemplateHash = "Latest"
)

// AntiAffinity keeps new pods away from the nodes running the previous
// version.
//
// +kubebuilder:validation:XValidation:rule="has(self.preferredDuringSchedulingIgnoredDuringExecution) != has(self.requiredDuringSchedulingIgnoredDuringExecution)",message="antiAffinity must set exactly one of preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution"
type AntiAffinity struct {
	// preferredDuringSchedulingIgnoredDuringExecution makes the scheduler avoid
	// those nodes when it can, with the given weight.
	// +optional
	PreferredDuringSchedulingIgnoredDuringExecution *PreferredDuringSchedulingIgnoredDuringExecution `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
	// requiredDuringSchedulingIgnoredDuringExecution forbids those nodes.
	// +optional
	RequiredDuringSchedulingIgnoredDuringExecution *RequiredDuringSchedulingIgnoredDuringExecution `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PreferredDuringSchedulingIgnoredDuringExecution is a soft anti-affinity.
type PreferredDuringSchedulingIgnoredDuringExecution struct {
	// weight of the preference, 1 to 100.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Weight int32 `json:"weight"`
}

// RequiredDuringSchedulingIgnoredDuringExecution is a hard anti-affinity; it
// has no fields.
type RequiredDuringSchedulingIgnoredDuringExecution struct{}

// PingPongSpec names the two Services of the ping-pong mode.
//
// +kubebuilder:validation:XValidation:rule="self.pingService != self.pongService",message="pingService and pongService must name two different Services"
type PingPongSpec struct {
	// pingService is one of the two Services.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	PingService string `json:"pingService"`
	// pongService is the other Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	PongService string `json:"pongService"`
}

// BlueGreenStrategy runs the new version beside the old one and switches
// traffic at once.
//
// +kubebuilder:validation:XValidation:rule="!has(self.previewService) || self.previewService != self.activeService",message="activeService and previewService must name two different Services"
type BlueGreenStrategy struct {
	// activeService is the Service that receives production traffic; the
	// controller points it at the new pods at promotion.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ActiveService string `json:"activeService"`
	// previewService is the Service pointed at the new pods before promotion, for
	// testing.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PreviewService string `json:"previewService,omitempty"`
	// previewReplicaCount is the number of new pods run before promotion; they are
	// scaled to spec.replicas when the rollout is promoted. Default:
	// spec.replicas.
	// +optional
	// +kubebuilder:validation:Minimum=0
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`
	// autoPromotionEnabled promotes the new version as soon as it is ready; false
	// pauses until a user promotes. Default true.
	// +optional
	AutoPromotionEnabled *bool `json:"autoPromotionEnabled,omitempty"`
	// autoPromotionSeconds delays the automatic promotion by this many seconds
	// after the new pods are available. Default 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AutoPromotionSeconds int32 `json:"autoPromotionSeconds,omitempty"`
	// maxUnavailable is how many pods may be unavailable during a restart: a
	// number or a percentage. Default 25%.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%?$')",message="maxUnavailable must be a non-negative number of pods or a percentage such as 25%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// scaleDownDelaySeconds is how long the old ReplicaSet stays up after the
	// switch, so every node sees the Service change. Default 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// scaleDownDelayRevisionLimit is how many old ReplicaSets may wait for their
	// scale-down delay at the same time; must not exceed revisionHistoryLimit.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// prePromotionAnalysis runs before the switch; the switch happens only if it
	// succeeds.
	// +optional
	PrePromotionAnalysis *RolloutAnalysis `json:"prePromotionAnalysis,omitempty"`
	// antiAffinity keeps the new pods off the nodes running the old ones.
	// +optional
	AntiAffinity *AntiAffinity `json:"antiAffinity,omitempty"`
	// postPromotionAnalysis runs after the switch; its failure switches back.
	// +optional
	PostPromotionAnalysis *RolloutAnalysis `json:"postPromotionAnalysis,omitempty"`
	// previewMetadata are labels and annotations added to the new pods while they
	// are the preview.
	// +optional
	PreviewMetadata *PodTemplateMetadata `json:"previewMetadata,omitempty"`
	// activeMetadata are labels and annotations added to the pods while they are
	// active.
	// +optional
	ActiveMetadata *PodTemplateMetadata `json:"activeMetadata,omitempty"`
	// abortScaleDownDelaySeconds is how long the new pods stay up after an abort.
	// Default 30; 0 leaves them up.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
}
