// Package childproc starts the long-lived child processes sluice runs (the local cluster's
// components, the benchmark's controller) so that they never outlive the process that
// started them, logs them to a file, and stops them gracefully.
package childproc
