package web

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"k8s.io/client-go/util/jsonpath"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// maxDisplay bounds the stored value of a response that is not JSON.
const maxDisplay = 1024

// parse reads the value at path in a response body. desc names the request in messages.
func parse(body []byte, path, desc string) metricprovider.Result {
	var data any
	if err := json.Unmarshal(body, &data); err != nil {
		// Argo Rollouts records a body that is not JSON as a Successful measurement without
		// evaluating the conditions; templates migrated from it rely on that.
		s := string(body)
		if len(s) > maxDisplay {
			s = s[:maxDisplay] + "…"
		}
		return metricprovider.Result{
			Value: string(body), Display: s, Phase: v1alpha1.AnalysisPhaseSuccessful,
			Message: fmt.Sprintf("%s: the response is not JSON, so the measurement is Successful without evaluating the conditions (as in Argo Rollouts)", desc),
		}
	}
	// A JSONPath keeps state while it walks: one per measurement.
	jp := jsonpath.New("web")
	if err := jp.Parse(path); err != nil {
		return metricprovider.Errorf(fmt.Errorf("web metric jsonPath %q: %w", path, err))
	}
	found, err := jp.FindResults(data)
	if err != nil {
		if selectedNothing(err) {
			return empty(desc, path, err.Error())
		}
		return metricprovider.Errorf(fmt.Errorf("%s: jsonPath %s: %w", desc, path, err))
	}
	first, ok := firstValue(found)
	if !ok {
		return empty(desc, path, "no match")
	}
	display, err := json.Marshal(first)
	if err != nil {
		return metricprovider.Errorf(fmt.Errorf("%s: jsonPath %s: %w", desc, path, err))
	}
	return metricprovider.Result{Value: first, Display: string(display)}
}

// firstValue is the first value a jsonPath found (as Argo Rollouts takes it); a JSON null is
// nil.
func firstValue(found [][]reflect.Value) (any, bool) {
	for _, rs := range found {
		if len(rs) == 0 {
			continue
		}
		r := rs[0]
		if !r.IsValid() || (r.Kind() == reflect.Interface && r.IsNil()) {
			return nil, true
		}
		return r.Interface(), true
	}
	return nil, false
}

// selectedNothing tells the jsonpath errors that mean "nothing there" (a missing key, an index
// past the end) from those that mean a wrong path.
func selectedNothing(err error) bool {
	s := err.Error()
	return strings.HasSuffix(s, " is not found") || strings.HasPrefix(s, "array index out of bounds")
}

// empty is the result of a jsonPath that selected nothing. Like Argo Rollouts it is an error
// (conditions never see a value that is not there), and it is marked Empty so that it reads
// as the missing data it is.
func empty(desc, path, detail string) metricprovider.Result {
	err := fmt.Errorf("jsonPath %s selected nothing in the response of %s (%s)", path, desc, detail)
	r := metricprovider.Errorf(err)
	r.Empty = true
	return r
}
