package devcluster_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// kubectlStatus is a pod's line in `kubectl get pods` (READY STATUS RESTARTS), computed as
// kubectl's printer does, plus "deleting" while it has a deletionTimestamp.
func kubectlStatus(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	ready, restarts, hasRunning := 0, int32(0), false
	for _, c := range slices.Backward(p.Status.ContainerStatuses) {
		restarts += c.RestartCount
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			reason = c.State.Waiting.Reason
		case c.State.Terminated != nil && c.State.Terminated.Reason != "":
			reason = c.State.Terminated.Reason
		case c.Ready && c.State.Running != nil:
			hasRunning = true
			ready++
		}
	}
	if reason == "Completed" && hasRunning {
		reason = "Running"
	}
	if p.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	return fmt.Sprintf("%d/%d %s %d", ready, len(p.Spec.Containers), reason, restarts)
}

// podState is one state of a pod as a watch saw it.
type podState struct {
	at     time.Time
	status string // kubectlStatus, or "gone"
	pod    *corev1.Pod
}

// podRecorder records every distinct kubectl status of one pod from the moment it is created.
type podRecorder struct {
	mu     sync.Mutex
	states []podState
}

func (r *podRecorder) all() []podState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]podState(nil), r.states...)
}

func (r *podRecorder) statuses() string {
	var s []string
	for _, st := range r.all() {
		s = append(s, st.status)
	}
	return strings.Join(s, " → ")
}

// first is the first state with the given status (nil if none yet).
func (r *podRecorder) first(status string) *podState {
	for _, st := range r.all() {
		if st.status == status {
			return &st
		}
	}
	return nil
}

// waitFor waits until the pod has shown the status, and returns that state.
func (r *podRecorder) waitFor(t *testing.T, status string, timeout time.Duration) podState {
	t.Helper()
	var st *podState
	eventually(t, timeout, func() string {
		if st = r.first(status); st == nil {
			return fmt.Sprintf("pod never %q; seen: %s", status, r.statuses())
		}
		return ""
	})
	return *st
}

// playPod creates a bare pod (restartPolicy Always) and records its states.
func playPod(t *testing.T, annotations map[string]string, mutate func(*corev1.PodSpec)) (*kubernetes.Clientset, string, *podRecorder, time.Time) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(devclustertest.Config(t))
	ns := devclustertest.Namespace(t)
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}}
	if mutate != nil {
		mutate(&spec)
	}
	w, err := cs.CoreV1().Pods(ns).Watch(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &podRecorder{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			st := podState{at: time.Now(), status: kubectlStatus(pod), pod: pod}
			if ev.Type == watch.Deleted {
				st.status = "gone"
			}
			r.mu.Lock()
			if n := len(r.states); n == 0 || r.states[n-1].status != st.status {
				r.states = append(r.states, st)
			}
			r.mu.Unlock()
		}
	}()
	start := time.Now()
	_, err = cs.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: annotations}, Spec: spec,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cs, ns, r, start
}

func within(t *testing.T, what string, got, want, slack time.Duration) {
	t.Helper()
	t.Logf("%s: %s (want %s)", what, got.Round(time.Millisecond), want)
	if got < want-slack || got > want+slack {
		t.Errorf("%s took %s, want %s ± %s", what, got.Round(time.Millisecond), want, slack)
	}
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// postStart `sleep 3`: Pending (ContainerCreating) for 3 s, then Running and Ready.
func TestPlayPostStartDelaysStartAndReadiness(t *testing.T) {
	t.Parallel()
	_, _, r, _ := playPod(t, nil, func(s *corev1.PodSpec) {
		s.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{
			Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "sleep 3"}}}}
	})
	creating := r.waitFor(t, "0/1 ContainerCreating 0", 30*time.Second)
	if creating.pod.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s while the postStart hook runs, want Pending", creating.pod.Status.Phase)
	}
	ready := r.waitFor(t, "1/1 Running 0", 30*time.Second)
	within(t, "postStart sleep 3: ContainerCreating → Ready", ready.at.Sub(creating.at), 3*time.Second, 500*time.Millisecond)
	if got := r.statuses(); got != "0/1 Pending 0 → 0/1 ContainerCreating 0 → 1/1 Running 0" {
		t.Errorf("states: %s", got)
	}
}

