package datadog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/metricprovider"
)

// maxGroups caps the groups listed in a measurement's metadata (the result itself is not cut).
const maxGroups = 100

type apiClient struct {
	http     *http.Client
	creds    Credentials
	from, to time.Time
}

// v1Response is the body of GET /api/v1/query.
type v1Response struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Series []struct {
		Pointlist [][]*float64 `json:"pointlist"`
	} `json:"series"`
}

// v1 runs one query through GET /api/v1/query; result is the last point of the first series.
func (c *apiClient) v1(ctx context.Context, m *v1alpha1.DatadogMetric) metricprovider.Result {
	if len(m.Queries) > 0 || m.Formula != "" {
		return metricprovider.Errorf(errors.New("datadog queries and formula need apiVersion v2"))
	}
	if strings.TrimSpace(m.Query) == "" {
		return metricprovider.Errorf(errors.New("datadog metric has no query"))
	}
	q := url.Values{}
	q.Set("from", strconv.FormatInt(c.from.Unix(), 10))
	q.Set("to", strconv.FormatInt(c.to.Unix(), 10))
	q.Set("query", m.Query)
	var body v1Response
	if err := c.do(ctx, http.MethodGet, "/api/v1/query?"+q.Encode(), nil, &body); err != nil {
		return metricprovider.Errorf(err)
	}
	if body.Status == "error" || body.Error != "" {
		return metricprovider.Errorf(fmt.Errorf("datadog: %s", cmp.Or(body.Error, "query failed")))
	}
	meta := map[string]string{"query": m.Query}
	if len(body.Series) > 0 {
		points := body.Series[0].Pointlist
		for _, point := range slices.Backward(points) {
			if len(point) == 2 && point[1] != nil {
				v := *point[1]
				return metricprovider.Result{Value: v, Display: formatFloat(v), Metadata: meta}
			}
		}
	}
	return empty(m.Query, meta)
}

type v2Query struct {
	DataSource string `json:"data_source"`
	Name       string `json:"name"`
	Query      string `json:"query"`
	Aggregator string `json:"aggregator"`
}

type v2Request struct {
	Data struct {
		Type       string `json:"type"`
		Attributes struct {
			From     int64               `json:"from"`
			To       int64               `json:"to"`
			Queries  []v2Query           `json:"queries"`
			Formulas []map[string]string `json:"formulas"`
		} `json:"attributes"`
	} `json:"data"`
}

type v2Column struct {
	Name   string            `json:"name"`
	Type   string            `json:"type"`
	Values []json.RawMessage `json:"values"`
}

type v2Response struct {
	Data struct {
		Attributes struct {
			Columns []v2Column `json:"columns"`
		} `json:"attributes"`
	} `json:"data"`
	Errors string `json:"errors"`
}

// v2 runs named queries and a formula through POST /api/v2/query/scalar. The result is the
// formula's value, or one value per group for a query grouped "by {tag}".
func (c *apiClient) v2(ctx context.Context, m *v1alpha1.DatadogMetric) metricprovider.Result {
	queries := m.Queries
	if len(queries) == 0 {
		if strings.TrimSpace(m.Query) == "" {
			return metricprovider.Errorf(errors.New("datadog metric has neither query nor queries"))
		}
		queries = map[string]string{"query": m.Query}
	} else if m.Query != "" {
		return metricprovider.Errorf(errors.New("datadog metric sets both query and queries"))
	}
	names := slices.Sorted(maps.Keys(queries))
	formula := m.Formula
	if formula == "" {
		if len(names) > 1 {
			return metricprovider.Errorf(fmt.Errorf("datadog metric has %d queries and no formula to combine them", len(names)))
		}
		formula = names[0]
	}
	var req v2Request
	req.Data.Type = "scalar_request"
	a := &req.Data.Attributes
	a.From, a.To = c.from.UnixMilli(), c.to.UnixMilli()
	for _, n := range names {
		a.Queries = append(a.Queries, v2Query{
			DataSource: "metrics", Name: n, Query: queries[n], Aggregator: cmp.Or(m.Aggregator, "last"),
		})
	}
	a.Formulas = []map[string]string{{"formula": formula}}
	var body v2Response
	if err := c.do(ctx, http.MethodPost, "/api/v2/query/scalar", req, &body); err != nil {
		return metricprovider.Errorf(err)
	}
	if body.Errors != "" {
		return metricprovider.Errorf(fmt.Errorf("datadog: %s", body.Errors))
	}
	described := describeV2(names, queries, m.Formula)
	meta := map[string]string{"query": described}
	return v2Result(body.Data.Attributes.Columns, described, meta)
}

