package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// scrape is one reading of a /metrics endpoint.
type scrape []sample

// fetchMetrics GETs a Prometheus text endpoint.
func fetchMetrics(ctx context.Context, url string) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the text exposition format (comments and blank lines skipped). Histogram
// and summary series appear as their _bucket, _sum and _count lines.
func parseMetrics(r io.Reader) (scrape, error) {
	var out scrape
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest, err := parseSeries(line)
		if err != nil {
			return nil, err
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metric line without a value: %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out = append(out, sample{Name: name, Labels: labels, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	return out, nil
}

// parseSeries splits `name{k="v",...} rest` into the name, the labels and what follows.
func parseSeries(s string) (name string, labels map[string]string, rest string, err error) {
	i := strings.IndexAny(s, "{ \t")
	if i < 0 {
		return s, nil, "", nil
	}
	name, s = s[:i], s[i:]
	if s[0] != '{' {
		return name, nil, s, nil
	}
	labels = map[string]string{}
	s = s[1:]
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return "", nil, "", fmt.Errorf("unterminated label set in %q", name)
		}
		if s[0] == '}' {
			return name, labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return "", nil, "", fmt.Errorf("malformed labels of %q", name)
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		j := 0
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[j])
				}
				continue
			}
			val.WriteByte(s[j])
		}
		if j >= len(s) {
			return "", nil, "", fmt.Errorf("unterminated label value in %q", name)
		}
		labels[key] = val.String()
		s = s[j+1:]
	}
}

// parseSelector reads a series selector like `controller_runtime_reconcile_total{controller="rollout"}`.
func parseSelector(s string) (name string, match map[string]string, err error) {
	name, match, rest, err := parseSeries(strings.TrimSpace(s))
	if err != nil {
		return "", nil, err
	}
	if strings.TrimSpace(rest) != "" || name == "" {
		return "", nil, fmt.Errorf("malformed metric selector %q", s)
	}
	return name, match, nil
}

// sum adds the values of every series with this name whose labels include match. ok is false
// when no series matched.
func (sc scrape) sum(name string, match map[string]string) (total float64, ok bool) {
	for _, s := range sc {
		if s.Name != name || !hasLabels(s.Labels, match) {
			continue
		}
		total += s.Value
		ok = true
	}
	return total, ok
}

// by sums the matching series grouped by one label's value.
func (sc scrape) by(name string, match map[string]string, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range sc {
		if s.Name != name || !hasLabels(s.Labels, match) {
			continue
		}
		out[s.Labels[label]] += s.Value
	}
	return out
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// delta is after-before of one selector; ok when the series exists in the later scrape.
func delta(before, after scrape, name string, match map[string]string) (float64, bool) {
	a, ok := after.sum(name, match)
	if !ok {
		return 0, false
	}
	b, _ := before.sum(name, match)
	return a - b, true
}
