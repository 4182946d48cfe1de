// Package web is the "web" metric provider: one HTTP request per measurement (GET, POST or
// PUT, headers, body or jsonBody, basic or OAuth2 client-credentials authentication, insecure
// TLS, timeoutSeconds default 10) and the JSON value its jsonPath selects (default {$},
// k8s.io/client-go/util/jsonpath as in Argo Rollouts) as the measured value.
//
// Values reach conditions as encoding/json decodes them: numbers are float64, and a string
// stays a string even when it looks like a number (Argo Rollouts does the same; templates
// convert with asFloat/asInt). A body that is not JSON is, as in Argo Rollouts, a Successful
// measurement whose value is the body. The provider is synchronous and stateless: it
// measures, and never judges a value against the conditions.
package web
