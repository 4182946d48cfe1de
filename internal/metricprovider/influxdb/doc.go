// Package influxdb measures metrics with InfluxDB Flux queries through the official client,
// github.com/influxdata/influxdb-client-go/v2, as Argo Rollouts' influxdb provider does: POST
// <address>/api/v2/query?org=<org> with "Authorization: Token <authToken>" and the Flux query,
// answered in annotated CSV.
//
// The profile Secret (metric.profile, default "influxdb", in the controller's namespace) holds
// address, authToken and org. `result` is the list of the _value of every record of every
// table ([]any, so result[0] <= 0.01 reads the first); no record is an empty result.
package influxdb
