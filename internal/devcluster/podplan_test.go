package devcluster

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlanContainer(t *testing.T) {
	never := containerRun{forever: true}
	for _, tc := range []struct {
		command, args []string
		want          containerRun
		ok            bool
	}{
		{command: []string{"sh", "-c", "exit 0"}, ok: true},
		{command: []string{"/bin/sh", "-c", "exit 3"}, want: containerRun{exitCode: 3}, ok: true},
		{command: []string{"sh", "-c"}, args: []string{"exit 0"}, ok: true}, // Argo's example
		{command: []string{"bash", "-c", "exit 256"}, want: containerRun{exitCode: 0}, ok: true},
		{command: []string{"sleep", "5"}, want: containerRun{after: 5 * time.Second}, ok: true},
		{command: []string{"/bin/sleep", "1.5"}, want: containerRun{after: 1500 * time.Millisecond}, ok: true},
		{args: []string{"sleep", "2m"}, want: containerRun{after: 2 * time.Minute}, ok: true},
		{command: []string{"sleep", "infinity"}, want: never, ok: true},
		{command: []string{"false"}, want: containerRun{exitCode: 1}, ok: true},
		{command: []string{"true"}, ok: true},
		{command: []string{"sh", "-c", "sleep 5 && exit 1"}, want: containerRun{after: 5 * time.Second, exitCode: 1}, ok: true},
		{command: []string{"sh", "-c", "sleep 1&&sleep 2;exit 4"}, want: containerRun{after: 3 * time.Second, exitCode: 4}, ok: true},
		{command: []string{"sh", "-c", "sleep 1\nfalse\n"}, want: containerRun{after: time.Second, exitCode: 1}, ok: true},
		{command: []string{"sh", "-c", "exit 2; sleep 9"}, want: containerRun{exitCode: 2}, ok: true},
		{command: []string{"sh", "-c", "false && sleep 9; exit"}, want: containerRun{exitCode: 1}, ok: true},
		{command: []string{"sh", "-c", "false && sleep 9; true"}, ok: true},
		{command: []string{"sh", "-c", "sleep 2 && sleep infinity"}, want: never, ok: true},
		{command: []string{"sh", "-c", "sleep 2; exit 1; sleep infinity"}, want: containerRun{after: 2 * time.Second, exitCode: 1}, ok: true},
		// Not understood.
		{},
		{command: []string{"exit", "1"}}, // a builtin, not an executable
		{command: []string{"my-test-script", "svc"}},      // an application
		{command: []string{"sh", "-c", "exit 1 || true"}}, // ||
		{command: []string{"sh", "-c", "sleep 5 &"}},
		{command: []string{"sh", "-c", "sleep $T"}},
		{command: []string{"sh", "-c", "curl -f http://x && exit 0"}},
		{command: []string{"sh", "-c", "sleep 1 && && exit 1"}},
		{command: []string{"sh", "-c", " ; "}},
		{command: []string{"sh", "-e", "exit 1"}},
		{command: []string{"sleep", "-1"}},
		{command: []string{"sleep", "1", "2"}},
		{command: []string{"sh", "-c", "exit -1"}},
	} {
		got, ok := planContainer(corev1.Container{Command: tc.command, Args: tc.args})
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%q %q: got %+v, %v; want %+v, %v", tc.command, tc.args, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPlanPod(t *testing.T) {
	jobOwner := []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "j"}}
	pod := func(policy corev1.RestartPolicy, owners []metav1.OwnerReference, commands ...[]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: owners}, Spec: corev1.PodSpec{RestartPolicy: policy}}
		for i, c := range commands {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Command: c})
		}
		return p
	}
	for name, tc := range map[string]struct {
		pod  *corev1.Pod
		want string // annotation, "" for none
	}{
		"job, not understood: exit 0 at once": {
			pod:  pod(corev1.RestartPolicyNever, jobOwner, []string{"my-test"}),
			want: `{"afterSeconds":0,"phase":"Succeeded","exitCodes":{"a":0}}`,
		},
		"job, OnFailure, exit 1": {
			pod:  pod(corev1.RestartPolicyOnFailure, jobOwner, []string{"sh", "-c", "exit 1"}),
			want: `{"afterSeconds":0,"phase":"Failed","exitCodes":{"a":1}}`,
		},
		"job, two containers: the pod ends with the last": {
			pod:  pod(corev1.RestartPolicyNever, jobOwner, []string{"sh", "-c", "exit 2"}, []string{"sleep", "4.25"}),
			want: `{"afterSeconds":4.25,"phase":"Failed","exitCodes":{"a":2,"b":0}}`,
		},
		"job, one container forever": {
			pod: pod(corev1.RestartPolicyNever, jobOwner, []string{"sh", "-c", "exit 2"}, []string{"sleep", "infinity"}),
		},
		"bare pod, Never, understood": {
			pod:  pod(corev1.RestartPolicyNever, nil, []string{"sleep", "1"}),
			want: `{"afterSeconds":1,"phase":"Succeeded","exitCodes":{"a":0}}`,
		},
		"bare pod, Never, not understood: runs": {
			pod: pod(corev1.RestartPolicyNever, nil, []string{"nginx"}),
		},
		"Deployment pod (Always): runs": {
			pod: pod(corev1.RestartPolicyAlways, nil, []string{"sh", "-c", "exit 1"}),
		},
	} {
		got := ""
		if p := planPod(tc.pod); p != nil {
			got = p.annotation()
		}
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", name, got, tc.want)
		}
	}
}
