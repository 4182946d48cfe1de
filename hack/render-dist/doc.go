// Command render-dist renders the kustomize trees under config/ into the single-file install
// manifests under dist/, with kustomize's Go API (the same build `kubectl apply -k` and
// `kustomize build` run). `make generate` runs it, so `make verify` fails when dist/ is stale:
//
//	go run ./hack/render-dist -tag latest
//
// It writes dist/install.yaml from config/default (CRDs, namespace sluice-system, ClusterRole,
// Deployment …) and dist/namespace-install.yaml from config/namespaced (Role instead of the
// ClusterRole, no CRDs, no namespace: kubectl apply -n picks it). The controller image,
// ghcr.io/sluicehq/sluice, gets the tag -tag. The default, latest, keeps the output the same on
// every machine and commit; a release renders with its version.
package main
