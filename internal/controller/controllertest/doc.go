// Package controllertest runs the real sluice controller for a test, scoped to the test's own
// namespace, so tests in one package run in parallel without sharing objects and a test can
// stop and restart "its" controller.
package controllertest
