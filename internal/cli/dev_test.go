package cli_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sluicehq/sluice/internal/cli"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// The test binary doubles as the sluice binary when SLUICE_TEST_RUN_CLI=1, so process-level
// tests run the real command line without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_RUN_CLI") == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func sluiceCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SLUICE_TEST_RUN_CLI=1")
	return cmd
}

// children lists the PIDs whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// startDev runs `sluice dev` until it prints the KUBECONFIG line and checks the cluster answers.
func startDev(t *testing.T, extra ...string) (*exec.Cmd, []int, *syncBuffer) {
	t.Helper()
	runDir := t.TempDir()
	cmd := sluiceCommand(t, append([]string{"dev", "--run-dir", runDir, "--nodes", "1"}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	start := time.Now()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var kubeconfig string
	select {
	case l, ok := <-lines:
		if !ok || !strings.HasPrefix(l, "export KUBECONFIG=") {
			t.Fatalf("sluice dev printed %q, want an export KUBECONFIG line", l)
		}
		kubeconfig = strings.TrimPrefix(l, "export KUBECONFIG=")
	case <-time.After(15 * time.Minute): // includes a first-time binary build
		t.Fatal("sluice dev did not become ready")
	}
	t.Logf("sluice dev ready after %s", time.Since(start).Round(10*time.Millisecond))
	go func() {
		for range lines { // drain so the child never blocks on a full pipe
		}
	}()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("listing nodes through the printed kubeconfig: %v (%d nodes)", err, len(nodes.Items))
	}
	kids := children(t, cmd.Process.Pid)
	if len(kids) != 5 {
		t.Fatalf("sluice dev has %d child processes, want 5 (etcd, apiserver, controller-manager, scheduler, kwok)", len(kids))
	}
	return cmd, kids, stderr
}

// syncBuffer collects a child's stderr for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDevStopsEverythingOnSignal(t *testing.T) {
	if devclustertest.Skipped() {
		t.Skip("SLUICE_SKIP_CLUSTER=1")
	}
	for _, tc := range []struct {
		name     string
		sig      syscall.Signal
		wantCode int
		args     []string
	}{
		{"SIGINT", syscall.SIGINT, 0, nil},
		{"SIGTERM with controller", syscall.SIGTERM, 0, []string{"--with-controller"}},
		// No chance to clean up: the children's parent-death signal must still end them.
		{"SIGKILL", syscall.SIGKILL, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, kids, stderr := startDev(t, tc.args...)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case werr := <-done:
				t.Logf("sluice dev exited: %v", werr)
			case <-time.After(90 * time.Second):
				t.Fatal("sluice dev did not exit")
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			deadline := time.Now().Add(10 * time.Second)
			for _, pid := range kids {
				for alive(pid) && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				if alive(pid) {
					b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
					t.Errorf("process %d (%s) outlived sluice dev", pid, strings.ReplaceAll(string(b), "\x00", " "))
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := sluiceCommand(t, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "sluice ") {
		t.Fatalf("version printed %q", out)
	}
}

func TestUnknownCRDSetIsAClearError(t *testing.T) {
	out, err := sluiceCommand(t, "dev", "--crds", "linkerd").CombinedOutput()
	if err == nil {
		t.Fatal("want a non-zero exit")
	}
	if want := `Error: unknown CRD set "linkerd" (known: sluice, istio, gateway-api, smi)`; strings.TrimSpace(string(out)) != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}
