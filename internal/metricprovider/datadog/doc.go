// Package datadog measures metrics with Datadog queries, as Argo Rollouts' datadog provider
// does: API v1 (GET /api/v1/query, one query, the last point of the first series) and API v2
// (POST /api/v2/query/scalar, named queries combined by a formula, reduced by an aggregator,
// "last" by default).
//
// It speaks Datadog's documented HTTP API with net/http instead of the official client
// (github.com/DataDog/datadog-api-client-go), which is generated for every Datadog endpoint and
// takes minutes to compile for the two requests used here.
//
// Credentials come from a Secret with the keys api-key, app-key and address (default
// https://api.datadoghq.com): the Secret named by secretRef.name ("datadog" by default) in the
// controller's namespace, or in the AnalysisRun's namespace when secretRef.namespaced is true.
// Argo's fallback to DD_API_KEY / DD_APP_KEY / DD_ADDRESS environment variables is not
// implemented.
package datadog
