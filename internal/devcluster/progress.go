package devcluster

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// progressInterval is how often a long build step reports progress (a variable for tests).
var progressInterval = 10 * time.Second

// buildProgress follows a running `go list` / `go build -v`: it is their stderr, counts the
// packages compiled (-v prints each one's import path as it is built; cached packages are not
// printed) and the modules downloaded ("go: downloading ..."), keeps the output's tail for error
// messages, and report prints one line with the elapsed time and those counts.
type buildProgress struct {
	w      io.Writer
	indent string
	start  time.Time
	now    func() time.Time

	mu        sync.Mutex
	total     int    // packages the build needs (go list -deps), 0 while unknown
	main      string // the main package: once it is compiled, the build links
	linking   bool
	compiled  int
	downloads int
	partial   []byte // an unfinished line
	tail      []byte // the last tailSize bytes of output
}

const tailSize = 16 << 10

func newBuildProgress(w io.Writer, indent string, now func() time.Time) *buildProgress {
	return &buildProgress{w: w, indent: indent, start: now(), now: now}
}

// Write takes the commands' stderr.
func (p *buildProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tail = append(p.tail, b...)
	if len(p.tail) > 2*tailSize {
		p.tail = append(p.tail[:0], p.tail[len(p.tail)-tailSize:]...)
	}
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.line(string(p.partial[:i]))
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

func (p *buildProgress) line(l string) {
	switch {
	case strings.HasPrefix(l, "go: downloading "):
		p.downloads++
	case l != "" && !strings.ContainsAny(l, " \t:#"):
		p.compiled++ // an import path from -v
		p.linking = p.linking || l == p.main
	}
}

// setPackages takes the output of go list -deps (import paths, the main package last).
func (p *buildProgress) setPackages(list []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = len(list)
	if slices.Contains(list, "unsafe") {
		p.total-- // never compiled, so never printed by -v
	}
	if len(list) > 0 {
		p.main = list[len(list)-1]
	}
}

// status is the progress so far, e.g. "1m20s   412/2187 packages compiled, 3 modules downloaded".
func (p *buildProgress) status() string {
	return fmt.Sprintf("%-7s %s", p.elapsed(), p.counts())
}

func (p *buildProgress) counts() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	switch {
	case p.compiled > 0 && p.total > 0:
		parts = append(parts, fmt.Sprintf("%d/%d packages compiled", p.compiled, p.total))
	case p.compiled > 0:
		parts = append(parts, fmt.Sprintf("%d packages compiled", p.compiled))
	case p.total > 0:
		parts = append(parts, fmt.Sprintf("0/%d packages compiled", p.total))
	}
	if p.downloads > 0 {
		parts = append(parts, fmt.Sprintf("%d modules downloaded", p.downloads))
	}
	if p.linking {
		parts = append(parts, "linking")
	}
	if len(parts) == 0 {
		parts = append(parts, "loading packages")
	}
	return strings.Join(parts, ", ")
}

// finish ends the build's progress: the final counts no longer say "linking".
func (p *buildProgress) finish() {
	p.mu.Lock()
	p.linking = false
	p.mu.Unlock()
}

func (p *buildProgress) elapsed() string {
	return p.now().Sub(p.start).Round(time.Second).String()
}

// report prints the status at every tick until stop is closed.
func (p *buildProgress) report(ticks <-chan time.Time, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ticks:
			_, _ = fmt.Fprintf(p.w, "%s%s\n", p.indent, p.status())
		}
	}
}

func (p *buildProgress) output() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.tail)
}
