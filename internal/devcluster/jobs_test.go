package devcluster_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// runJob creates a Job whose one container runs command, in a fresh namespace.
func runJob(t *testing.T, command []string, mutate func(*batchv1.JobSpec)) (*kubernetes.Clientset, string, time.Time) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(devclustertest.Config(t))
	ns := devclustertest.Namespace(t)
	spec := batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox:1.37", Command: command}},
		}},
	}
	if mutate != nil {
		mutate(&spec)
	}
	start := time.Now()
	_, err := cs.BatchV1().Jobs(ns).Create(t.Context(), &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: spec,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cs, ns, start
}

// waitJob waits for the Job's Complete or Failed condition and returns it.
func waitJob(t *testing.T, cs *kubernetes.Clientset, ns string, timeout time.Duration) batchv1.JobCondition {
	t.Helper()
	var done batchv1.JobCondition
	devclustertest.Eventually(t, timeout, func() string {
		job, err := cs.BatchV1().Jobs(ns).Get(t.Context(), "j", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		for _, c := range job.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				done = c
				return ""
			}
		}
		return fmt.Sprintf("job not finished: %+v", job.Status)
	})
	return done
}

func jobPods(t *testing.T, cs *kubernetes.Clientset, ns string) []corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "job-name=j"})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

func exitCodes(p corev1.Pod) []string {
	var s []string
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Terminated == nil {
			s = append(s, c.Name+"=running")
			continue
		}
		s = append(s, fmt.Sprintf("%s=%d(%s)", c.Name, c.State.Terminated.ExitCode, c.State.Terminated.Reason))
	}
	return s
}

func TestJobExit0Completes(t *testing.T) {
	cs, ns, start := runJob(t, []string{"sh", "-c", "exit 0"}, nil)
	c := waitJob(t, cs, ns, 30*time.Second)
	t.Logf("create -> %s in %s", c.Type, time.Since(start).Round(time.Millisecond))
	if c.Type != batchv1.JobComplete {
		t.Fatalf("job condition %s (%s), want Complete", c.Type, c.Reason)
	}
	pods := jobPods(t, cs, ns)
	if len(pods) != 1 || pods[0].Status.Phase != corev1.PodSucceeded {
		t.Fatalf("want one Succeeded pod, got %d: %v", len(pods), pods)
	}
	if got := strings.Join(exitCodes(pods[0]), ","); got != "main=0(Completed)" {
		t.Fatalf("container statuses %s", got)
	}
	if _, ok := pods[0].Annotations[devcluster.ExitAnnotation]; !ok {
		t.Fatalf("pod has no %s annotation", devcluster.ExitAnnotation)
	}
}

func TestJobExit1FailsWithoutRetries(t *testing.T) {
	cs, ns, start := runJob(t, []string{"/bin/sh", "-c", "exit 1"}, nil)
	c := waitJob(t, cs, ns, 30*time.Second)
	t.Logf("create -> %s in %s", c.Type, time.Since(start).Round(time.Millisecond))
	if c.Type != batchv1.JobFailed || c.Reason != "BackoffLimitExceeded" {
		t.Fatalf("job condition %s (%s), want Failed (BackoffLimitExceeded)", c.Type, c.Reason)
	}
	pods := jobPods(t, cs, ns)
	if len(pods) != 1 || pods[0].Status.Phase != corev1.PodFailed {
		t.Fatalf("want one Failed pod, got %d", len(pods))
	}
	if got := strings.Join(exitCodes(pods[0]), ","); got != "main=1(Error)" {
		t.Fatalf("container statuses %s", got)
	}
}

func TestJobExit1RetriesPerBackoffLimit(t *testing.T) {
	cs, ns, start := runJob(t, []string{"sh", "-c", "exit 1"}, func(s *batchv1.JobSpec) {
		s.BackoffLimit = ptr.To[int32](1)
	})
	// The Job controller waits 10 s (its pod failure back-off) before the second pod.
	c := waitJob(t, cs, ns, 60*time.Second)
	t.Logf("create -> %s in %s", c.Type, time.Since(start).Round(time.Millisecond))
	if c.Type != batchv1.JobFailed || c.Reason != "BackoffLimitExceeded" {
		t.Fatalf("job condition %s (%s), want Failed (BackoffLimitExceeded)", c.Type, c.Reason)
	}
	pods := jobPods(t, cs, ns)
	if len(pods) != 2 {
		t.Fatalf("want 2 pods (1 try + 1 retry), got %d", len(pods))
	}
	for _, p := range pods {
		if p.Status.Phase != corev1.PodFailed {
			t.Fatalf("pod %s is %s, want Failed", p.Name, p.Status.Phase)
		}
	}
}

func TestJobSleepThenExit0RunsThenCompletes(t *testing.T) {
	cs, ns, start := runJob(t, nil, func(s *batchv1.JobSpec) {
		s.Template.Spec.Containers[0].Command = []string{"sh", "-c"}
		s.Template.Spec.Containers[0].Args = []string{"sleep 3 && exit 0"}
	})
	// Running (and Ready) while it sleeps.
	devclustertest.Eventually(t, 20*time.Second, func() string {
		pods := jobPods(t, cs, ns)
		if len(pods) != 1 || pods[0].Status.Phase != corev1.PodRunning || !podReady(&pods[0]) {
			return "job pod not Running and Ready yet"
		}
		return ""
	})
	running := time.Now()
	time.Sleep(time.Second)
	if pods := jobPods(t, cs, ns); pods[0].Status.Phase != corev1.PodRunning {
		t.Fatalf("pod is %s 1 s into sleep 3, want Running", pods[0].Status.Phase)
	}
	c := waitJob(t, cs, ns, 30*time.Second)
	if c.Type != batchv1.JobComplete {
		t.Fatalf("job condition %s (%s), want Complete", c.Type, c.Reason)
	}
	// startTime has whole seconds, so the pod may end up to 1 s early.
	if ran := time.Since(running); ran < 1500*time.Millisecond {
		t.Fatalf("job completed %s after its pod ran, want about 3 s", ran)
	}
	t.Logf("create -> Complete in %s", time.Since(start).Round(time.Millisecond))
	pod := jobPods(t, cs, ns)[0]
	term := pod.Status.ContainerStatuses[0].State.Terminated
	if d := term.FinishedAt.Sub(pod.Status.StartTime.Time); d < 2*time.Second || d > 5*time.Second {
		t.Fatalf("container ran %s from the pod's start, want about 3 s", d)
	}
}

func TestJobDeadlineExceededWhileSleepingForever(t *testing.T) {
	cs, ns, start := runJob(t, []string{"sleep", "infinity"}, func(s *batchv1.JobSpec) {
		s.ActiveDeadlineSeconds = ptr.To[int64](2)
	})
	c := waitJob(t, cs, ns, 30*time.Second)
	t.Logf("create -> %s in %s", c.Type, time.Since(start).Round(time.Millisecond))
	if c.Type != batchv1.JobFailed || c.Reason != "DeadlineExceeded" {
		t.Fatalf("job condition %s (%s), want Failed (DeadlineExceeded)", c.Type, c.Reason)
	}
	// The Job's status.startTime has whole seconds, so its deadline may pass up to 1 s early.
	if d := time.Since(start); d < time.Second {
		t.Fatalf("job failed after %s, before its 2 s deadline", d)
	}
}
