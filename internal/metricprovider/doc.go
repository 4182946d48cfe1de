// Package metricprovider is the contract between the AnalysisRun controller and the metric
// providers (prometheus, web, job, datadog, …): one Provider interface, one package per
// provider under this directory, and a conformance suite (providertest) that every provider
// passes against a real server on loopback.
//
// A provider only measures. It returns the raw value its backend gave (Result.Value, what a
// successCondition or failureCondition sees as `result`) and how to show it
// (Result.Display); the conditions, limits and phases are decided in one place,
// internal/analysis, so every provider counts the same way. A provider that has its own
// verdict (job: the Job succeeded or failed) sets Result.Phase instead.
package metricprovider
