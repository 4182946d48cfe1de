// Package newrelic measures metrics with NRQL queries through New Relic's NerdGraph (GraphQL)
// API, as Argo Rollouts' newRelic provider does: POST <nerdgraph>/graphql with the header
// API-Key and the query actor.account(id).nrql(query, timeout).results.
//
// The profile Secret (metric.profile, default "newrelic", in the controller's namespace) holds
// personal-api-key, account-id, region ("us" by default, or "eu"; they pick
// https://api.newrelic.com/graphql or https://api.eu.newrelic.com/graphql) and, for proxies,
// base-url-nerdgraph (the full NerdGraph URL). base-url-rest is accepted and unused: NRQL goes
// through NerdGraph only.
//
// `result` is the only result row as a map (result.successRate, or result['average.duration']
// for unaliased functions), or the list of rows when there are several. No row, or one empty
// row, is an empty result. This speaks NerdGraph with net/http instead of
// github.com/newrelic/newrelic-client-go, which wraps every New Relic API for one query here.
package newrelic
