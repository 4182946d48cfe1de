package prometheus

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/internal/metricprovider"
)

// result is what conditions see of a query's answer, as Argo Rollouts gives it to them.
func result(v model.Value, query string) metricprovider.Result {
	switch v := v.(type) {
	case *model.Scalar:
		if v == nil {
			break
		}
		return metricprovider.Result{Value: float64(v.Value), Display: v.Value.String()}
	case model.Vector:
		values := make([]float64, 0, len(v))
		for _, s := range v {
			if s != nil {
				values = append(values, float64(s.Value))
			}
		}
		return list(values, query, "an empty vector")
	case model.Matrix:
		// One flat list of every sample of every series, in order: a condition such as
		// all(result, # < 1000) checks each point.
		var values []float64
		for _, s := range v {
			if s == nil {
				continue
			}
			for _, p := range s.Values {
				values = append(values, float64(p.Value))
			}
		}
		if values == nil {
			values = []float64{}
		}
		return list(values, query, "an empty matrix")
	}
	return metricprovider.Errorf(fmt.Errorf("prometheus answered a %s for %s; want a scalar, a vector or a matrix", typeName(v), query))
}

func typeName(v model.Value) string {
	if v == nil {
		return "nothing"
	}
	return v.Type().String()
}

func list(values []float64, query, what string) metricprovider.Result {
	var b strings.Builder
	b.WriteByte('[')
	for i, f := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(model.SampleValue(f).String())
	}
	b.WriteByte(']')
	r := metricprovider.Result{Value: values, Display: b.String()}
	if len(values) == 0 {
		r.Empty = true
		r.Message = fmt.Sprintf("the query returned no samples (%s): %s", what, strings.TrimSpace(query))
	}
	return r
}