// readinessProbe.initialDelaySeconds 3: Running at once, Ready 3 s later; with a Deployment's
// minReadySeconds 2 the ReplicaSet counts the pod available 2 s after that.
func TestPlayInitialDelayAndMinReadySeconds(t *testing.T) {
	t.Parallel()
	cs := kubernetes.NewForConfigOrDie(devclustertest.Config(t))
	ns := devclustertest.Namespace(t)
	labels := map[string]string{"app": "slow"}
	probe := &corev1.Probe{InitialDelaySeconds: 3, ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}}
	start := time.Now()
	_, err := cs.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "slow"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1), MinReadySeconds: 2,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "example/app:1", ReadinessProbe: probe}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var running, ready, available time.Time
	eventually(t, 60*time.Second, func() string {
		pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=slow"})
		if err != nil {
			return err.Error()
		}
		dep, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "slow", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if len(pods.Items) != 1 {
			return "no pod yet"
		}
		p := &pods.Items[0]
		now := time.Now()
		switch s := kubectlStatus(p); {
		case s == "0/1 Running 0" && running.IsZero():
			running = now
		case s == "1/1 Running 0" && ready.IsZero():
			if running.IsZero() {
				t.Fatalf("pod Ready without a not-ready Running state first")
			}
			ready = now
			if dep.Status.AvailableReplicas != 0 {
				t.Fatalf("pod available as soon as Ready despite minReadySeconds 2")
			}
		}
		if dep.Status.AvailableReplicas == 1 {
			available = now
			return ""
		}
		return fmt.Sprintf("pod %s, deployment available %d", kubectlStatus(p), dep.Status.AvailableReplicas)
	})
	if ready.IsZero() {
		t.Fatal("the pod was never seen Ready before available")
	}
	t.Logf("create → Running %s", running.Sub(start).Round(time.Millisecond))
	within(t, "initialDelaySeconds 3: Running → Ready", ready.Sub(running), 3*time.Second, 600*time.Millisecond)
	// Ready's lastTransitionTime has whole seconds, so available may come up to 1 s early.
	within(t, "minReadySeconds 2: Ready → available", available.Sub(ready), 1500*time.Millisecond, time.Second)
}

// preStop `sleep 4`: the deleted pod stays listed with a deletionTimestamp, Running and not
// Ready, for 4 s; a grace period of 2 s cuts it to 2 s; no preStop: gone at once.
func TestPlayPreStopKeepsTerminatingPod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		grace int64
		hook  *corev1.LifecycleHandler
		want  time.Duration
	}{
		{"preStop exec sleep 4", 30, &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sleep", "4"}}}, 4 * time.Second},
		{"preStop sleep action 3", 30, &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3}}, 3 * time.Second},
		{"preStop sleep 10, grace 2", 2, &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "sleep 10"}}}, 2 * time.Second},
		{"no preStop", 30, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cs, ns, r, _ := playPod(t, nil, func(s *corev1.PodSpec) {
				s.TerminationGracePeriodSeconds = &tc.grace
				if tc.hook != nil {
					s.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: tc.hook}
				}
			})
			r.waitFor(t, "1/1 Running 0", 30*time.Second)
			deleted := time.Now()
			if err := cs.CoreV1().Pods(ns).Delete(t.Context(), "p", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			gone := r.waitFor(t, "gone", 30*time.Second)
			if tc.want == 0 {
				within(t, "no preStop: delete → gone", gone.at.Sub(deleted), 0, 500*time.Millisecond)
				return
			}
			term := r.waitFor(t, "0/1 Terminating 0", time.Second)
			p := term.pod
			if p.DeletionTimestamp == nil || p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodReady) != corev1.ConditionFalse ||
				p.Status.ContainerStatuses[0].State.Running == nil {
				t.Errorf("while preStop runs: deletionTimestamp %v, phase %s, Ready %s, state %+v", p.DeletionTimestamp,
					p.Status.Phase, condition(p, corev1.PodReady), p.Status.ContainerStatuses[0].State)
			}
			within(t, tc.name+": delete → gone", gone.at.Sub(deleted), tc.want, 600*time.Millisecond)
			if got := r.statuses(); !strings.HasSuffix(got, "1/1 Running 0 → 1/1 Terminating 0 → 0/1 Terminating 0 → gone") {
				t.Errorf("states: %s", got)
			}
		})
	}
}

