// Package yamldocs splits multi-document YAML (or JSON) streams into Kubernetes objects: the
// CRDs the local cluster installs, the examples the demo and the tests apply.
package yamldocs
