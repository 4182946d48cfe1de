package v1alpha1

import "encoding/json"

// RolloutTrafficRouting configures the router(s) that split traffic between
// the canary and the stable pods. Several routers may be set; each one is
// updated in turn.
type RolloutTrafficRouting struct {
	// istio splits traffic with an Istio VirtualService (by host or by
	// DestinationRule subset).
	// +optional
	Istio *IstioTrafficRouting `json:"istio,omitempty"`
	// nginx splits traffic with a canary Ingress for the NGINX Ingress controller.
	// +optional
	Nginx *NginxTrafficRouting `json:"nginx,omitempty"`
	// alb splits traffic with AWS Load Balancer Controller Ingress annotations.
	// +optional
	ALB *ALBTrafficRouting `json:"alb,omitempty"`
	// smi splits traffic with an SMI TrafficSplit.
	// +optional
	SMI *SMITrafficRouting `json:"smi,omitempty"`
	// ambassador splits traffic with Ambassador (Emissary) Mappings.
	// +optional
	Ambassador *AmbassadorTrafficRouting `json:"ambassador,omitempty"`
	// appMesh splits traffic with an AWS App Mesh VirtualRouter.
	// +optional
	AppMesh *AppMeshTrafficRouting `json:"appMesh,omitempty"`
	// traefik splits traffic with a weighted TraefikService.
	// +optional
	Traefik *TraefikTrafficRouting `json:"traefik,omitempty"`
	// managedRoutes are the routes the controller may add for setHeaderRoute and
	// setMirrorRoute steps, in order of precedence. They are removed at the end of
	// an update and on abort.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	ManagedRoutes []ManagedRoute `json:"managedRoutes,omitempty"`
	// apisix splits traffic with an Apache APISIX ApisixRoute.
	// +optional
	Apisix *ApisixTrafficRouting `json:"apisix,omitempty"`
	// plugins configures traffic-router plugins, by plugin name (for example
	// argoproj-labs/gatewayAPI); each value is the plugin's own configuration
	// object.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`
	// maxTrafficWeight is the total weight that setWeight steps are out of.
	// Default 100; only NGINX and plugins support other totals.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxTrafficWeight *int32 `json:"maxTrafficWeight,omitempty"`
}

