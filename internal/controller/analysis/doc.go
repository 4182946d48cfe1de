// Package analysis reconciles AnalysisRuns, the ones a Rollout creates and the ones a user
// applies: it takes the measurements that are due through the metric providers
// (internal/metricprovider), lets internal/analysis count and assess them, writes the status
// once per pass, records Argo's events (MetricSuccessful, AnalysisRunFailed, …) and deletes
// completed runs per ttlStrategy.
//
// Secrets named by valueFrom.secretKeyRef arguments are read at measurement time, straight
// from the API server, and never stored: they are redacted from every message.
package analysis
