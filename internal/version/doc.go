// Package version owns the build identity of the sluice binary: its version, the commit it was
// built from, and the Kubernetes API version it was built against.
package version
