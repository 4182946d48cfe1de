package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/devcluster"
)

func newDemoCommand() *cobra.Command {
	var o devOptions
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start the local cluster, run the demo on it, print what happened, and clean up",
		Long: `demo is what 'make demo' runs. It starts the local cluster, deploys a 3-replica
Deployment behind a Service (its pods Running, Ready and in the Service's EndpointSlice), runs
the sluice controller in-process, and rolls out the question's Rollout (3 replicas, setWeight 20,
pause, setWeight 100) next to its NGINX-routed twin: 1 canary pod of 4 is 25 % of requests
without a router, while NGINX sends exactly 20 %. On a terminal both are shown live; elsewhere
as a timeline. Then it stops the cluster again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := o.options(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return runDemo(ctx, opts, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	o.addFlags(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 20*time.Minute, "give up after this long (includes a first-time binary build)")
	return cmd
}

// timeline prints timestamped lines; while held (a live view owns the terminal) it keeps them
// and prints them on release.
type timeline struct {
	start time.Time
	out   io.Writer
	mu    sync.Mutex
	held  *strings.Builder
}

func (t *timeline) write(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held != nil {
		t.held.WriteString(s)
		return
	}
	_, _ = io.WriteString(t.out, s)
}

func (t *timeline) mark(format string, args ...any) {
	t.write(fmt.Sprintf("[%6.2fs] %s\n", time.Since(t.start).Seconds(), fmt.Sprintf(format, args...)))
}

// block prints a multi-line text (a tree) indented under the timeline.
func (t *timeline) block(text string) {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString("          " + line + "\n")
	}
	t.write(b.String())
}

func (t *timeline) hold() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.held = &strings.Builder{}
}

func (t *timeline) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held != nil {
		_, _ = io.WriteString(t.out, "\ntimeline:\n"+t.held.String())
		t.held = nil
	}
}

func runDemo(ctx context.Context, opts devcluster.Options, in io.Reader, out io.Writer) error {
	tl := &timeline{start: time.Now(), out: out}
	c, err := devcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		_ = c.Stop()
		tl.mark("local cluster stopped")
	}()
	tl.mark("local cluster ready (kubeconfig %s)", c.Kubeconfig())
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	if err := demoDeployment(ctx, cs, tl); err != nil {
		return err
	}

	discardLogs()
	cfg := c.RESTConfig()
	cfg.UserAgent = "sluice-controller"
	mgr, err := controller.NewManager(cfg, controller.Options{})
	if err != nil {
		return err
	}
	mctx, cancel := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mctx) }()
	defer func() {
		cancel()
		if err := <-mgrDone; err != nil {
			tl.mark("controller stopped with an error: %v", err)
		}
	}()
	tl.mark("sluice controller running in-process")
	k, err := client.New(c.RESTConfig(), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		return err
	}
	return demoRollouts(ctx, k, tl, in, out)
}

// demoDeployment shows the cluster itself works: a Deployment's pods Running, Ready and in
// the Service's EndpointSlice.
func demoDeployment(ctx context.Context, cs kubernetes.Interface, tl *timeline) error {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	tl.mark("%d kwok nodes Ready, %s pods of capacity each", len(nodes.Items), nodes.Items[0].Status.Capacity.Pods())
	const ns, name = "default", "demo"
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: name, Image: "argoproj/rollouts-demo:blue",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the demo Deployment: %w", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the demo Service: %w", err)
	}
	tl.mark("created Deployment %s/%s (3 replicas) and Service %s", ns, name, name)

	var ready []corev1.Pod
	var endpoints []string
	for {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return err
		}
		ready = ready[:0]
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && podReady(&p) {
				ready = append(ready, p)
			}
		}
		endpoints, err = readyEndpoints(ctx, cs, ns, name)
		if err != nil {
			return err
		}
		if len(ready) == 3 && len(endpoints) == 3 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for 3 ready pods in the Service's EndpointSlice (have %d pods, %d endpoints): %w",
				len(ready), len(endpoints), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	slices.SortFunc(ready, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range ready {
		tl.mark("pod %s Running+Ready on %s, IP %s", p.Name, p.Spec.NodeName, p.Status.PodIP)
	}
	tl.mark("Service %s EndpointSlice lists %d ready endpoints: %s", name, len(endpoints), strings.Join(endpoints, ", "))
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func readyEndpoints(ctx context.Context, cs kubernetes.Interface, ns, svc string) ([]string, error) {
	list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc,
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				out = append(out, ep.Addresses...)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
