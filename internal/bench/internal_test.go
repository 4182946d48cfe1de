package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func TestParseProc(t *testing.T) {
	stat := []byte("4242 (sluice (bench) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 12 0 100 1000 200\n")
	got, err := parseStatCPU(stat)
	if err != nil || got != 200 {
		t.Errorf("parseStatCPU = %d, %v; want 200", got, err)
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Error("parseStatCPU accepted garbage")
	}
	rss, hwm := parseStatusMem([]byte("Name:\tsluice\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
	if rss != 1024*1024 || hwm != 2048*1024 {
		t.Errorf("parseStatusMem = %d, %d", rss, hwm)
	}
	m, err := parseMachineCPU([]byte("cpu  10 1 5 100 4 1 1 0 0 0\ncpu0 1 2 3 4\n"))
	if err != nil || m.Busy != 18 || m.Total != 122 {
		t.Errorf("parseMachineCPU = %+v, %v; want busy 18 of 122", m, err)
	}
}

const auditTmpl = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%ID%","stage":"%STAGE%","requestURI":"/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/a/status?x=\"verb\":\"no\"","verb":"%VERB%","user":{"username":"admin","groups":["system:masters"]},"sourceIPs":["127.0.0.1"],"userAgent":"%UA%","objectRef":{"resource":"%RES%","namespace":"ns","name":"a","apiGroup":"argoproj.io","apiVersion":"v1alpha1"%SUB%},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"%TS%","stageTimestamp":"%TS%","annotations":{"authorization.k8s.io/decision":"allow"}}`

func auditLine(stage, verb, ua, res, sub string, ts time.Time) string {
	subJSON := ""
	if sub != "" {
		subJSON = `,"subresource":"` + sub + `"`
	}
	return strings.NewReplacer("%ID%", "x", "%STAGE%", stage, "%VERB%", verb, "%UA%", ua, "%RES%", res,
		"%SUB%", subJSON, "%TS%", ts.UTC().Format(time.RFC3339Nano)).Replace(auditTmpl)
}

func TestCountAudit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	setup := window{t0, t0.Add(10 * time.Second)}
	update := window{t0.Add(10 * time.Second), t0.Add(20 * time.Second)}
	ctl := "sluice-controller"
	kcm := "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/abc/replicaset-controller"
	lines := []string{
		auditLine("ResponseComplete", "create", ctl, "replicasets", "", t0.Add(time.Second)),      // setup
		auditLine("ResponseComplete", "patch", ctl, "rollouts", "status", t0.Add(11*time.Second)), // update
		auditLine("ResponseComplete", "patch", ctl, "rollouts", "status", t0.Add(12*time.Second)),
		auditLine("ResponseStarted", "watch", ctl, "rollouts", "", t0.Add(13*time.Second)), // counted once
		auditLine("ResponseComplete", "watch", ctl, "rollouts", "", t0.Add(13*time.Second)),
		auditLine("ResponseComplete", "create", kcm, "pods", "", t0.Add(14*time.Second)),
		auditLine("ResponseComplete", "patch", ctl, "replicasets", "", t0.Add(25*time.Second)), // after
		auditLine("ResponseComplete", "get", `sluice-controller \"quoted\"`, "rollouts", "", t0.Add(15*time.Second)),
		"not json at all",
		"",
	}
	c, err := countAudit(strings.NewReader(strings.Join(lines, "\n")), ctl, setup, update)
	if err != nil {
		t.Fatal(err)
	}
	if c.Setup["create"] != 1 || len(c.Setup) != 1 {
		t.Errorf("setup = %v", c.Setup)
	}
	if c.Update["patch"] != 2 || c.Update["watch"] != 1 || c.Update["get"] != 1 || len(c.Update) != 3 {
		t.Errorf("update = %v", c.Update)
	}
	if c.UpdateByResource["patch rollouts/status"] != 2 || c.UpdateByResource["watch rollouts"] != 1 {
		t.Errorf("by resource = %v", c.UpdateByResource)
	}
	if ps := c.PerSecond["rollouts"]; len(ps) != 4 || ps[1] != 1 || ps[2] != 1 || ps[3] != 1 || ps[5] != 1 {
		t.Errorf("per second = %v", c.PerSecond)
	}
	if c.ByClient["kube-controller-manager:replicaset-controller"] != 1 || c.ByClient["sluice-controller"] != 4 {
		t.Errorf("by client = %v", c.ByClient)
	}
	ev, err := parseAuditLine([]byte(lines[7]))
	if err != nil || ev.UserAgent != `sluice-controller "quoted"` || ev.Verb != "get" || ev.Subresource != "" {
		t.Errorf("escaped user agent: %+v, %v", ev, err)
	}
}

