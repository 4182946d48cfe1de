// Package kubeobj holds what the routers share to read and write Kubernetes objects: the
// read-modify-write loop that skips unchanged objects and retries on conflicts, JSON-level
// equality, and accessors for unstructured content (Istio, SMI and Gateway API objects are
// handled as unstructured so that fields sluice does not know are never dropped).
package kubeobj
