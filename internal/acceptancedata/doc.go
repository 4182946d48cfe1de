// Package acceptancedata finds the acceptance data that lives outside the repository: Argo
// Rollouts' own example manifests (argo-examples/) and the manifests of the question sluice
// answers (question/), in a directory called shared/ that sits beside the repository on the
// team's machines. The data is read in place, never copied into the repository.
//
// The repository's own tests do not need it (they carry their own manifests under testdata/);
// the acceptance check against it is an extra. [Dir] looks for it in this order:
//
//  1. $SLUICE_SHARED_DIR, when set (a missing directory there is a failure: it was asked for);
//  2. a shared/ directory holding argo-examples/ beside the repository: in the parent of the
//     module root (the directory with go.mod) or in any directory above it.
//
// When neither is found the test is skipped with one line saying how to run it, except under
// CI=true, where a missing directory fails the test, so CI can never skip the check silently.
package acceptancedata