func TestClientName(t *testing.T) {
	for ua, want := range map[string]string{
		"kube-scheduler/v1.37.2 (linux/amd64) kubernetes/abc/scheduler": "kube-scheduler:scheduler",
		"kwok/v0.8.0 (linux/amd64) kubernetes/$Format":                  "kwok",
		"sluice-controller": "sluice-controller",
		"argo-rollouts/v1.8.0 (linux/amd64) argo-rollouts/abc": "argo-rollouts",
		"": "(none)",
	} {
		if got := clientName(ua); got != want {
			t.Errorf("clientName(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestMetrics(t *testing.T) {
	text := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="rollout",result="success"} 10
controller_runtime_reconcile_total{controller="rollout",result="error"} 2
controller_runtime_reconcile_total{controller="other",result="success"} 100
workqueue_queue_duration_seconds_sum{name="rollout"} 1.5
workqueue_queue_duration_seconds_count{name="rollout"} 3
weird{a="x\"y,}",b="2"} 7 1700000000
plain 4
`
	before, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseMetrics(strings.NewReader(strings.ReplaceAll(text, "} 10", "} 25")))
	if err != nil {
		t.Fatal(err)
	}
	name, match, err := parseSelector(DefaultReconcileMetric)
	if err != nil || name != "controller_runtime_reconcile_total" || match["controller"] != "rollout" {
		t.Fatalf("parseSelector = %q %v %v", name, match, err)
	}
	if d, ok := delta(before, after, name, match); !ok || d != 15 {
		t.Errorf("delta = %v, %v; want 15", d, ok)
	}
	if v, ok := after.sum("weird", map[string]string{"a": `x"y,}`}); !ok || v != 7 {
		t.Errorf("escaped label: %v %v", v, ok)
	}
	if v, _ := after.sum("plain", nil); v != 4 {
		t.Errorf("plain = %v", v)
	}
	if by := after.by(name, match, "result"); by["success"] != 25 || by["error"] != 2 {
		t.Errorf("by = %v", by)
	}
	if _, ok := after.sum("absent", nil); ok {
		t.Error("absent series found")
	}
	if _, _, err := parseSelector(`x{a="1"} 3`); err == nil {
		t.Error("selector with a value accepted")
	}
}

func TestDist(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	d := dist(ds)
	if d.Count != 100 || d.Min != 0.001 || d.P50 != 0.05 || d.P90 != 0.09 || d.P99 != 0.099 || d.Max != 0.1 || d.Mean != 0.0505 {
		t.Errorf("dist = %+v", d)
	}
	if one := dist([]time.Duration{time.Second}); one.P50 != 1 || one.P99 != 1 {
		t.Errorf("dist of one = %+v", one)
	}
	if (dist(nil) != Dist{}) {
		t.Error("dist of nothing is not zero")
	}
}

// TestRecorder feeds the recorder a Rollout's events as a controller would produce them and
// checks the per-Rollout time, the step reactions and the downstream samples.
func TestRecorder(t *testing.T) {
	rec := newRecorder()
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	steps := Steps(5 * time.Second)
	rec.expect(key, steps)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ro := func(gen int64, obsGen string, hash, stable string, idx *int32, phase v1alpha1.RolloutPhase, pauseStart *time.Time) *v1alpha1.Rollout {
		r := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", Generation: gen}}
		r.Status = v1alpha1.RolloutStatus{ObservedGeneration: obsGen, CurrentPodHash: hash, StableRS: stable, CurrentStepIndex: idx, Phase: phase}
		if pauseStart != nil {
			r.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.NewTime(*pauseStart)}}
		}
		return r
	}
	rec.onRollout(ro(1, "1", "h1", "h1", ptr.To[int32](5), v1alpha1.RolloutPhaseProgressing, nil), t0)
	rec.onRollout(ro(1, "1", "h1", "h1", ptr.To[int32](5), v1alpha1.RolloutPhaseHealthy, nil), t0.Add(time.Second))
	if rec.healthyCount() != 1 {
		t.Fatal("setup Healthy not seen")
	}
	rec.startUpdate()
	rec.patched(key, t0.Add(10*time.Second))
	// Spec changed, not yet observed: still Healthy at the old generation; must not count.
	rec.onRollout(ro(2, "1", "h1", "h1", ptr.To[int32](5), v1alpha1.RolloutPhaseHealthy, nil), t0.Add(10*time.Second))
	rec.onRollout(ro(2, "2", "h2", "h1", ptr.To[int32](0), v1alpha1.RolloutPhaseProgressing, nil), t0.Add(10100*time.Millisecond))
	p1 := t0.Add(11 * time.Second) // as written: whole seconds
	rec.onRollout(ro(2, "2", "h2", "h1", ptr.To[int32](1), v1alpha1.RolloutPhasePaused, &p1), t0.Add(11200*time.Millisecond))
	rec.onRollout(ro(2, "2", "h2", "h1", ptr.To[int32](1), v1alpha1.RolloutPhasePaused, &p1), t0.Add(12*time.Second)) // unrelated update
	rec.onRollout(ro(2, "2", "h2", "h1", ptr.To[int32](2), v1alpha1.RolloutPhaseProgressing, nil), t0.Add(16050*time.Millisecond))
	p2 := t0.Add(17 * time.Second)
	rec.onRollout(ro(2, "2", "h2", "h1", ptr.To[int32](3), v1alpha1.RolloutPhasePaused, &p2), t0.Add(17100*time.Millisecond))
	// The controller may jump past the last setWeight in one pass: the pause still counts.
	rec.onRollout(ro(2, "2", "h2", "h1", ptr.To[int32](5), v1alpha1.RolloutPhaseProgressing, nil), t0.Add(22200*time.Millisecond))
	if rec.healthyCount() != 0 {
		t.Fatal("Healthy counted before the new revision was promoted")
	}
	rec.onRollout(ro(2, "2", "h2", "h2", ptr.To[int32](5), v1alpha1.RolloutPhaseHealthy, nil), t0.Add(23*time.Second))
	rec.onRollout(ro(2, "2", "h2", "h2", ptr.To[int32](5), v1alpha1.RolloutPhaseHealthy, nil), t0.Add(24*time.Second))
	if rec.healthyCount() != 1 {
		t.Fatalf("healthy = %d, want 1", rec.healthyCount())
	}
	st := rec.ros[key]
	if got := st.healthyAt.Sub(st.patchedAt); got != 13*time.Second {
		t.Errorf("per-rollout time = %s, want 13s", got)
	}
	want := []stepReaction{{Index: 1, Latency: 50 * time.Millisecond}, {Index: 3, Latency: 200 * time.Millisecond}}
	if len(st.reactions) != 2 || st.reactions[0] != want[0] || st.reactions[1] != want[1] {
		t.Errorf("reactions = %+v, want %+v", st.reactions, want)
	}

	// Downstream: a ReplicaSet scaled 1 → 3, pods appear, then become available.
	rs := func(spec, replicas, avail int32) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{UID: "rs1", Generation: 2},
			Spec:       appsv1.ReplicaSetSpec{Replicas: new(spec)},
			Status:     appsv1.ReplicaSetStatus{Replicas: replicas, AvailableReplicas: avail, ObservedGeneration: 2},
		}
	}
	rec.onReplicaSet(rs(1, 1, 1), rs(3, 1, 1), t0)
	rec.onReplicaSet(rs(3, 1, 1), rs(3, 3, 1), t0.Add(100*time.Millisecond))
	rec.onReplicaSet(rs(3, 3, 1), rs(3, 3, 3), t0.Add(300*time.Millisecond))
	if len(rec.rsToCreated) != 1 || rec.rsToCreated[0] != 100*time.Millisecond || len(rec.rsToAvailable) != 1 || rec.rsToAvailable[0] != 300*time.Millisecond {
		t.Errorf("rs samples: created %v, available %v", rec.rsToCreated, rec.rsToAvailable)
	}
}

func TestErrorKind(t *testing.T) {
	got := errorKind(`Reconciler error: scaling ReplicaSet bench-00007-5955 from 0 to 3: Operation cannot be fulfilled on replicasets.apps "bench-00007-5955": the object has been modified`)
	want := `Reconciler error: scaling ReplicaSet bench-N-N from N to N: Operation cannot be fulfilled on replicasets.apps "…": the object has been modified`
	if got != want {
		t.Errorf("errorKind =\n%s\nwant\n%s", got, want)
	}
}

func TestCountAuditFiles(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	line := auditLine("ResponseComplete", "patch", "sluice-controller", "rollouts", "status", t0.Add(time.Second)) + "\n"
	for _, name := range []string{"audit-2026-01-01T12-00-00.000.log", "audit-2026-01-01T12-00-01.000.log", "audit.log", "other.log", "audit.log.bak"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := countAuditFiles(filepath.Join(dir, "audit.log"), "sluice-controller", window{t0, t0}, window{t0, t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Update["patch"] != 3 || c.Lines != 3 || c.PerSecond["rollouts"][1] != 3 {
		t.Errorf("counted %v in %d lines, want 3 patches from the log and its 2 rotated files", c.Update, c.Lines)
	}
}
