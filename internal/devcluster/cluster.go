package devcluster

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

//go:embed stages.yaml
var stagesYAML string

// stagesRunningBlock is the status every running pod gets: container statuses, host and pod
// IPs (kwok hands out a unique pod IP per pod from --cidr), phase and start time.
const stagesRunningBlock = `containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        started: true
        restartCount: 0
        state: {running: {startedAt: {{ Now | Quote }}}}
      {{ end }}
      {{ with NodeIPsWith .spec.nodeName }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ with PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ Now | Quote }}`

// NodeAnnotation marks the Nodes kwok manages.
const NodeAnnotation = "kwok.x-k8s.io/node"

// Options configure a local cluster. The zero value is a usable small cluster.
type Options struct {
	// RunDir holds etcd's data, the certificates, the kubeconfig and one log per component.
	// Empty: a new temporary directory, removed by Stop unless KeepRunDir is set.
	RunDir string
	// KeepRunDir keeps RunDir (logs!) after Stop.
	KeepRunDir bool
	// Nodes is the number of fake nodes (default 3), each with PodsPerNode pods of capacity
	// (default 250).
	Nodes       int
	PodsPerNode int
	// HighThroughput raises the API rate limits of the controller-manager and the scheduler and
	// the API server's in-flight limits, for benchmarks (defaults cap pod creation at ~20-50 req/s).
	HighThroughput bool
	// AuditLog writes RunDir/audit.log (JSON, Metadata level): every request with its userAgent.
	AuditLog bool
	// CRDs are installed once the cluster is ready.
	CRDs []CRDSet
	// Progress receives human-readable progress lines (binary builds, start-up). May be nil.
	Progress io.Writer
}

// Cluster is a running local cluster.
type Cluster struct {
	opts       Options
	runDir     string
	tempRunDir bool
	binDir     string
	kubeconfig string
	config     *rest.Config
	procs      []*process // start order
	planner    *podPlanner
	stopOnce   sync.Once
	stopErr    error
	// Timings of the last start, for reports.
	Timings StartTimings
}

// StartTimings break a start down, for humans and benchmarks.
type StartTimings struct {
	Binaries, APIServer, Ready, CRDs time.Duration
}

// Start builds missing binaries, starts every component, waits until nodes are Ready and the
// default service account exists, installs the requested CRDs, and returns. On error everything
// started so far is stopped. ctx bounds the start, not the life of the cluster: use Stop.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.PodsPerNode <= 0 {
		opts.PodsPerNode = 250
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	t0 := time.Now()
	binDir, err := EnsureBinaries(ctx, progress)
	if err != nil {
		return nil, err
	}
	c = &Cluster{opts: opts, binDir: binDir, runDir: opts.RunDir}
	c.Timings.Binaries = time.Since(t0)
	if c.runDir == "" {
		c.runDir, err = os.MkdirTemp("", "sluice-dev-")
		if err != nil {
			return nil, err
		}
		c.tempRunDir = true
	} else if err := os.MkdirAll(c.runDir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (logs in %s)", err, c.runDir)
			c.opts.KeepRunDir = true
			_ = c.Stop()
		}
	}()
	if err := c.start(ctx, progress); err != nil {
		return c, err
	}
	if len(opts.CRDs) > 0 {
		t := time.Now()
		if err := c.InstallCRDs(ctx, opts.CRDs...); err != nil {
			return c, err
		}
		c.Timings.CRDs = time.Since(t)
	}
	c.Timings.Ready = time.Since(t0)
	return c, nil
}

