// Package wavefront measures metrics with Wavefront (VMware Aria Operations for Applications)
// chart queries, as Argo Rollouts' wavefront provider does: GET
// https://<address>/api/v2/chart/api?q=<query>&s=<now, ms>&g=s&p=1 with
// "Authorization: Bearer <token>".
//
// The token is the value of the key named after the metric's address in the Secret
// wavefront-api-tokens, in the controller's namespace (keys are host names such as
// example.wavefront.com). An address with a scheme (http://host:port) is used as the base URL
// as is.
//
// `result` is the first point of the only series (float64), or a list with the first point of
// each series ([]float64) when the query returns several. No series is an empty result.
// This speaks the documented REST API with net/http: the Go client Argo uses
// (github.com/spaceapegames/go-wavefront) is a third party's, not the vendor's.
package wavefront
