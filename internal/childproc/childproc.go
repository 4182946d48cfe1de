package childproc

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Process is a running child process with its log file.
type Process struct {
	// Name is how messages call it; LogPath is where its stdout and stderr go.
	Name, LogPath string
	cmd           *exec.Cmd
	done          chan struct{}
	err           error // valid once done is closed
}

// spawnReq starts children from one goroutine locked to its OS thread for the life of the
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

// Start runs cmd with its output appended to logPath. The child gets SIGKILL when this
// process dies (a crash, a panicking test, kill -9), and its own process group, so a Ctrl-C in
// the terminal reaches only us and we stop children in our own order.
func Start(name, logPath string, cmd *exec.Cmd) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	reply := make(chan error)
	spawnReq <- spawnCall{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the child has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the child ended (nil while it runs, or when it exited with status 0).
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs. The error says when it had to kill.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
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
	return fmt.Errorf("%s did not stop within %s and was killed (log: %s)", p.Name, grace, p.LogPath)
}

// Tail is the end of the child's log, at most n bytes.
func (p *Process) Tail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
