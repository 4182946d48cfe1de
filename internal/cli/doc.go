// Package cli owns the sluice command line: the cobra command tree shared by `sluice` and the
// kubectl plugin `kubectl-sluice`, and the glue from flags to the packages that do the work
// (internal/devcluster for `dev`, and later the controller, the verbs, `plan` and `lint`).
package cli
