package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/internal/childproc"
)

// process is one running component.
type process struct {
	*childproc.Process
	name string
}

func startProcess(dir, name, bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...) //nolint:noctx // lives until Stop, not for one request
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	p, err := childproc.Start(name, filepath.Join(dir, name+".log"), cmd)
	if err != nil {
		return nil, err
	}
	return &process{Process: p, name: name}, nil
}

func (p *process) exited() bool                   { return p.Exited() }
func (p *process) stop(grace time.Duration) error { return p.Stop(grace) }

// failure describes an unexpected exit, with the end of the component's log.
func (p *process) failure() error {
	return fmt.Errorf("%s exited: %w; last log lines (%s):\n%s", p.name, p.Err(), p.LogPath, p.Tail(3000))
}

// waitFor polls check until it returns true, ctx ends, or one of procs exits.
func waitFor(ctx context.Context, what string, procs []*process, check func(context.Context) bool) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range procs {
			if p.exited() {
				return p.failure()
			}
		}
		if check(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, errors.Join(ctx.Err(), context.Cause(ctx)))
		case <-tick.C:
		}
	}
}
