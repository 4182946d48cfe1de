// Package job is the `job` metric provider: each measurement runs a batch/v1 Job built from the
// metric's job.metadata and job.spec, and passes when the Job completes, fails when it fails.
//
// Wire compatibility with Argo Rollouts (argo-compat.md §1.6): the Job is named
// <run UID>.<metric>.<n> (n = the metric's measurements so far + 1), lives in the run's
// namespace, is controlled by the AnalysisRun (ownerReference, so deleting the run deletes its
// Jobs), carries the label analysisrun.argoproj.io/uid and the annotations
// analysisrun.argoproj.io/name, …/namespace and …/metric-name on top of the metric's own
// labels and annotations, and the measurement's metadata names it (job-name), as Argo's
// kubectl plugin expects. A name that would not be a valid Job name (longer than 63
// characters, the limit of the job-name label the Job controller puts on its pods, or a
// metric name with characters a Job name cannot have) is shortened deterministically to
// <first 8 of the UID>.<metric, cleaned and cut>-<hash of the metric>.<n>.
//
// Measure creates the Job and returns Running; a Job of that name already controlled by the
// same run (the controller restarted between creating it and recording the measurement) is
// adopted. Resume reads the Job: Complete (or SuccessCriteriaMet) → Successful, Failed (or
// FailureTarget) → Failed with the Job's reason and message (BackoffLimitExceeded,
// DeadlineExceeded, …), else still Running. Terminate deletes the Job (background propagation)
// and records the measurement Successful, as Argo does. GarbageCollect deletes this metric's
// Jobs beyond the newest keep.
//
// The analysis controller does not watch Jobs, so a running measurement is looked at again
// after 2 s while the Job is young (most analysis Jobs are short; Argo reacts to Job events at
// once) and every 10 s after its first minute: one GET each time.
//
// Deps.Client must read from the API server, not from a cache: a cache that does not hold a
// Job just created would answer NotFound, and the controller's cache does not watch Jobs.
// RBAC: batch jobs get, list, create, delete.
package job