func v2Result(cols []v2Column, described string, meta map[string]string) metricprovider.Result {
	var number *v2Column
	var groups []v2Column
	for i := range cols {
		switch cols[i].Type {
		case "number":
			if number == nil {
				number = &cols[i]
			}
		case "group":
			groups = append(groups, cols[i])
		}
	}
	if number == nil {
		return empty(described, meta)
	}
	values := make([]*float64, len(number.Values))
	for i, raw := range number.Values {
		if err := json.Unmarshal(raw, &values[i]); err != nil {
			return metricprovider.Errorf(fmt.Errorf("datadog: value %s of column %q is not a number", raw, number.Name))
		}
	}
	if len(groups) == 0 {
		if len(values) == 0 || values[0] == nil {
			return empty(described, meta)
		}
		return metricprovider.Result{Value: *values[0], Display: formatFloat(*values[0]), Metadata: meta}
	}
	type group struct {
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	}
	result := []float64{}
	var named []group
	for i, v := range values {
		if v == nil {
			continue
		}
		result = append(result, *v)
		named = append(named, group{Name: groupName(groups, i), Value: *v})
	}
	if len(result) == 0 {
		r := empty(described, meta)
		r.Value = result
		return r
	}
	slices.SortStableFunc(named, func(a, b group) int { return cmp.Compare(b.Value, a.Value) })
	if len(named) > maxGroups {
		named = named[:maxGroups]
		meta["groups_truncated"] = "true"
	}
	if b, err := json.Marshal(named); err == nil {
		meta["groups"] = string(b)
	}
	return metricprovider.Result{Value: result, Display: formatFloats(result), Metadata: meta}
}

// groupName joins the tag values of row i over every group column.
func groupName(groups []v2Column, i int) string {
	var parts []string
	for _, g := range groups {
		if i >= len(g.Values) {
			continue
		}
		var tags []string
		if err := json.Unmarshal(g.Values[i], &tags); err != nil {
			var one string
			if json.Unmarshal(g.Values[i], &one) == nil {
				tags = []string{one}
			}
		}
		parts = append(parts, strings.Join(tags, ","))
	}
	return strings.Join(parts, ",")
}

func describeV2(names []string, queries map[string]string, formula string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %s; ", n, strings.TrimSpace(queries[n]))
	}
	if formula != "" {
		fmt.Fprintf(&b, "formula: %s", formula)
	}
	return strings.TrimSuffix(b.String(), "; ")
}

func empty(query string, meta map[string]string) metricprovider.Result {
	return metricprovider.Result{
		Empty:    true,
		Message:  "the query returned no data: " + strings.TrimSpace(query),
		Metadata: meta,
	}
}

// do sends one authenticated request and decodes the JSON answer into out.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	addr := strings.TrimSuffix(cmp.Or(c.creds.Address, DefaultAddress), "/")
	req, err := http.NewRequestWithContext(ctx, method, addr+path, body)
	if err != nil {
		return fmt.Errorf("datadog: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("DD-API-KEY", c.creds.APIKey)
	req.Header.Set("DD-APPLICATION-KEY", c.creds.AppKey)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("datadog: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("datadog: reading the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Errors []string `json:"errors"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
			msg = strings.Join(e.Errors, "; ")
		}
		return fmt.Errorf("datadog: %s %s answered %s: %s", method, path[:strings.IndexByte(path+"?", '?')], resp.Status, msg)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("datadog: decoding the answer: %w", err)
	}
	return nil
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func formatFloats(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = formatFloat(v)
	}
	return "[" + strings.Join(s, ",") + "]"
}
