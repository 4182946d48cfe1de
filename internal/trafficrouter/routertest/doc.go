// Package routertest is the conformance suite every traffic router passes on the local
// cluster (routertest.Run), plus the helpers router tests share: a client with sluice's
// scheme, loading example manifests from the repository and creating them in a test namespace.
//
// The suite asserts the state of the objects, never call sequences: weights land exactly,
// applying twice writes nothing (resourceVersions stay), hand edits are undone, managed routes
// and Cleanup leave no residue, unsupported features and broken preconditions fail with the
// typed errors.
package routertest
