package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// process is one running component with its log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // valid once done is closed
}

// spawner starts children from one goroutine locked to its OS thread for the life of the
// program: Linux delivers Pdeathsig when the *thread* that forked a child exits, and a locked
// thread that never unlocks is never reused or torn down by the Go runtime.
var spawnReq = make(chan spawnCall)

type spawnCall struct {
	cmd   *exec.Cmd
	reply chan error
}

func init() {
	go func() {
		runtime.LockOSThread()
		for c := range spawnReq {
			c.reply <- c.cmd.Start()
		}
	}()
}

func startProcess(dir, name, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...) //nolint:noctx // lives until Stop, not for one request
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL, // never outlive the process that started us
		Setpgid:   true,            // a Ctrl-C in the terminal reaches us, and we stop them in order
	}
	reply := make(chan error)
	spawnReq <- spawnCall{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop within %s and was killed", p.name, grace)
}

// failure describes an unexpected exit, with the end of the component's log.
func (p *process) failure() error {
	b, _ := os.ReadFile(p.logPath)
	return fmt.Errorf("%s exited: %w; last log lines (%s):\n%s", p.name, p.err, p.logPath, tail(b, 3000))
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
