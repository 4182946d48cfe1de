package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/plan"
	"github.com/sluicehq/sluice/internal/version"
)

// Controller modes.
const (
	// ControllerChild: the harness starts sluice's controller as a child process.
	ControllerChild = "child"
	// ControllerExternal: the harness measures a running controller it did not start.
	ControllerExternal = "external"
)

// DefaultReconcileMetric is controller-runtime's reconcile counter for sluice's Rollout
// controller.
const DefaultReconcileMetric = `controller_runtime_reconcile_total{controller="rollout"}`

// Images of the benchmark's pods (kwok runs no containers; only the change matters).
const (
	ImageBefore = "example.com/sluice-bench:v1"
	ImageAfter  = "example.com/sluice-bench:v2"
)

// Options configure a run. The zero value plus Child (for the child controller) is a usable
// run of 100 Rollouts on a new local cluster.
type Options struct {
	// Rollouts (default 100) with Replicas each (default 3), spread round-robin over
	// Namespaces (default 1) new namespaces.
	Rollouts, Replicas, Namespaces int
	// Pause is the duration of the two pause steps (default 5s).
	Pause time.Duration
	// Timeout bounds the workload (creation, setup and update), not the cluster start
	// (default 30m).
	Timeout time.Duration

	// Kubeconfig: run on this cluster instead of starting a local one. AuditLogPath is then
	// the API server's audit log, if any (JSON, as `sluice dev --audit-log` writes it), and
	// ClusterPIDs the component PIDs whose CPU to report.
	Kubeconfig   string
	AuditLogPath string
	ClusterPIDs  map[string]int
	// Nodes for a local cluster (default: enough for every pod at its peak, 250 pods a node).
	Nodes int
	// RunDir holds the cluster's files, the controller log and profiles; default a temporary
	// directory, removed after a successful run unless KeepRunDir.
	RunDir     string
	KeepRunDir bool

	// Controller is ControllerChild (default) or ControllerExternal.
	Controller string
	// Child starts the child controller (required for ControllerChild).
	Child ChildCommand
	// Workers, QPS and Burst configure the child controller (defaults 10, 40, 80, as Argo).
	Workers int
	QPS     float64
	Burst   int
	// CPUProfile and MemProfile are written by the child controller.
	CPUProfile, MemProfile string
	// ControllerPID is the external controller's process.
	ControllerPID int
	// ControllerUserAgent is the prefix of the controller's user agent in the audit log
	// (default DefaultUserAgent).
	ControllerUserAgent string
	// ControllerMetricsURL is the external controller's Prometheus endpoint (optional), and
	// ReconcileMetric the series that counts its Rollout reconciles (default
	// DefaultReconcileMetric).
	ControllerMetricsURL string
	ReconcileMetric      string

	// Progress receives progress lines (nil: none), every ProgressInterval (default 10s).
	Progress         io.Writer
	ProgressInterval time.Duration
}

