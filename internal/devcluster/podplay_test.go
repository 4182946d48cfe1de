package devcluster

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlanPlay(t *testing.T) {
	pod := func(ann map[string]string, c corev1.Container) *corev1.Pod {
		c.Name = "app"
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: ann}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
	}
	sleep := func(n string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "sleep " + n}}}
	}
	for name, tc := range map[string]struct {
		pod      *corev1.Pod
		decision bool
		want     string // "" = none
	}{
		"plain":                {pod: pod(nil, corev1.Container{}), want: ""},
		"application command":  {pod: pod(nil, corev1.Container{Command: []string{"/app/server"}}), decision: true},
		"sleep infinity":       {pod: pod(nil, corev1.Container{Command: []string{"sleep", "infinity"}}), decision: true},
		"probe without delay":  {pod: pod(nil, corev1.Container{ReadinessProbe: &corev1.Probe{}}), want: ""},
		"other annotation":     {pod: pod(map[string]string{"example.com/x": "y"}, corev1.Container{}), want: ""},
		"exit 1":               {pod: pod(nil, corev1.Container{Command: []string{"sh", "-c", "sleep 2 && exit 1"}}), decision: true, want: `{"containers":[{"name":"app","runSeconds":2,"exitCode":1}]}`},
		"crash after":          {pod: pod(map[string]string{CrashAnnotation: "after=10s,exit=137"}, corev1.Container{}), decision: true, want: `{"containers":[{"name":"app","runSeconds":10,"restartRunSeconds":0,"exitCode":137}]}`},
		"crash bad":            {pod: pod(map[string]string{CrashAnnotation: "soon"}, corev1.Container{}), decision: true, want: `{"containers":[{"name":"app"}],"errors":["devcluster.sluice.dev/crash: \"soon\" (want after=DURATION, exit=N)"]}`},
		"image pull":           {pod: pod(map[string]string{ImagePullAnnotation: "fail"}, corev1.Container{}), decision: true, want: `{"containers":[{"name":"app","imagePull":"fail"}]}`},
		"ready never":          {pod: pod(map[string]string{ReadyAnnotation: "never"}, corev1.Container{}), decision: true, want: `{"containers":[{"name":"app","neverReady":true}]}`},
		"flip":                 {pod: pod(map[string]string{ReadyAnnotation: "flip-after=20s"}, corev1.Container{}), decision: true, want: `{"containers":[{"name":"app"}],"notReadyAfterSeconds":20}`},
		"hooks and probe":      {pod: pod(nil, corev1.Container{Lifecycle: &corev1.Lifecycle{PostStart: sleep("3"), PreStop: sleep("40")}, ReadinessProbe: &corev1.Probe{InitialDelaySeconds: 5}}), decision: true, want: `{"containers":[{"name":"app","postStartSeconds":3,"readySeconds":5}],"preStopSeconds":30}`},
		"preStop httpGet only": {pod: pod(nil, corev1.Container{Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{}}}}), decision: true},
	} {
		if got := needsDecision(tc.pod); got != tc.decision {
			t.Errorf("%s: needsDecision %v", name, got)
		}
		got := ""
		if p := planPlay(tc.pod); p != nil {
			got = p.annotation()
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, tc.want)
		}
	}
}

func TestPlayTimeline(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	two, zero := 2.0, 0.0
	c := containerPlay{Name: "app", RunSeconds: &two, RestartRunSeconds: &zero, ExitCode: 1}
	// Runs 2 s, back-off 1 s, exits at once, back-off 2 s, at once, 4 s, …, capped at 30 s.
	for _, tc := range []struct {
		at       float64
		state    string
		restarts int32
		ready    bool
		next     float64
	}{
		{0, "running", 0, true, 2},
		{1.9, "running", 0, true, 2},
		{2, "CrashLoopBackOff", 1, false, 3},
		{3, "CrashLoopBackOff", 2, false, 5},
		{5, "CrashLoopBackOff", 3, false, 9},
		{2 + 1 + 2 + 4 + 8 + 16 + 30 + 30, "CrashLoopBackOff", 8, false, 2 + 1 + 2 + 4 + 8 + 16 + 30 + 30 + 30},
	} {
		st, next := c.at(t0, t0.Add(dur(tc.at)), time.Time{})
		state := "running"
		if st.state.Waiting != nil {
			state = st.state.Waiting.Reason
		}
		if state != tc.state || st.restartCount != tc.restarts || st.ready != tc.ready || !next.Equal(t0.Add(dur(tc.next))) {
			t.Errorf("at %gs: %s restarts %d ready %v next %s; want %s %d %v next %gs", tc.at, state, st.restartCount, st.ready,
				next.Sub(t0), tc.state, tc.restarts, tc.ready, tc.next)
		}
	}
}