func (c *Cluster) start(ctx context.Context, progress io.Writer) error {
	t0 := time.Now()
	ports, err := freePorts(ctx, 3)
	if err != nil {
		return err
	}
	etcdPort, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	p, err := writePKI(c.runDir)
	if err != nil {
		return fmt.Errorf("writing certificates: %w", err)
	}
	bin := func(n string) string { return filepath.Join(c.binDir, n) }
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)

	_, _ = fmt.Fprintf(progress, "sluice: starting the local cluster in %s\n", c.runDir)
	etcd, err := startProcess(c.runDir, "etcd", bin(BinEtcd),
		"--name=default", "--data-dir="+filepath.Join(c.runDir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync=true", "--quota-backend-bytes=8589934592", "--log-level=warn")
	if err != nil {
		return err
	}
	c.procs = append(c.procs, etcd)

	apiArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		// No real network: the kubernetes Service gets no endpoints rather than a loopback one.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(c.runDir, "certs"),
		"--tls-cert-file=" + p.servingCert, "--tls-private-key-file=" + p.servingKey,
		"--client-ca-file=" + p.caCert,
		"--token-auth-file=" + p.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		// With the node-lifecycle controller off nothing would lift the not-ready taint this
		// plugin puts on every new Node; kwok reports node readiness instead.
		"--disable-admission-plugins=TaintNodesByCondition",
		"--profiling=false",
		"--event-ttl=1h",
	}
	if c.opts.HighThroughput {
		apiArgs = append(apiArgs, "--max-requests-inflight=2000", "--max-mutating-requests-inflight=1000")
	}
	if c.opts.AuditLog {
		policy := filepath.Join(c.runDir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
			return err
		}
		apiArgs = append(apiArgs, "--audit-policy-file="+policy,
			"--audit-log-path="+c.AuditLogPath(), "--audit-log-format=json",
			"--audit-log-mode=batch", "--audit-log-maxbackup=0")
	}
	api, err := startProcess(c.runDir, "kube-apiserver", bin(BinAPIServer), apiArgs...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)

	c.config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(apiPort),
		BearerToken:     p.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM},
		QPS:             500,
		Burst:           1000,
	}
	c.kubeconfig = filepath.Join(c.runDir, "kubeconfig")
	if err := writeKubeconfig(c.kubeconfig, c.config); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitFor(readyCtx, "kube-apiserver /readyz", c.procs, func(ctx context.Context) bool {
		return cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error() == nil
	}); err != nil {
		return err
	}
	c.Timings.APIServer = time.Since(t0)

	qps, burst, syncs := "50", "100", "5"
	if c.opts.HighThroughput {
		qps, burst, syncs = "1000", "2000", "50"
	}
	kcm, err := startProcess(c.runDir, "kube-controller-manager", bin(BinControllerManager),
		"--kubeconfig="+c.kubeconfig,
		"--service-account-private-key-file="+p.saKey,
		"--root-ca-file="+p.caCert,
		"--controllers=*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder",
		"--leader-elect=false", "--secure-port=0",
		"--kube-api-qps="+qps, "--kube-api-burst="+burst,
		"--concurrent-replicaset-syncs="+syncs, "--concurrent-deployment-syncs="+syncs,
		"--concurrent-service-endpoint-syncs="+syncs, "--concurrent-gc-syncs="+syncs)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kcm)

	schedCfg := filepath.Join(c.runDir, "scheduler.yaml")
	if err := os.WriteFile(schedCfg, []byte(fmt.Sprintf(schedulerConfig, c.kubeconfig, qps, burst)), 0o644); err != nil {
		return err
	}
	sched, err := startProcess(c.runDir, "kube-scheduler", bin(BinScheduler),
		"--config="+schedCfg, "--secure-port=0")
	if err != nil {
		return err
	}
	c.procs = append(c.procs, sched)

	kwokCfg := filepath.Join(c.runDir, "kwok.yaml")
	stages := strings.ReplaceAll(stagesYAML, "{{/* sluice:running */}}", stagesRunningBlock)
	if err := os.WriteFile(kwokCfg, []byte(stages), 0o644); err != nil {
		return err
	}
	kwok, err := startProcess(c.runDir, "kwok", bin(BinKwok),
		"--kubeconfig="+c.kubeconfig, "--config="+kwokCfg,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+NodeAnnotation+"=fake",
		"--cidr=10.244.0.0/16", "--node-ip=10.240.0.1", "--server-address=")
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kwok)
	if c.planner, err = startPodPlanner(c.config); err != nil {
		return err
	}

	for i := range c.opts.Nodes {
		if err := createNode(ctx, cs, fmt.Sprintf("kwok-node-%d", i), c.opts.PodsPerNode); err != nil {
			return err
		}
	}
	if err := waitFor(readyCtx, "fake nodes to become Ready", c.procs, func(ctx context.Context) bool {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready >= c.opts.Nodes
	}); err != nil {
		return err
	}
	if err := waitFor(readyCtx, "the default service account", c.procs, func(ctx context.Context) bool {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(progress, "sluice: local cluster ready in %s (%d nodes)\n",
		time.Since(t0).Round(10*time.Millisecond), c.opts.Nodes)
	return nil
}

func createNode(ctx context.Context, cs kubernetes.Interface, name string, pods int) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{NodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
				"kubernetes.io/arch": "amd64", "type": "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating node %s: %w", name, err)
	}
	return nil
}

// RESTConfig returns a copy of the admin client configuration (token auth, group
// system:masters, QPS 500).
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Kubeconfig is the path of the admin kubeconfig file.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RunDir is where data, logs and the kubeconfig live.
func (c *Cluster) RunDir() string { return c.runDir }

// AuditLogPath is where the audit log goes when Options.AuditLog is set.
func (c *Cluster) AuditLogPath() string { return filepath.Join(c.runDir, "audit.log") }

// PIDs maps each component's name to its process ID.
func (c *Cluster) PIDs() map[string]int {
	m := make(map[string]int, len(c.procs))
	for _, p := range c.procs {
		m[p.name] = p.Pid()
	}
	return m
}

// Err reports a component that exited while the cluster should be running.
func (c *Cluster) Err() error {
	for _, p := range c.procs {
		if p.exited() {
			return p.failure()
		}
	}
	return nil
}

// Stop ends the pod planner and every component, newest first (kwok … etcd), and removes a
// temporary RunDir.
// It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if c.planner != nil {
			c.planner.stop()
		}
		for _, p := range slices.Backward(c.procs) {
			if err := p.stop(15 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if c.tempRunDir && !c.opts.KeepRunDir {
			errs = append(errs, os.RemoveAll(c.runDir))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["sluice-dev"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["sluice-admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["sluice-dev"] = &clientcmdapi.Context{Cluster: "sluice-dev", AuthInfo: "sluice-admin", Namespace: "default"}
	kc.CurrentContext = "sluice-dev"
	return clientcmd.WriteToFile(*kc, path)
}

func freePorts(ctx context.Context, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

const schedulerConfig = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: %s
  burst: %s
leaderElection:
  leaderElect: false
`

// auditPolicy records every request at Metadata level (verb, resource, user, userAgent),
// events and leases included: that is what the benchmarks count.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`
