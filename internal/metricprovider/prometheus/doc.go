// Package prometheus is the "prometheus" metric provider: an instant query (or a range query
// with rangeQuery's start/end expressions and step) against the metric's address (or
// $ARGO_ROLLOUTS_PROMETHEUS_ADDRESS), with headers, basic or OAuth2 client-credentials
// authentication, insecure TLS and a timeout (seconds, default 30).
//
// Values reach conditions as in Argo Rollouts: a scalar is a float64, a vector a []float64 (one
// element per series), a range query's matrix one flat []float64 of every sample of every
// series; NaN and ±Inf stay NaN and ±Inf. An empty vector or matrix is an empty slice marked
// Empty, with a message quoting the query. SigV4 (Amazon Managed Prometheus) is refused with a
// clear error. The provider is synchronous and stateless; it never evaluates conditions.
package prometheus
