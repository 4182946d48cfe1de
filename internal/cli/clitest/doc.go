// Package clitest holds the sluice CLI's tests against the local cluster: every verb run
// through the real command tree (cli.Run), with the controller running scoped to the test's
// namespace, the same scenarios driven with the raw patches of Argo Rollouts' kubectl plugin,
// and the verbs on Rollouts no controller manages. It has no code of its own.
package clitest
