package install_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/yamldocs"
)

// runControllerEnv makes the test binary, started again as a child process, run the sluice
// command line with its arguments instead of the tests.
const runControllerEnv = "SLUICE_INSTALL_TEST_RUN_CONTROLLER"

func TestMain(m *testing.M) {
	if os.Getenv(runControllerEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	ctrl.SetLogger(logr.Discard())
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

// manifest reads a file under dist/.
func manifest(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile("../../dist/" + name)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := yamldocs.Decode(b)
	if err != nil {
		t.Fatalf("dist/%s: %v", name, err)
	}
	return objs
}

// applyAll applies every object server-side, in the file's order, as `kubectl apply
// --server-side [-n namespace]` does: namespace goes to namespaced objects that name none.
func applyAll(ctx context.Context, t *testing.T, c client.Client, objs []*unstructured.Unstructured, namespace string) {
	t.Helper()
	for _, o := range objs {
		o = o.DeepCopy()
		namespaced, err := c.IsObjectNamespaced(o)
		if err != nil {
			t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if namespaced && o.GetNamespace() == "" {
			if namespace == "" {
				t.Fatalf("%s %s names no namespace", o.GetKind(), o.GetName())
			}
			o.SetNamespace(namespace)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("kubectl")); err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// find returns the one object of the kind, converted to T.
func find[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) *T {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s in the manifest, got %d", kind, len(found))
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found[0].Object, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// serviceAccountConfig requests a token for the ServiceAccount (TokenRequest, as the kubelet
// does for a pod) and returns a client configuration that carries only that token, and the
// same as a kubeconfig file.
func serviceAccountConfig(t *testing.T, admin *rest.Config, ns, name string) (*rest.Config, string) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(admin)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for ServiceAccount %s/%s: %v", ns, name, err)
	}
	cfg := &rest.Config{
		Host:            admin.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData},
		BearerToken:     tr.Status.Token,
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	kc.CurrentContext = name
	path := t.TempDir() + "/kubeconfig"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// podRun is how the Deployment's container runs: its args with $(VAR) references expanded,
// its environment, and the local addresses the probes and the metrics endpoint got.
type podRun struct {
	args         []string
	env          map[string]string
	health       string // host:port of the health probes
	metrics      string // host:port of the metrics endpoint
	liveness     string // probe paths
	readiness    string
	container    corev1.Container
	serviceAcct  string
	podNamespace string
}

var rbacRefusal = regexp.MustCompile(`is forbidden: User \S+ cannot `)

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// podRunOf reads the Deployment's only container as the kubelet would run it in namespace ns.
// The health and metrics bind addresses must be the container's ports named health and
// metrics; they are moved to free local ports (other tests run on this machine).
func podRunOf(t *testing.T, d *appsv1.Deployment, ns string) podRun {
	t.Helper()
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("Deployment %s: want one container, got %d", d.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != "controller" {
		t.Fatalf("container %s: want the image's entrypoint with args [controller ...], got command %q args %q", c.Name, c.Command, c.Args)
	}
	r := podRun{env: map[string]string{}, container: c, serviceAcct: spec.ServiceAccountName, podNamespace: ns}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			r.env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			r.env[e.Name] = ns
		default:
			t.Fatalf("container %s: env %s: only values and the pod's namespace are supported here", c.Name, e.Name)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, a := range c.Args {
		a = varRef.ReplaceAllStringFunc(a, func(ref string) string {
			v, ok := r.env[varRef.FindStringSubmatch(ref)[1]]
			if !ok {
				t.Fatalf("container %s: arg %q refers to an undefined variable", c.Name, a)
			}
			return v
		})
		for flag, port := range map[string]string{"--health-probe-bind-address": "health", "--metrics-bind-address": "metrics"} {
			v, ok := strings.CutPrefix(a, flag+"=")
			if !ok {
				continue
			}
			if want := fmt.Sprintf(":%d", ports[port]); ports[port] == 0 || v != want {
				t.Fatalf("container %s: %s=%s, but its port named %s is %d", c.Name, flag, v, port, ports[port])
			}
			addr := freeAddr(t)
			if port == "health" {
				r.health = addr
			} else {
				r.metrics = addr
			}
			a = flag + "=" + addr
		}
		r.args = append(r.args, a)
	}
	if r.health == "" || r.metrics == "" {
		t.Fatalf("container %s: args %q set no health or metrics address", c.Name, c.Args)
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  *string
	}{{c.LivenessProbe, &r.liveness}, {c.ReadinessProbe, &r.readiness}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Port.String() != "health" {
			t.Fatalf("container %s: want liveness and readiness HTTP probes on the port named health", c.Name)
		}
		*p.path = p.probe.HTTPGet.Path
	}
	return r
}

func freeAddr(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects a child process's output.
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

// startController runs `sluice controller` with the pod's args and environment in a child
// process whose only credentials are the kubeconfig ($KUBECONFIG; "" sets none): no in-cluster
// variables, no home directory kubeconfig. It is stopped with SIGTERM when the test ends, and
// its log is shown when the test failed; stop stops it earlier.
func startController(t *testing.T, r podRun, kubeconfig string) (logs *syncBuffer, stop func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, r.args...) //nolint:noctx // stopped with SIGTERM below, not killed
	cmd.Env = []string{runControllerEnv + "=1", "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}
	if kubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	}
	for k, v := range r.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	stop = func() { once.Do(func() { stopController(t, cmd, done) }) }
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("controller log (sluice %s):\n%s", strings.Join(r.args, " "), tail(logs.String(), 150))
		}
	})
	return logs, stop
}

// stopController sends SIGTERM and expects a clean exit within 30 s.
func stopController(t *testing.T, cmd *exec.Cmd, done <-chan error) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the controller did not stop cleanly on SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Errorf("the controller did not stop within 30s of SIGTERM (killed: %v)", <-done)
	}
}

// noForbidden fails the test for each request RBAC refused the controller, as its log shows
// them ("... is forbidden: User ... cannot <verb> resource ..."). A refusal it expects and
// handles (a cluster-wide list of Leases in a namespaced install, logged by argo-lease) does
// not count.
func noForbidden(t *testing.T, logs *syncBuffer) {
	t.Helper()
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if rbacRefusal.MatchString(line) && !strings.Contains(line, `"logger":"argo-lease"`) {
			t.Errorf("the controller was refused a request: %s", line)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// httpOK waits until GET http://addr/path answers 200.
func httpOK(t *testing.T, addr, path string, timeout time.Duration) string {
	t.Helper()
	var body string
	devclustertest.Eventually(t, timeout, func() string {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		status, b, err := get(ctx, "http://"+addr+path)
		if err != nil || status != 200 {
			return fmt.Sprintf("GET %s: %d %v", path, status, err)
		}
		body = b
		return ""
	})
	return body
}

const rolloutYAML = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {duration: 1s}
`

// rolloutThroughUpdate creates a Deployment-less Rollout in ns, waits until it is Healthy,
// changes its image and waits until the new version is the stable one, Healthy.
func rolloutThroughUpdate(t *testing.T, c client.Client, ns string) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict([]byte(rolloutYAML), ro); err != nil {
		t.Fatal(err)
	}
	ro.Namespace = ns
	if err := c.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	first := waitHealthy(t, c, ns, ro.Name, "")
	patch := client.MergeFrom(first.DeepCopy())
	first.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	if err := c.Patch(t.Context(), first, patch); err != nil {
		t.Fatal(err)
	}
	return waitHealthy(t, c, ns, ro.Name, first.Status.StableRS)
}

// waitHealthy waits until the Rollout is Healthy on a stable version other than notStable.
func waitHealthy(t *testing.T, c client.Client, ns, name, notStable string) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	devclustertest.Eventually(t, 90*time.Second, func() string {
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
			return err.Error()
		}
		st := ro.Status
		if st.ObservedGeneration != fmt.Sprint(ro.Generation) || st.Phase != v1alpha1.RolloutPhaseHealthy || st.StableRS == "" ||
			st.StableRS != st.CurrentPodHash || st.StableRS == notStable || st.AvailableReplicas != ptr.Deref(ro.Spec.Replicas, 1) {
			return fmt.Sprintf("rollout %s/%s: phase %q %q, stable %q current %q (previous %q), available %d",
				ns, name, st.Phase, st.Message, st.StableRS, st.CurrentPodHash, notStable, st.AvailableReplicas)
		}
		return ""
	})
	return ro
}

func adminClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(devclustertest.Config(t), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
