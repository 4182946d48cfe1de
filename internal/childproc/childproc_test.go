package childproc_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/childproc"
)

func TestStartLogStopAndExit(t *testing.T) {
	dir := t.TempDir()
	// A child that logs, ignores nothing, and would run for a minute.
	p, err := childproc.Start("sleeper", filepath.Join(dir, "sleeper.log"),
		exec.CommandContext(t.Context(), "sh", "-c", "echo started; exec sleep 60"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Tail(100), "started") {
		if time.Now().After(deadline) {
			t.Fatalf("log: %q", p.Tail(100))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.Exited() || p.Err() != nil {
		t.Fatal("exited early")
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !p.Exited() {
		t.Fatal("still running after Stop")
	}

	// A child that ignores SIGTERM is killed after the grace period, and Stop says so.
	stubborn, err := childproc.Start("stubborn", filepath.Join(dir, "stubborn.log"),
		exec.CommandContext(t.Context(), "sh", "-c", "trap '' TERM; echo ready; while true; do sleep 1; done"))
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(stubborn.Tail(100), "ready") {
		time.Sleep(20 * time.Millisecond)
	}
	if err := stubborn.Stop(300 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("Stop of a child ignoring SIGTERM = %v, want a 'was killed' error", err)
	}

	// An exit status is reported.
	failing, err := childproc.Start("failing", filepath.Join(dir, "failing.log"), exec.CommandContext(t.Context(), "sh", "-c", "exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	for !failing.Exited() {
		time.Sleep(10 * time.Millisecond)
	}
	if err := failing.Err(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Err = %v", err)
	}
}
