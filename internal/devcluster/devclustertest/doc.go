// Package devclustertest boots one local cluster per test binary (from TestMain) and gives
// tests a client configuration and a fresh namespace each. Packages run in separate test
// binaries, so each has its own cluster and no two packages' controllers see the same objects.
//
// Set SLUICE_SKIP_CLUSTER=1 to skip every test that needs the cluster (make test-unit);
// SLUICE_KEEP_CLUSTER=1 keeps the run directory (logs) after the tests.
package devclustertest
