// Package graphite measures metrics with Graphite's render API, as Argo Rollouts' graphite
// provider does: GET <address>/render?<query>&format=json, where the query is the metric's
// query text ("target=…", optionally with "&from=-5min" and other render parameters; a query
// without "target=" is taken as the target itself). Whitespace in the query is collapsed so
// multi-line YAML works.
//
// `result` is a list of the non-null datapoint values of the first series the render API
// returns ([]float64), so conditions read result[0] or use all()/any(). No series or no
// non-null datapoint is an empty result. Graphite has no official Go client; this speaks the
// documented HTTP API with net/http. No authentication is sent (as in Argo).
package graphite
