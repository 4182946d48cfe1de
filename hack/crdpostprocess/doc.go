// Command crdpostprocess rewrites the CRDs controller-gen generates into config/crd so that
// they store exactly what Argo Rollouts' CRDs store and what a Deployment accepts. `make
// generate` runs it right after controller-gen:
//
//	go run ./hack/crdpostprocess config/crd
//
// It makes two changes, both inside the pod templates (Rollout spec.template, Experiment
// spec.templates[].template, the job template of analysis metrics):
//
//   - Quantities (resources.requests/limits, overhead, emptyDir.sizeLimit, divisor …) accept
//     JSON numbers. controller-gen renders resource.Quantity as int-or-string, so `cpu: 0.5`,
//     which a Deployment and Argo accept, was refused. A structural schema cannot say
//     "number or string" with types, so a quantity becomes a schema without a type that keeps
//     any value (x-kubernetes-preserve-unknown-fields) and refuses, with type-independent
//     keywords, everything the Go types would not decode: objects (minProperties > maxProperties),
//     arrays (minItems > maxItems), booleans (not: enum) and strings that are not quantities
//     (pattern, which only applies to strings).
//   - Schema defaults are removed. controller-gen copies the +default markers of the
//     Kubernetes types (ContainerPort.protocol TCP, LocalObjectReference.name "", volume
//     source defaults …) into the CRD. The API server applies them on create and on every read
//     from etcd, so a Rollout created under Argo's CRD (which has none) would gain fields once
//     sluice's CRD is installed, change its pod-template hash and restart all its pods.
//
// Any other schema default in the CRDs fails the command unless it is listed in keepDefaults:
// a default anywhere in a Rollout (in the steps, too: the steps hash) changes what existing
// objects read back as.
package main
