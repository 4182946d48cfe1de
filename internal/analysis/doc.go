// Package analysis is the pure core of AnalysisRuns: it decides which metrics are due for a
// measurement, turns what a provider measured into a measurement (successCondition and
// failureCondition in the expr language Argo Rollouts uses, with the same helper functions),
// counts it, and assesses metric and run phases with Argo's limits (failureLimit,
// inconclusiveLimit, consecutiveErrorLimit, consecutiveSuccessLimit, count, dryRun,
// measurementRetention, terminate). It also builds AnalysisRun specs from templates and
// arguments.
//
// Like internal/plan it has no client, no clock and no logger: the AnalysisRun controller
// (internal/controller/analysis) reads the run, asks Tasks what to measure, calls the
// providers (internal/metricprovider), feeds the results to Record and writes what Assess
// leaves in the status.
package analysis
