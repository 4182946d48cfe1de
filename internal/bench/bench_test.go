package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// childEnv makes the test binary the controller child process: the harness re-executes it.
const childEnv = "SLUICE_BENCH_TEST_CONTROLLER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := bench.ControllerMain(ctx, os.Args[1:], os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "controller:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctrl.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestHarness runs the whole benchmark at N=3 on its own local cluster, so it cannot rot,
// and checks that every measurement is there and sane.
func TestHarness(t *testing.T) {
	if devclustertest.Skipped() {
		t.Skip("SLUICE_SKIP_CLUSTER=1: the benchmark needs the local cluster")
	}
	dir := t.TempDir()
	res, err := bench.Run(t.Context(), bench.Options{
		Rollouts:   3,
		Timeout:    5 * time.Minute,
		RunDir:     dir,
		Child:      bench.ChildCommand{Path: os.Args[0], Env: []string{childEnv + "=1"}},
		CPUProfile: filepath.Join(dir, "cpu.pprof"),
		MemProfile: filepath.Join(dir, "mem.pprof"),
		Progress:   logWriter{t},
	})
	if res == nil {
		t.Fatalf("no result: %v", err)
	}
	var table bytes.Buffer
	if werr := res.WriteTable(&table); werr != nil {
		t.Fatal(werr)
	}
	t.Logf("\n%s", table.String())
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}

	u := res.Update
	if res.Setup.Completed != 3 || u.Completed != 3 || u.Total != 3 || u.TimedOut {
		t.Errorf("setup %d, update %d/%d (timed out %v), want all 3 completed", res.Setup.Completed, u.Completed, u.Total, u.TimedOut)
	}
	// Two timed pauses of 5s, each timed from a startTime rounded down to the second: no
	// Rollout can finish in less than 8s.
	if u.WallSeconds < 8 || u.PerRollout.Count != 3 || u.PerRollout.Min < 8 || u.PerRollout.P99 > u.WallSeconds {
		t.Errorf("wall %.2fs, per rollout %+v: want ≥ 8s each, within the wall time", u.WallSeconds, u.PerRollout)
	}
	// Every pause step is seen paused and left (2 per Rollout) and never before its expiry.
	if u.StepReaction.Count != 6 || u.StepReaction.Min < 0 || u.StepReaction.P50 > u.StepReaction.P99 {
		t.Errorf("step reaction %+v: want 6 samples ≥ 0", u.StepReaction)
	}

	c := res.Controller
	if c.PID <= 0 || c.CPUSeconds <= 0 || c.RSSPeakBytes == 0 || c.RSSSampledMaxBytes == 0 {
		t.Errorf("controller pid %d, cpu %.2fs, rss peak %d, sampled %d: want all > 0", c.PID, c.CPUSeconds, c.RSSPeakBytes, c.RSSSampledMaxBytes)
	}
	if c.Requests == nil || c.Requests.Total == 0 || c.Requests.ByVerb["patch"] == 0 || c.Requests.ByVerb["create"] == 0 {
		t.Errorf("controller requests %+v: want patches and creates counted from the audit log", c.Requests)
	} else if c.Requests.TotalPerRollout <= 0 || len(c.Requests.PerRollout) < len(bench.Verbs) {
		t.Errorf("requests per rollout %+v", c.Requests)
	}
	if c.Reconciles == nil || c.Reconciles.Total <= 0 || c.Reconciles.PerRollout <= 0 {
		t.Errorf("reconciles %+v: want > 0 from the metrics endpoint", c.Reconciles)
	}
	if c.Client == nil || c.Client.RateLimitedRequests <= 0 {
		t.Errorf("client stats %+v: want the rate limiter metric", c.Client)
	}
	cl := res.Cluster
	for _, comp := range []string{"kube-apiserver", "etcd", "harness"} {
		if cl.CPUSeconds[comp] <= 0 {
			t.Errorf("cluster CPU of %s: %.2fs, want > 0 (%v)", comp, cl.CPUSeconds[comp], cl.CPUSeconds)
		}
	}
	if cl.RequestsByClient["sluice-controller"] == 0 {
		t.Errorf("requests by client %v: want the controller among them", cl.RequestsByClient)
	}
	// 3 Rollouts × (1 surge/canary pod + 3 replaced) new pods, each seen scheduled and Ready.
	if cl.PodCreatedToScheduled.Count < 3 || cl.PodScheduledToReady.Count < 3 || cl.ReplicaSetScaleUpToAvailable.Count < 3 {
		t.Errorf("downstream: scheduled %+v, ready %+v, rs available %+v", cl.PodCreatedToScheduled, cl.PodScheduledToReady, cl.ReplicaSetScaleUpToAvailable)
	}
	for _, d := range []bench.Dist{cl.PodCreatedToScheduled, cl.PodScheduledToReady, cl.ReplicaSetScaleUpToCreated, cl.ReplicaSetScaleUpToAvailable, u.PerRollout} {
		if d.Min < 0 {
			t.Errorf("negative latency: %+v", d)
		}
	}
	if len(res.Limits) == 0 {
		t.Error("no limits line")
	}

	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back bench.Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	var generic map[string]any
	if err := json.Unmarshal(buf.Bytes(), &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "config", "update", "controller", "cluster", "limits"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if back.Schema != bench.Schema || back.Update.Completed != 3 || back.Controller.Requests == nil {
		t.Errorf("JSON round trip lost data: %+v", back.Update)
	}
	for _, p := range []string{res.Files.CPUProfile, res.Files.MemProfile} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: %v", p, err)
		}
	}
}