// A command that exits under restartPolicy Always crash-loops: Running (Ready, no probe) while
// it sleeps, then CrashLoopBackOff with restartCount growing and back-offs of 1, 2, 4 s.
func TestPlayCommandThatExitsCrashLoops(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script string
		code   int32
		reason string
	}{
		{"sleep 2 && exit 1", "sleep 2 && exit 1", 1, "Error"},
		{"sleep 2; exit 0 restarts too", "sleep 2; exit 0", 0, "Completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, r, _ := playPod(t, nil, func(s *corev1.PodSpec) {
				s.Containers[0].Command = []string{"sh", "-c", tc.script}
			})
			r.waitFor(t, "0/1 CrashLoopBackOff 3", 60*time.Second)
			want := "0/1 Pending 0 → 1/1 Running 0 → 0/1 CrashLoopBackOff 1 → 1/1 Running 1 → 0/1 CrashLoopBackOff 2 → 1/1 Running 2 → 0/1 CrashLoopBackOff 3"
			if got := r.statuses(); got != want {
				t.Fatalf("states:\n got %s\nwant %s", got, want)
			}
			s := r.all()
			// Runs of 2 s, back-offs of 1 s, 2 s (then 4 s).
			within(t, "first run", s[2].at.Sub(s[1].at), 2*time.Second, 500*time.Millisecond)
			within(t, "first back-off", s[3].at.Sub(s[2].at), time.Second, 500*time.Millisecond)
			within(t, "second run", s[4].at.Sub(s[3].at), 2*time.Second, 500*time.Millisecond)
			within(t, "second back-off", s[5].at.Sub(s[4].at), 2*time.Second, 500*time.Millisecond)
			c := s[6].pod.Status.ContainerStatuses[0]
			if c.LastTerminationState.Terminated == nil || c.LastTerminationState.Terminated.ExitCode != tc.code ||
				c.LastTerminationState.Terminated.Reason != tc.reason || s[6].pod.Status.Phase != corev1.PodRunning {
				t.Errorf("in back-off: phase %s, last state %+v; want terminated %d (%s)", s[6].pod.Status.Phase,
					c.LastTerminationState, tc.code, tc.reason)
			}
		})
	}
}

// devcluster.sluice.dev/crash "after=2s": Ready for 2 s, then every restart exits at once:
// never Ready again, restartCount grows. "" crashes from the start.
func TestPlayCrashAnnotation(t *testing.T) {
	t.Parallel()
	t.Run("after=2s", func(t *testing.T) {
		t.Parallel()
		_, _, r, _ := playPod(t, map[string]string{devcluster.CrashAnnotation: "after=2s,exit=137"}, nil)
		r.waitFor(t, "0/1 CrashLoopBackOff 3", 60*time.Second)
		want := "0/1 Pending 0 → 1/1 Running 0 → 0/1 CrashLoopBackOff 1 → 0/1 CrashLoopBackOff 2 → 0/1 CrashLoopBackOff 3"
		if got := r.statuses(); got != want {
			t.Fatalf("states:\n got %s\nwant %s", got, want)
		}
		s := r.all()
		within(t, "crash after=2s: Ready → crash", s[2].at.Sub(s[1].at), 2*time.Second, 500*time.Millisecond)
		within(t, "back-off 1 (1 s)", s[3].at.Sub(s[2].at), time.Second, 500*time.Millisecond)
		within(t, "back-off 2 (2 s)", s[4].at.Sub(s[3].at), 2*time.Second, 500*time.Millisecond)
		if term := s[4].pod.Status.ContainerStatuses[0].LastTerminationState.Terminated; term == nil || term.ExitCode != 137 {
			t.Errorf("last state %+v, want exit code 137", term)
		}
	})
	t.Run("at once", func(t *testing.T) {
		t.Parallel()
		_, _, r, _ := playPod(t, map[string]string{devcluster.CrashAnnotation: ""}, nil)
		r.waitFor(t, "0/1 CrashLoopBackOff 2", 60*time.Second)
		if got := r.statuses(); got != "0/1 Pending 0 → 0/1 CrashLoopBackOff 1 → 0/1 CrashLoopBackOff 2" {
			t.Fatalf("states: %s", got)
		}
	})
}

