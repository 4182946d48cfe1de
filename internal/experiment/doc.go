// Package experiment holds the pure decisions of the Experiment controller
// (internal/controller/experiment): from an Experiment, the ReplicaSets, Services and
// AnalysisRuns observed for it and the current time, Compute decides which ReplicaSets and
// Services to create, how far to scale them, which AnalysisRuns to start or stop, the next
// status (templateStatuses, analysisRuns, availableAt, phase, conditions) and when to look
// again. It has no client and no clock; the controller does the I/O around it. StepTemplate
// builds the templates of a Rollout's experiment step, and RolloutStepProblems runs Validate's
// template checks on them for the Rollout's up-front validation (internal/rolloutspec).
//
// An Experiment's life (argo-compat.md §1.7):
//
//	Pending ──► every template's ReplicaSet available ──► Running (availableAt set)
//	   │                                                    │ analyses start now
//	   │ a template misses progressDeadlineSeconds           │ duration passed, required analyses
//	   ▼                                                    ▼ Successful, or spec.terminate
//	Failed / Error ◄── an analysis Failed, Error,      Successful
//	                  Inconclusive (that phase)
//
// Once the phase is final nothing new starts: running AnalysisRuns are terminated, every
// ReplicaSet gets a scale-down-deadline of now + scaleDownDelaySeconds (default 30) and is
// scaled to 0 when it passes, and a template's Service is deleted once its pods are gone.
//
// Where Argo Rollouts differs, sluice keeps Argo's wire format but not its slips: an analysis
// that was terminated still reports the phase its run ended with, so an Experiment whose
// required analyses were stopped by spec.terminate completes instead of staying Running.
package experiment
