// Package v1alpha1 is sluice's argoproj.io/v1alpha1 API: Rollout, AnalysisTemplate,
// ClusterAnalysisTemplate, AnalysisRun and Experiment.
//
// The types are sluice's own but wire-compatible with Argo Rollouts: field names, JSON tags and
// value formats are Argo's, so manifests written for Argo, the `kubectl argo rollouts` plugin and
// Argo CD's health checks work unchanged. The CRDs generated from these types carry every Argo
// field, implemented by the controller or not, so nothing a user writes is pruned. Mistakes that
// are visible in the object itself are rejected at admission by OpenAPI and CEL rules; anything
// that depends on other objects or on what the controller supports is reported by the controller
// as an InvalidSpec condition.
//
// This package holds types only. It imports the standard library, k8s.io/api and
// k8s.io/apimachinery, nothing else.
//
// +kubebuilder:object:generate=true
// +groupName=argoproj.io
package v1alpha1