// ManagedRoute names a route the controller manages.
type ManagedRoute struct {
	// name of the route.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// NginxTrafficRouting configures the NGINX Ingress router: the controller
// creates a canary Ingress next to each stable Ingress and sets its
// canary-weight annotation.
//
// +kubebuilder:validation:XValidation:rule="has(self.stableIngress) != has(self.stableIngresses)",message="nginx must set exactly one of stableIngress or stableIngresses"
type NginxTrafficRouting struct {
	// annotationPrefix is the annotation prefix the NGINX Ingress controller
	// reads. Default nginx.ingress.kubernetes.io.
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// stableIngress is the Ingress, in the rollout's namespace, that routes to
	// stableService.
	// +optional
	// +kubebuilder:validation:MinLength=1
	StableIngress string `json:"stableIngress,omitempty"`
	// additionalIngressAnnotations are added to the canary Ingress, prefixed with
	// annotationPrefix (for example canary-by-header: X-Canary).
	// +optional
	AdditionalIngressAnnotations map[string]string `json:"additionalIngressAnnotations,omitempty"`
	// canaryIngressAnnotations are added to the canary Ingress as they are (full
	// keys); they win over generated annotations.
	// +optional
	CanaryIngressAnnotations map[string]string `json:"canaryIngressAnnotations,omitempty"`
	// stableIngresses are several stable Ingresses, each getting its own canary
	// Ingress.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	StableIngresses []string `json:"stableIngresses,omitempty"`
}

// IstioTrafficRouting configures the Istio router.
//
// +kubebuilder:validation:XValidation:rule="has(self.virtualService) != has(self.virtualServices)",message="istio must set exactly one of virtualService or virtualServices"
type IstioTrafficRouting struct {
	// virtualService is the VirtualService whose routes get the weights.
	// +optional
	VirtualService *IstioVirtualService `json:"virtualService,omitempty"`
	// destinationRule, when set, splits by subset: the controller labels the
	// canary and stable subsets with the pod-template hashes and weights the
	// subsets instead of the Services.
	// +optional
	DestinationRule *IstioDestinationRule `json:"destinationRule,omitempty"`
	// virtualServices are several VirtualServices, all updated alike.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	VirtualServices []IstioVirtualService `json:"virtualServices,omitempty"`
}

// IstioVirtualService selects a VirtualService and its routes.
type IstioVirtualService struct {
	// name of the VirtualService; name.namespace for another namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// routes are the names of the HTTP routes to weight. If omitted, the
	// VirtualService must have exactly one HTTP route.
	// +optional
	// +listType=atomic
	Routes []string `json:"routes,omitempty"`
	// tlsRoutes select TLS routes to weight, by port and SNI hosts.
	// +optional
	// +listType=atomic
	TLSRoutes []TLSRoute `json:"tlsRoutes,omitempty"`
	// tcpRoutes select TCP routes to weight, by port.
	// +optional
	// +listType=atomic
	TCPRoutes []TCPRoute `json:"tcpRoutes,omitempty"`
}

// TLSRoute selects a TLS route of a VirtualService.
type TLSRoute struct {
	// port the route matches.
	// +optional
	Port int64 `json:"port,omitempty"`
	// sniHosts the route matches.
	// +optional
	// +listType=atomic
	SNIHosts []string `json:"sniHosts,omitempty"`
}

// TCPRoute selects a TCP route of a VirtualService.
type TCPRoute struct {
	// port the route matches.
	// +optional
	Port int64 `json:"port,omitempty"`
}

// IstioDestinationRule selects the DestinationRule of subset-level splitting.
type IstioDestinationRule struct {
	// name of the DestinationRule.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// canarySubsetName is the subset labelled with the canary's pod-template hash.
	// +required
	// +kubebuilder:validation:MinLength=1
	CanarySubsetName string `json:"canarySubsetName"`
	// stableSubsetName is the subset labelled with the stable's pod-template hash.
	// +required
	// +kubebuilder:validation:MinLength=1
	StableSubsetName string `json:"stableSubsetName"`
	// additionalSubsetNames are other subsets whose weights are kept as they are.
	// +optional
	// +listType=atomic
	AdditionalSubsetNames []string `json:"additionalSubsetNames,omitempty"`
}

// ALBTrafficRouting configures the AWS ALB router: the controller writes a
// weighted forward action annotation on the Ingress.
//
// +kubebuilder:validation:XValidation:rule="has(self.ingress) != has(self.ingresses)",message="alb must set exactly one of ingress or ingresses"
type ALBTrafficRouting struct {
	// ingress is the Ingress, in the rollout's namespace, whose action is
	// weighted.
	// +optional
	// +kubebuilder:validation:MinLength=1
	Ingress string `json:"ingress,omitempty"`
	// servicePort is the port of the Services the action forwards to.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ServicePort int32 `json:"servicePort"`
	// rootService is the Service named in the Ingress backend (with port
	// use-annotation). Default stableService; required with pingPong.
	// +optional
	RootService string `json:"rootService,omitempty"`
	// annotationPrefix is the annotation prefix the AWS Load Balancer Controller
	// reads. Default alb.ingress.kubernetes.io.
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// stickinessConfig enables target-group stickiness for a duration.
	// +optional
	StickinessConfig *StickinessConfig `json:"stickinessConfig,omitempty"`
	// ingresses are several Ingresses, all updated alike.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	Ingresses []string `json:"ingresses,omitempty"`
}

// StickinessConfig is ALB target-group stickiness.
type StickinessConfig struct {
	// enabled turns stickiness on.
	// +required
	Enabled bool `json:"enabled"`
	// durationSeconds is how long a client sticks to a target group, 1 to 604800
	// (7 days).
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	DurationSeconds int64 `json:"durationSeconds"`
}

// SMITrafficRouting configures the SMI router: the controller creates a
// TrafficSplit.
type SMITrafficRouting struct {
	// rootService is the Service clients call. Default stableService.
	// +optional
	RootService string `json:"rootService,omitempty"`
	// trafficSplitName is the name of the TrafficSplit. Default: the rollout's
	// name.
	// +optional
	TrafficSplitName string `json:"trafficSplitName,omitempty"`
}

// AmbassadorTrafficRouting configures the Ambassador router: the controller
// creates a weighted canary Mapping next to each Mapping.
type AmbassadorTrafficRouting struct {
	// mappings are the names of the Mappings that route to stableService; they
	// must not set a weight.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	Mappings []string `json:"mappings"`
}

// AppMeshTrafficRouting configures the AWS App Mesh router.
type AppMeshTrafficRouting struct {
	// virtualService is the App Mesh VirtualService whose VirtualRouter routes are
	// weighted.
	// +optional
	VirtualService *AppMeshVirtualService `json:"virtualService,omitempty"`
	// virtualNodeGroup names the canary and stable VirtualNodes, whose pod
	// selectors the controller sets to the pod-template hashes.
	// +optional
	VirtualNodeGroup *AppMeshVirtualNodeGroup `json:"virtualNodeGroup,omitempty"`
}

// AppMeshVirtualService selects an App Mesh VirtualService and its routes.
type AppMeshVirtualService struct {
	// name of the VirtualService.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// routes are the VirtualRouter routes to weight. If omitted, the router must
	// have exactly one route.
	// +optional
	// +listType=atomic
	Routes []string `json:"routes,omitempty"`
}

// AppMeshVirtualNodeGroup names the canary and stable VirtualNodes.
type AppMeshVirtualNodeGroup struct {
	// canaryVirtualNodeRef is the VirtualNode of the canary pods.
	// +required
	CanaryVirtualNodeRef *AppMeshVirtualNodeReference `json:"canaryVirtualNodeRef"`
	// stableVirtualNodeRef is the VirtualNode of the stable pods.
	// +required
	StableVirtualNodeRef *AppMeshVirtualNodeReference `json:"stableVirtualNodeRef"`
}

// AppMeshVirtualNodeReference references a VirtualNode.
type AppMeshVirtualNodeReference struct {
	// name of the VirtualNode.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// TraefikTrafficRouting configures the Traefik router.
type TraefikTrafficRouting struct {
	// weightedTraefikServiceName is the TraefikService whose weighted services
	// (canaryService and stableService) get the weights.
	// +required
	// +kubebuilder:validation:MinLength=1
	WeightedTraefikServiceName string `json:"weightedTraefikServiceName"`
}

// ApisixTrafficRouting configures the Apache APISIX router.
type ApisixTrafficRouting struct {
	// route is the ApisixRoute whose rules are weighted.
	// +optional
	Route *ApisixRoute `json:"route,omitempty"`
}

// ApisixRoute selects an ApisixRoute and its HTTP rules.
type ApisixRoute struct {
	// name of the ApisixRoute.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// rules are the names of the HTTP rules whose backends are weighted.
	// +optional
	// +listType=atomic
	Rules []string `json:"rules,omitempty"`
}
