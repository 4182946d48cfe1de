// Package skywalking measures metrics with Apache SkyWalking's GraphQL query protocol, as Argo
// Rollouts' skywalking provider does: POST <address>/graphql with the metric's query and the
// variable $duration = {start, end, step: MINUTE} covering the last `interval` (default 5m),
// start and end formatted "2006-01-02 1504" in UTC.
//
// `result` is the GraphQL answer's `data` object as decoded JSON (map[string]any), so a
// condition follows the query's aliases, e.g.
// all(result.service_apdex.values.values, {asFloat(.value) >= 9900}). GraphQL errors make the
// measurement an Error; a null or empty `data` is an empty result. No authentication is sent
// (as in Argo). This speaks GraphQL over net/http; SkyWalking has no official Go query client.
package skywalking