// devcluster.sluice.dev/image-pull "fail": ErrImagePull, then ImagePullBackOff, never Running.
func TestPlayImagePullFails(t *testing.T) {
	t.Parallel()
	_, _, r, _ := playPod(t, map[string]string{devcluster.ImagePullAnnotation: "fail"}, nil)
	r.waitFor(t, "0/1 ImagePullBackOff 0", 30*time.Second)
	time.Sleep(3 * time.Second) // the second pull (after 1 s of ErrImagePull and 1 s of back-off)
	want := "0/1 Pending 0 → 0/1 ErrImagePull 0 → 0/1 ImagePullBackOff 0 → 0/1 ErrImagePull 0 → 0/1 ImagePullBackOff 0"
	if got := r.statuses(); got != want {
		t.Fatalf("states:\n got %s\nwant %s", got, want)
	}
	for _, s := range r.all() {
		if s.pod.Status.Phase != corev1.PodPending {
			t.Fatalf("phase %s in %q, want Pending throughout", s.pod.Status.Phase, s.status)
		}
	}
}

// devcluster.sluice.dev/ready "never": Running, never Ready; "flip-after=3s": Ready, then not.
func TestPlayReadyAnnotation(t *testing.T) {
	t.Parallel()
	t.Run("never", func(t *testing.T) {
		t.Parallel()
		_, _, r, _ := playPod(t, map[string]string{devcluster.ReadyAnnotation: "never"}, nil)
		r.waitFor(t, "0/1 Running 0", 30*time.Second)
		time.Sleep(3 * time.Second)
		if got := r.statuses(); got != "0/1 Pending 0 → 0/1 Running 0" {
			t.Fatalf("states: %s", got)
		}
		if p := r.all()[1].pod; condition(p, corev1.PodReady) != corev1.ConditionFalse || condition(p, corev1.ContainersReady) != corev1.ConditionFalse {
			t.Errorf("conditions %+v", p.Status.Conditions)
		}
	})
	t.Run("flip-after=3s", func(t *testing.T) {
		t.Parallel()
		_, _, r, _ := playPod(t, map[string]string{devcluster.ReadyAnnotation: "flip-after=3s"}, nil)
		ready := r.waitFor(t, "1/1 Running 0", 30*time.Second)
		flipped := r.waitFor(t, "0/1 Running 0", 30*time.Second)
		// Counted from the pod's start, a few ms before it was seen Ready.
		within(t, "flip-after=3s: Ready → not Ready", flipped.at.Sub(ready.at), 3*time.Second, 500*time.Millisecond)
		time.Sleep(2 * time.Second)
		if got := r.statuses(); got != "0/1 Pending 0 → 1/1 Running 0 → 0/1 Running 0" {
			t.Fatalf("states: %s", got)
		}
	})
}

// An application's own command, sleep infinity and readinessProbe without a delay run Ready
// at once, played by kwok as before (the planner only says "none").
func TestPlayApplicationRunsReady(t *testing.T) {
	t.Parallel()
	_, _, r, start := playPod(t, nil, func(s *corev1.PodSpec) {
		s.Containers[0].Command = []string{"/app/server", "--port=8080"}
		s.Containers = append(s.Containers, corev1.Container{Name: "sidecar", Image: "busybox", Command: []string{"sleep", "infinity"},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}})
	})
	ready := r.waitFor(t, "2/2 Running 0", 30*time.Second)
	t.Logf("create → Ready %s", ready.at.Sub(start).Round(time.Millisecond))
	if got := ready.pod.Annotations[devcluster.PlayAnnotation]; got != "none" {
		t.Errorf("%s = %q, want none", devcluster.PlayAnnotation, got)
	}
}
