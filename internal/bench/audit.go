package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Verbs are the API verbs reported for every run (zero when unused), in report order.
var Verbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// auditEvent is the part of an audit.k8s.io/v1 Event the benchmark counts.
type auditEvent struct {
	Stage, Verb, UserAgent string
	Resource, Subresource  string
	Received               time.Time
}

// window is a half-open time interval [From, To).
type window struct{ From, To time.Time }

func (w window) contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// auditCounts are the requests found in an audit log for one run.
type auditCounts struct {
	// Setup and Update count the controller's requests (by user-agent prefix) by verb in the
	// two phases; UpdateByResource by "verb resource[/subresource]".
	Setup, Update    map[string]int
	UpdateByResource map[string]int
	// PerSecond counts the controller's update-phase requests by resource (subresources
	// folded in: one client per resource type) and by whole second since the update began.
	PerSecond map[string]map[int64]int
	// ByClient counts every client's requests in the update phase, by clientName.
	ByClient map[string]int
	Lines    int
}

// auditFiles are the audit log and its rotated predecessors: the API server rotates at
// --audit-log-maxsize (100 MB by default) to <name>-<timestamp><ext> next to it.
func auditFiles(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil, fmt.Errorf("listing the audit log's directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ext) {
			files = append(files, filepath.Join(dir, n))
		}
	}
	return append(files, path), nil
}

// countAuditFiles counts the requests of an audit log and its rotated files.
func countAuditFiles(path, uaPrefix string, setup, update window) (auditCounts, error) {
	files, err := auditFiles(path)
	if err != nil {
		return auditCounts{}, err
	}
	var total auditCounts
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return total, fmt.Errorf("opening the audit log: %w", err)
		}
		c, err := countAudit(f, uaPrefix, setup, update)
		_ = f.Close()
		if err != nil {
			return total, err
		}
		total.merge(&c)
	}
	return total, nil
}

func (c *auditCounts) merge(o *auditCounts) {
	if c.Setup == nil {
		*c = *o
		return
	}
	for _, p := range [][2]map[string]int{{c.Setup, o.Setup}, {c.Update, o.Update}, {c.UpdateByResource, o.UpdateByResource}, {c.ByClient, o.ByClient}} {
		for k, v := range p[1] {
			p[0][k] += v
		}
	}
	for res, secs := range o.PerSecond {
		if c.PerSecond[res] == nil {
			c.PerSecond[res] = map[int64]int{}
		}
		for sec, n := range secs {
			c.PerSecond[res][sec] += n
		}
	}
	c.Lines += o.Lines
}

// countAudit reads a JSON audit log and counts requests. A request is counted once: at its
// ResponseComplete stage (or Panic), except WATCH requests, which are counted when they start
// (ResponseStarted), since most are still open when the run ends. The time of a request is
// requestReceivedTimestamp.
func countAudit(r io.Reader, uaPrefix string, setup, update window) (auditCounts, error) {
	c := auditCounts{
		Setup: map[string]int{}, Update: map[string]int{}, UpdateByResource: map[string]int{},
		PerSecond: map[string]map[int64]int{}, ByClient: map[string]int{},
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: read the rest of it.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if len(bytes.TrimSpace(line)) > 0 {
			c.Lines++
			ev, perr := parseAuditLine(line)
			if perr == nil {
				c.add(&ev, uaPrefix, setup, update)
			}
		}
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("reading the audit log: %w", err)
		}
	}
}

func (c *auditCounts) add(ev *auditEvent, uaPrefix string, setup, update window) {
	if ev.Verb == "watch" {
		if ev.Stage != "ResponseStarted" {
			return
		}
	} else if ev.Stage != "ResponseComplete" && ev.Stage != "Panic" {
		return
	}
	inUpdate := update.contains(ev.Received)
	if inUpdate {
		c.ByClient[clientName(ev.UserAgent)]++
	}
	if uaPrefix == "" || !strings.HasPrefix(ev.UserAgent, uaPrefix) {
		return
	}
	switch {
	case inUpdate:
		c.Update[ev.Verb]++
		res := ev.Resource
		if ev.Subresource != "" {
			res += "/" + ev.Subresource
		}
		c.UpdateByResource[ev.Verb+" "+res]++
		if c.PerSecond[ev.Resource] == nil {
			c.PerSecond[ev.Resource] = map[int64]int{}
		}
		c.PerSecond[ev.Resource][int64(ev.Received.Sub(update.From)/time.Second)]++
	case setup.contains(ev.Received):
		c.Setup[ev.Verb]++
	}
}

// clientName shortens a user agent for the per-client table: the program name, plus the
// controller name client-go appends to core components' agents, e.g.
// "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/abc/replicaset-controller" →
// "kube-controller-manager:replicaset-controller".
func clientName(ua string) string {
	if ua == "" {
		return "(none)"
	}
	prog, _, _ := strings.Cut(ua, "/")
	prog, _, _ = strings.Cut(prog, " ")
	f := strings.Fields(ua)
	if last := f[len(f)-1]; strings.HasPrefix(last, "kubernetes/") {
		if parts := strings.SplitN(last, "/", 3); len(parts) == 3 && parts[2] != "" {
			return prog + ":" + parts[2]
		}
	}
	return prog
}

// parseAuditLine extracts the counted fields of one JSON audit event. It scans for the keys
// instead of decoding the whole event (logs of large runs have millions of lines); inside a
// JSON string every quote is escaped, so a `"key":"` match is always a real key.
func parseAuditLine(line []byte) (auditEvent, error) {
	var ev auditEvent
	var ok bool
	if ev.Stage, ok = jsonStringField(line, "stage"); !ok {
		return ev, errors.New("audit line without a stage")
	}
	if ev.Verb, ok = jsonStringField(line, "verb"); !ok {
		return ev, errors.New("audit line without a verb")
	}
	ev.UserAgent, _ = jsonStringField(line, "userAgent")
	if i := bytes.Index(line, []byte(`"objectRef":{`)); i >= 0 {
		obj := line[i:]
		if j := bytes.IndexByte(obj, '}'); j >= 0 {
			obj = obj[:j]
		}
		ev.Resource, _ = jsonStringField(obj, "resource")
		ev.Subresource, _ = jsonStringField(obj, "subresource")
	}
	ts, ok := jsonStringField(line, "requestReceivedTimestamp")
	if !ok {
		return ev, errors.New("audit line without requestReceivedTimestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ev, fmt.Errorf("requestReceivedTimestamp: %w", err)
	}
	ev.Received = t
	return ev, nil
}

// jsonStringField finds the first `"key":"value"` in b and returns the unescaped value.
func jsonStringField(b []byte, key string) (string, bool) {
	pat := make([]byte, 0, len(key)+5)
	pat = append(pat, '"')
	pat = append(pat, key...)
	pat = append(pat, `":"`...)
	i := bytes.Index(b, pat)
	if i < 0 {
		return "", false
	}
	start := i + len(pat)
	escaped := false
	for j := start; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			if !escaped {
				return string(b[start:j]), true
			}
			var s string
			if err := json.Unmarshal(b[start-1:j+1], &s); err != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

// waitForAuditMarker waits until the audit log holds a line containing marker (a request the
// harness made after the measured window), so every earlier request has been written.
func waitForAuditMarker(ctx context.Context, path, marker string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if found, err := tailContains(path, marker, 8<<20); err != nil {
			return err
		} else if found {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the audit log %s did not show the end-of-run marker within %s", path, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tailContains(path, s string, n int64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("opening the audit log: %w", err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return bytes.Contains(b, []byte(s)), nil
}