func (o *Options) defaults() error {
	if o.Rollouts <= 0 {
		o.Rollouts = 100
	}
	if o.Replicas <= 0 {
		o.Replicas = 3
	}
	if o.Namespaces <= 0 {
		o.Namespaces = 1
	}
	o.Namespaces = min(o.Namespaces, o.Rollouts)
	if o.Pause <= 0 {
		o.Pause = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Controller == "" {
		o.Controller = ControllerChild
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.QPS <= 0 {
		o.QPS = 40
	}
	if o.Burst <= 0 {
		o.Burst = 80
	}
	if o.ControllerUserAgent == "" {
		o.ControllerUserAgent = DefaultUserAgent
	}
	if o.ReconcileMetric == "" {
		o.ReconcileMetric = DefaultReconcileMetric
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Nodes <= 0 {
		// Peak pods: every Rollout at replicas + maxSurge (25 %, rounded up).
		peak := o.Rollouts * (o.Replicas + (o.Replicas+3)/4)
		o.Nodes = (peak+249)/250 + 1
	}
	switch o.Controller {
	case ControllerChild:
		if o.Child.Path == "" {
			return errors.New("bench: Options.Child is required to start the controller")
		}
	case ControllerExternal:
		if o.ControllerPID <= 0 {
			return errors.New("--controller external needs --controller-pid")
		}
		if o.Kubeconfig == "" {
			return errors.New("--controller external needs --kubeconfig: the cluster the controller already runs against")
		}
		if o.CPUProfile != "" || o.MemProfile != "" {
			return errors.New("--cpuprofile/--memprofile need the child controller; profile an external controller with its own tools")
		}
	default:
		return fmt.Errorf("unknown --controller %q (child or external)", o.Controller)
	}
	return nil
}

// Steps are the benchmark's canary steps.
func Steps(pause time.Duration) []v1alpha1.CanaryStep {
	d := intstr.FromString(pause.String())
	return []v1alpha1.CanaryStep{
		{SetWeight: ptr.To[int32](20)},
		{Pause: &v1alpha1.RolloutPause{Duration: &d}},
		{SetWeight: ptr.To[int32](60)},
		{Pause: &v1alpha1.RolloutPause{Duration: new(d)}},
		{SetWeight: ptr.To[int32](100)},
	}
}

func describeSteps(steps []v1alpha1.CanaryStep) string {
	parts := make([]string, 0, len(steps))
	for i := range steps {
		parts = append(parts, plan.DescribeStep(&steps[i]))
	}
	return strings.Join(parts, ", ")
}

// run is the state of one benchmark run.
type run struct {
	o       Options
	res     *Result
	cfg     *rest.Config // the harness's client config
	k       client.Client
	rec     *recorder
	runDir  string
	audit   string
	pids    map[string]int // cluster components
	ctl     *child
	ctlPID  int
	metrics string // controller metrics URL
	nss     []string
	keys    []types.NamespacedName
	rssMax  uint64
	rssMu   sync.Mutex
}

// Run runs the benchmark. It returns the result even when the run fails part-way (a
// timeout: Result.Update says how far it got), together with the error.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	info := version.Get()
	r := &run{o: o, rec: newRecorder(), res: &Result{
		Schema: Schema, StartedAt: time.Now().UTC(), Harness: info.String(),
		Config: Config{
			Rollouts: o.Rollouts, Replicas: o.Replicas, Namespaces: o.Namespaces,
			Steps: describeSteps(Steps(o.Pause)), PauseSeconds: o.Pause.Seconds(),
			Controller: o.Controller, ControllerUserAgent: o.ControllerUserAgent,
			Cluster: "local", Nodes: o.Nodes, TimeoutSeconds: o.Timeout.Seconds(),
		},
		Machine: Machine{
			CPUs: runtime.NumCPU(), CPUModel: cpuModel(), MemoryBytes: machineMemory(),
			Platform: info.Platform, GoVersion: info.GoVersion,
		},
	}}
	err := r.run(ctx)
	if err != nil {
		r.res.Error = err.Error()
	}
	return r.res, err
}

func (r *run) run(ctx context.Context) (err error) {
	o := &r.o
	r.runDir = o.RunDir
	if r.runDir == "" {
		if r.runDir, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(r.runDir, 0o755); err != nil {
		return err
	}
	r.res.Files.RunDir = r.runDir
	defer func() {
		if err == nil && o.RunDir == "" && !o.KeepRunDir {
			_ = os.RemoveAll(r.runDir)
			r.res.Files = Files{}
		}
	}()

	var cfg *rest.Config
	if o.Kubeconfig == "" {
		c, err := devcluster.Start(ctx, devcluster.Options{
			RunDir: filepath.Join(r.runDir, "cluster"), KeepRunDir: true,
			Nodes: o.Nodes, HighThroughput: true, AuditLog: true,
			CRDs: []devcluster.CRDSet{devcluster.CRDsSluice}, Progress: o.Progress,
		})
		if err != nil {
			return err
		}
		defer func() { _ = c.Stop() }()
		cfg, r.audit, r.pids = c.RESTConfig(), c.AuditLogPath(), c.PIDs()
		o.Kubeconfig = c.Kubeconfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
		if err != nil {
			return fmt.Errorf("loading kubeconfig: %w", err)
		}
		r.res.Config.Cluster = "kubeconfig"
		r.audit, r.pids = o.AuditLogPath, o.ClusterPIDs
	}
	r.res.Config.AuditLog = r.audit != ""
	r.res.Files.AuditLog = r.audit
	cfg.QPS, cfg.Burst, cfg.UserAgent = 2000, 4000, "sluice-bench"
	cfg.Timeout = time.Minute
	r.cfg = cfg
	if r.k, err = client.New(cfg, client.Options{Scheme: controller.Scheme()}); err != nil {
		return err
	}
	if r.res.Config.Cluster == "kubeconfig" {
		if err := r.checkCapacity(ctx); err != nil {
			return err
		}
	}

	if err := r.startController(ctx); err != nil {
		return err
	}
	if r.ctl != nil {
		defer func() {
			if serr := r.ctl.stop(30 * time.Second); serr != nil && err == nil {
				err = serr
			}
		}()
	}

	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := r.createNamespaces(wctx); err != nil {
		return err
	}
	if r.res.Config.Cluster == "kubeconfig" {
		defer r.deleteNamespaces(context.WithoutCancel(ctx))
	}
	if err := r.startInformers(wctx); err != nil {
		return err
	}
	go r.sampleRSS(wctx)
	return r.measure(wctx)
}

// checkCapacity makes sure an existing cluster has room for every pod at the peak.
func (r *run) checkCapacity(ctx context.Context) error {
	var nodes corev1.NodeList
	if err := r.k.List(ctx, &nodes); err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	var capacity int64
	for _, n := range nodes.Items {
		if q, ok := n.Status.Allocatable[corev1.ResourcePods]; ok {
			capacity += q.Value()
		}
	}
	r.res.Config.Nodes = len(nodes.Items)
	peak := int64(r.o.Rollouts * (r.o.Replicas + (r.o.Replicas+3)/4))
	if capacity < peak {
		return fmt.Errorf("the cluster's nodes hold %d pods, the benchmark needs %d at its peak: add nodes (sluice dev --nodes %d)", capacity, peak, r.o.Nodes)
	}
	return nil
}

func (r *run) startController(ctx context.Context) error {
	o := &r.o
	if o.Controller == ControllerExternal {
		r.ctlPID, r.metrics = o.ControllerPID, o.ControllerMetricsURL
		if _, err := readProc(r.ctlPID); err != nil {
			return fmt.Errorf("--controller-pid: %w", err)
		}
		r.res.Config.ControllerPID = r.ctlPID
		return nil
	}
	port, err := freePort(ctx)
	if err != nil {
		return err
	}
	r.res.Config.Workers, r.res.Config.QPS, r.res.Config.Burst = o.Workers, o.QPS, o.Burst
	flags := []string{
		"--kubeconfig=" + o.Kubeconfig,
		"--rollout-threads=" + itoa(o.Workers),
		fmt.Sprintf("--qps=%g", o.QPS), "--burst=" + itoa(o.Burst),
		"--metrics-bind-address=127.0.0.1:" + itoa(port),
		"--user-agent=" + o.ControllerUserAgent,
	}
	if o.CPUProfile != "" {
		flags = append(flags, "--cpuprofile="+o.CPUProfile)
		r.res.Files.CPUProfile = o.CPUProfile
	}
	if o.MemProfile != "" {
		flags = append(flags, "--memprofile="+o.MemProfile)
		r.res.Files.MemProfile = o.MemProfile
	}
	logPath := filepath.Join(r.runDir, "controller.log")
	r.res.Files.ControllerLog = logPath
	if r.ctl, err = startChild(o.Child, logPath, flags...); err != nil {
		return err
	}
	r.ctlPID = r.ctl.pid()
	r.res.Config.ControllerPID = r.ctlPID
	r.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := fetchMetrics(ctx, r.metrics); err == nil {
			return nil
		}
		if r.ctl.exited() {
			return fmt.Errorf("the controller exited at start: %w", errors.Join(r.ctl.exitErr(), errors.New(tailFile(logPath, 2000))))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the controller's metrics endpoint %s did not answer within 60s (log: %s)", r.metrics, logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *run) createNamespaces(ctx context.Context) error {
	for range r.o.Namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sluice-bench-", Labels: map[string]string{"app.kubernetes.io/part-of": "sluice-bench"}}}
		if err := r.k.Create(ctx, ns); err != nil {
			return fmt.Errorf("creating a namespace: %w", err)
		}
		r.nss = append(r.nss, ns.Name)
	}
	// Pods can only be created once the namespace's default service account exists.
	for _, ns := range r.nss {
		for {
			err := r.k.Get(ctx, types.NamespacedName{Namespace: ns, Name: "default"}, &corev1.ServiceAccount{})
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the default service account of %s: %w", ns, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func (r *run) deleteNamespaces(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, ns := range r.nss {
		_ = r.k.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
}

// startInformers watches Rollouts, ReplicaSets and Pods of the benchmark's namespaces and
// feeds every event, with the time it arrived, to the recorder.
func (r *run) startInformers(ctx context.Context) error {
	nss := map[string]cache.Config{}
	for _, ns := range r.nss {
		nss[ns] = cache.Config{}
	}
	c, err := cache.New(r.cfg, cache.Options{Scheme: controller.Scheme(), DefaultNamespaces: nss})
	if err != nil {
		return err
	}
	rec := r.rec
	type reg struct {
		obj client.Object
		h   toolscache.ResourceEventHandlerFuncs
	}
	regs := []reg{
		{&v1alpha1.Rollout{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				if ro, ok := obj.(*v1alpha1.Rollout); ok {
					rec.onRollout(ro, time.Now())
				}
			},
			UpdateFunc: func(_, obj any) {
				if ro, ok := obj.(*v1alpha1.Rollout); ok {
					rec.onRollout(ro, time.Now())
				}
			},
		}},
		{&appsv1.ReplicaSet{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				if rs, ok := obj.(*appsv1.ReplicaSet); ok {
					rec.onReplicaSet(nil, rs, time.Now())
				}
			},
			UpdateFunc: func(old, obj any) {
				o, ok1 := old.(*appsv1.ReplicaSet)
				rs, ok2 := obj.(*appsv1.ReplicaSet)
				if ok1 && ok2 {
					rec.onReplicaSet(o, rs, time.Now())
				}
			},
		}},
		{&corev1.Pod{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				if p, ok := obj.(*corev1.Pod); ok {
					rec.onPod(p, podAdded, time.Now())
				}
			},
			UpdateFunc: func(_, obj any) {
				if p, ok := obj.(*corev1.Pod); ok {
					rec.onPod(p, podUpdated, time.Now())
				}
			},
			DeleteFunc: func(obj any) {
				if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
					obj = t.Obj
				}
				if p, ok := obj.(*corev1.Pod); ok {
					rec.onPod(p, podDeleted, time.Now())
				}
			},
		}},
	}
	for _, g := range regs {
		inf, err := c.GetInformer(ctx, g.obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", g.obj, err)
		}
		if _, err := inf.AddEventHandler(g.h); err != nil {
			return err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return errors.New("the harness's watches did not sync")
	}
	return nil
}

// sampleRSS keeps the largest VmRSS of the controller, every 500 ms.
func (r *run) sampleRSS(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if s, err := readProc(r.ctlPID); err == nil {
			r.rssMu.Lock()
			r.rssMax = max(r.rssMax, s.RSS)
			r.rssMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// snapshot is the state of every measured process and the controller's metrics at one time.
type snapshot struct {
	at         time.Time
	ctl        procSample
	ctlErr     error
	self       procSample
	components map[string]procSample
	machine    machineCPU
	metrics    scrape
	metricsErr error
}

func (r *run) snapshot(ctx context.Context) *snapshot {
	s := &snapshot{at: time.Now(), components: map[string]procSample{}}
	s.ctl, s.ctlErr = readProc(r.ctlPID)
	s.self, _ = readProc(os.Getpid())
	for name, pid := range r.pids {
		if p, err := readProc(pid); err == nil {
			s.components[name] = p
		}
	}
	s.machine, _ = readMachineCPU()
	if r.metrics != "" {
		s.metrics, s.metricsErr = fetchMetrics(ctx, r.metrics)
	}
	return s
}

// measure creates the Rollouts, waits for them, changes every image, waits again, and fills
// the result.
func (r *run) measure(ctx context.Context) error {
	o, res := &r.o, r.res
	steps := Steps(o.Pause)
	for i := range o.Rollouts {
		key := types.NamespacedName{Namespace: r.nss[i%len(r.nss)], Name: fmt.Sprintf("bench-%05d", i)}
		r.keys = append(r.keys, key)
		r.rec.expect(key, steps)
	}

	s0 := r.snapshot(ctx)
	_, _ = fmt.Fprintf(o.Progress, "sluice bench: creating %d Rollouts (%d replicas each) in %d namespace(s)\n", o.Rollouts, o.Replicas, len(r.nss))
	created, err := parallel(ctx, r.keys, func(ctx context.Context, key types.NamespacedName) error {
		return r.k.Create(ctx, benchRollout(key, int32(o.Replicas), steps))
	})
	res.Setup.CreateSeconds = secs(time.Since(s0.at))
	if err != nil {
		return fmt.Errorf("creating Rollouts (%d created): %w", created, err)
	}
	err = r.waitHealthy(ctx, "setup")
	res.Setup.Completed = r.rec.healthyCount()
	res.Setup.HealthySeconds = secs(time.Since(s0.at))
	if err != nil {
		return err
	}

	r.rec.startUpdate()
	s1 := r.snapshot(ctx)
	_, _ = fmt.Fprintf(o.Progress, "sluice bench: all %d Rollouts Healthy after %.1fs; changing every image\n", o.Rollouts, res.Setup.HealthySeconds)
	patch := client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"`+ImageAfter+`"}]`))
	_, err = parallel(ctx, r.keys, func(ctx context.Context, key types.NamespacedName) error {
		ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		if err := r.k.Patch(ctx, ro, patch); err != nil {
			return err
		}
		r.rec.patched(key, time.Now())
		return nil
	})
	res.Update.PatchSeconds = secs(time.Since(s1.at))
	if err != nil {
		return fmt.Errorf("changing images: %w", err)
	}
	werr := r.waitHealthy(ctx, "update")
	r.rec.stop()
	end := time.Now()
	if last := r.lastHealthy(); werr == nil && !last.IsZero() {
		end = last
	}
	// The end snapshot comes after the last event: a few ms more of CPU at most.
	s2 := r.snapshot(context.WithoutCancel(ctx))
	res.Update.TimedOut = errors.Is(werr, context.DeadlineExceeded)
	r.fill(s0, s1, s2, end)
	if err := r.countRequests(context.WithoutCancel(ctx), s0.at, s1.at, end); err != nil {
		werr = errors.Join(werr, err)
	}
	r.countLogErrors()
	res.Limits = limits(res, &r.o)
	return werr
}

// waitHealthy waits until every Rollout is Healthy in the current phase, printing progress.
func (r *run) waitHealthy(ctx context.Context, what string) error {
	t0 := time.Now()
	tick := time.NewTicker(r.o.ProgressInterval)
	defer tick.Stop()
	for {
		if r.rec.healthyCount() >= len(r.keys) {
			return nil
		}
		if r.ctl != nil && r.ctl.exited() {
			return fmt.Errorf("the controller died during %s: %w\n%s", what, r.ctl.exitErr(), tailFile(r.ctl.LogPath, 2000))
		}
		select {
		case <-ctx.Done():
			healthy, total, _, _ := r.rec.progress()
			return fmt.Errorf("%s: %d of %d Rollouts Healthy after %s: %w", what, healthy, total, time.Since(t0).Round(time.Second), ctx.Err())
		case <-r.rec.changed:
		case <-tick.C:
			r.progressLine(what, t0)
		}
	}
}

func (r *run) progressLine(what string, t0 time.Time) {
	healthy, total, byPhase, byStep := r.rec.progress()
	line := fmt.Sprintf("sluice bench: [%5.0fs] %s: %d/%d Healthy", time.Since(t0).Seconds(), what, healthy, total)
	if len(byPhase) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(byPhase)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, byPhase[k]))
		}
		line += "; others: " + strings.Join(parts, ", ")
		parts = parts[:0]
		for _, k := range slices.Sorted(maps.Keys(byStep)) {
			parts = append(parts, fmt.Sprintf("%d:%d", k, byStep[k]))
		}
		line += "; at step " + strings.Join(parts, " ")
	}
	_, _ = fmt.Fprintln(r.o.Progress, line)
}

func (r *run) lastHealthy() time.Time {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	var last time.Time
	for _, st := range r.rec.ros {
		if st.healthyAt.After(last) {
			last = st.healthyAt
		}
	}
	return last
}

// fill computes the result from the recorder and the snapshots: s0 before creation, s1 at
// the image change, s2 at the end (end is when the last Rollout was seen Healthy).
func (r *run) fill(s0, s1, s2 *snapshot, end time.Time) {
	res, rec := r.res, r.rec
	wall := end.Sub(s1.at)
	u := &res.Update
	u.WallSeconds = secs(wall)
	res.Setup.StartedAt, u.StartedAt, u.EndedAt = s0.at.UTC(), s1.at.UTC(), end.UTC()
	rec.mu.Lock()
	var perRollout, react []time.Duration
	u.Total = len(r.keys)
	for _, key := range r.keys {
		st := rec.ros[key]
		if !st.healthyAt.IsZero() {
			u.Completed++
			from := st.patchedAt
			if from.IsZero() {
				from = s1.at
			}
			perRollout = append(perRollout, st.healthyAt.Sub(from))
		} else {
			if u.Unfinished == nil {
				u.Unfinished = map[string]int{}
			}
			k := "(no status for the new generation)"
			if st.lastIndex >= 0 {
				k = fmt.Sprintf("%s step=%d", st.lastPhase, st.lastIndex)
			}
			u.Unfinished[k]++
		}
		for _, x := range st.reactions {
			react = append(react, x.Latency)
		}
	}
	cl := &res.Cluster
	cl.ReplicaSetScaleUpToCreated = dist(rec.rsToCreated)
	cl.ReplicaSetScaleUpToAvailable = dist(rec.rsToAvailable)
	cl.PodCreatedToScheduled = dist(rec.podToScheduled)
	cl.PodScheduledToReady = dist(rec.podToReady)
	cl.WatchEvents = rec.rolloutEvents + rec.rsEvents + rec.podEv
	rec.mu.Unlock()
	u.PerRollout, u.StepReaction = dist(perRollout), dist(react)

	cs := &res.Controller
	cs.PID = r.ctlPID
	if s2.ctlErr == nil && s1.ctlErr == nil {
		cs.CPUSeconds = ticks(s2.ctl.CPUTicks - s1.ctl.CPUTicks)
		if wall > 0 {
			cs.CPUCores = round2(cs.CPUSeconds / wall.Seconds())
		}
		cs.RSSPeakBytes, cs.RSSEndBytes = s2.ctl.HWM, s2.ctl.RSS
	}
	if s0.ctlErr == nil && s1.ctlErr == nil {
		cs.SetupCPUSeconds = ticks(s1.ctl.CPUTicks - s0.ctl.CPUTicks)
	}
	r.rssMu.Lock()
	cs.RSSSampledMaxBytes = r.rssMax
	r.rssMu.Unlock()

	cl.CPUSeconds = map[string]float64{"harness": ticks(s2.self.CPUTicks - s1.self.CPUTicks)}
	for name, a := range s2.components {
		if b, ok := s1.components[name]; ok {
			cl.CPUSeconds[name] = ticks(a.CPUTicks - b.CPUTicks)
		}
	}
	if dt := s2.machine.Total - s1.machine.Total; dt > 0 {
		cl.MachineBusy = round2(float64(s2.machine.Busy-s1.machine.Busy) / float64(dt))
	}
	r.fillMetrics(s1.metrics, s2.metrics, u.Completed)
}

// fillMetrics reads reconciles, workqueue and client metrics as deltas over the update.
func (r *run) fillMetrics(before, after scrape, completed int) {
	if after == nil {
		return
	}
	cs := &r.res.Controller
	name, match, err := parseSelector(r.o.ReconcileMetric)
	if err != nil {
		return
	}
	if total, ok := delta(before, after, name, match); ok {
		rc := &Reconciles{Metric: r.o.ReconcileMetric, Total: total}
		if completed > 0 {
			rc.PerRollout = round2(total / float64(completed))
		}
		b, a := before.by(name, match, "result"), after.by(name, match, "result")
		for k, v := range a {
			if k != "" && v-b[k] != 0 {
				if rc.ByResult == nil {
					rc.ByResult = map[string]float64{}
				}
				rc.ByResult[k] = v - b[k]
			}
		}
		ctlLabel := map[string]string{"controller": "rollout"}
		rc.MeanSeconds = ratio(before, after, "controller_runtime_reconcile_time_seconds", ctlLabel)
		q := map[string]string{"name": "rollout"}
		rc.QueueWaitMeanSeconds = ratio(before, after, "workqueue_queue_duration_seconds", q)
		rc.QueueAdds, _ = delta(before, after, "workqueue_adds_total", q)
		cs.Reconciles = rc
	}
	if n, ok := delta(before, after, "rest_client_rate_limiter_duration_seconds_count", nil); ok {
		c := &ClientStats{RateLimitedRequests: n}
		c.RateLimiterWaitSeconds, _ = delta(before, after, "rest_client_rate_limiter_duration_seconds_sum", nil)
		c.RateLimiterWaitSeconds = round2(c.RateLimiterWaitSeconds)
		b, a := before.by("rest_client_rate_limiter_duration_seconds_sum", nil, "verb"), after.by("rest_client_rate_limiter_duration_seconds_sum", nil, "verb")
		c.RateLimiterWaitByMethod = map[string]float64{}
		for k, v := range a {
			c.RateLimiterWaitByMethod[k] = round2(v - b[k])
		}
		fast, _ := delta(before, after, "rest_client_rate_limiter_duration_seconds_bucket", map[string]string{"le": "0.025"})
		c.Waited25ms = n - fast
		c.RequestsByCode = map[string]float64{}
		b, a = before.by("rest_client_requests_total", nil, "code"), after.by("rest_client_requests_total", nil, "code")
		for k, v := range a {
			c.RequestsByCode[k] = v - b[k]
		}
		cs.Client = c
	}
}

// ratio is delta(name_sum)/delta(name_count), 0 when absent.
func ratio(before, after scrape, name string, match map[string]string) float64 {
	sum, ok1 := delta(before, after, name+"_sum", match)
	n, ok2 := delta(before, after, name+"_count", match)
	if !ok1 || !ok2 || n == 0 {
		return 0
	}
	return math4(sum / n)
}

// countRequests counts the controller's API requests from the audit log: setup is
// [setupFrom, updateFrom), the update [updateFrom, end].
func (r *run) countRequests(ctx context.Context, setupFrom, updateFrom, end time.Time) error {
	if r.audit == "" {
		return nil
	}
	// A request after the window, to know the log holds everything up to it.
	marker := fmt.Sprintf("sluice-bench-marker-%d", time.Now().UnixNano())
	mcfg := rest.CopyConfig(r.cfg)
	mcfg.UserAgent = marker
	if mk, err := client.New(mcfg, client.Options{Scheme: controller.Scheme()}); err == nil {
		_ = mk.Get(ctx, types.NamespacedName{Name: "default"}, &corev1.Namespace{})
		if err := waitForAuditMarker(ctx, r.audit, marker, 30*time.Second); err != nil {
			return err
		}
	}
	c, err := countAuditFiles(r.audit, r.o.ControllerUserAgent, window{setupFrom, updateFrom}, window{updateFrom, end.Add(time.Millisecond)})
	if err != nil {
		return err
	}
	q := &Requests{ByVerb: map[string]int{}, PerRollout: map[string]float64{}, ByVerbResource: c.UpdateByResource, SetupByVerb: map[string]int{}}
	for _, v := range Verbs {
		q.ByVerb[v], q.SetupByVerb[v] = 0, 0
	}
	maps.Copy(q.ByVerb, c.Update)
	maps.Copy(q.SetupByVerb, c.Setup)
	for _, n := range q.ByVerb {
		q.Total += n
	}
	if done := r.res.Update.Completed; done > 0 {
		for v, n := range q.ByVerb {
			q.PerRollout[v] = round2(float64(n) / float64(done))
		}
		q.TotalPerRollout = round2(float64(q.Total) / float64(done))
	}
	q.RateByResource = map[string]Rate{}
	if secs := end.Sub(updateFrom).Seconds(); secs > 0 {
		for res, perSec := range c.PerSecond {
			var total, peak int
			for _, n := range perSec {
				total += n
				peak = max(peak, n)
			}
			q.RateByResource[res] = Rate{Mean: round2(float64(total) / secs), Peak: peak}
		}
	}
	r.res.Controller.Requests = q
	r.res.Cluster.RequestsByClient = c.ByClient
	return nil
}

// countLogErrors counts error-level lines in the child controller's JSON log (whole run) and
// keeps the most frequent error, with object names cut off.
func (r *run) countLogErrors() {
	if r.ctl == nil {
		return
	}
	b, err := os.ReadFile(r.ctl.LogPath)
	if err != nil {
		return
	}
	e := &ErrorSummary{}
	kinds := map[string]int{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.Contains(line, `"level":"error"`) {
			continue
		}
		e.LogErrors++
		var entry struct{ Msg, Error string }
		if json.Unmarshal([]byte(line), &entry) != nil {
			entry.Msg = line
		}
		kinds[errorKind(entry.Msg+": "+entry.Error)]++
	}
	for k, n := range kinds {
		if n > kinds[e.Example] || (n == kinds[e.Example] && k < e.Example) {
			e.Example = k
		}
	}
	r.res.Controller.Errors = e
}

// errorKind shortens an error message to its kind: quoted names become "…" and numbers N.
func errorKind(msg string) string {
	var b strings.Builder
	inQuote := false
	for _, c := range msg {
		switch {
		case c == '"':
			if !inQuote {
				b.WriteString(`"…"`)
			}
			inQuote = !inQuote
		case inQuote:
		case c >= '0' && c <= '9':
			if s := b.String(); !strings.HasSuffix(s, "N") {
				b.WriteByte('N')
			}
		default:
			b.WriteRune(c)
		}
	}
	s := b.String()
	return s[:min(len(s), 240)]
}

// benchRollout is one benchmark Rollout: replicas pods of ImageBefore, the benchmark steps,
// no Services or traffic router.
func benchRollout(key types.NamespacedName, replicas int32, steps []v1alpha1.CanaryStep) *v1alpha1.Rollout {
	labels := map[string]string{"app": key.Name}
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: map[string]string{"app.kubernetes.io/part-of": "sluice-bench"}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: new(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1alpha1.PodTemplateSpec{
				PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: ImageBefore,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: steps}},
		},
	}
}

// parallel runs fn for every key with 32 goroutines and returns how many succeeded and the
// first error.
func parallel(ctx context.Context, keys []types.NamespacedName, fn func(context.Context, types.NamespacedName) error) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan types.NamespacedName)
	var (
		mu    sync.Mutex
		done  int
		first error
		wg    sync.WaitGroup
	)
	for range min(32, len(keys)) {
		wg.Go(func() {
			for key := range work {
				err := fn(ctx, key)
				mu.Lock()
				if err == nil {
					done++
				} else if first == nil {
					first = fmt.Errorf("%s: %w", key, err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return done, first
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b[max(len(b)-n, 0):])
}

func ticks(t uint64) float64 { return round2(float64(t) / userHZ) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func math4(f float64) float64 { return math.Round(f*1e4) / 1e4 }
