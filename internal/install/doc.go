// Package install tests the install manifests, dist/install.yaml (cluster-wide) and
// dist/namespace-install.yaml (one namespace), on the local cluster: every document is applied
// server-side as `kubectl apply --server-side` would, and the controller runs as the
// Deployment runs it — the container's args through the same `sluice controller` command, the
// Deployment's environment, and only the ServiceAccount's token — in a child process of the
// test binary (the cluster's kwok nodes run no containers). The Rollouts it manages must become
// Healthy, and calls outside its RBAC must be refused.
//
// The package has no code of its own; the manifests are rendered from config/ by
// hack/render-dist (make generate).
package install
