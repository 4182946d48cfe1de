package devcluster

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationPrefix starts every annotation the local cluster reads or writes on pods.
const AnnotationPrefix = "devcluster.sluice.dev/"

// Annotations that make pods with restartPolicy Always fail on purpose (put them on the pod
// template). See the package documentation and docs/local-cluster.md.
const (
	// CrashAnnotation makes every container crash-loop: "" or "true" exits at once on every
	// start; "after=10s" runs (and is Ready) for 10 s, then exits, and every restart exits at
	// once; "exit=N" sets the exit code (default 1), e.g. "after=10s,exit=137".
	CrashAnnotation = AnnotationPrefix + "crash"
	// ImagePullAnnotation "fail": no container ever starts; each is waiting with ErrImagePull,
	// then ImagePullBackOff, and the pod stays Pending.
	ImagePullAnnotation = AnnotationPrefix + "image-pull"
	// ReadyAnnotation "never": the containers run but never pass their readiness probe;
	// "flip-after=20s": Ready as usual, then not Ready from 20 s after the pod started, for good.
	ReadyAnnotation = AnnotationPrefix + "ready"
	// PlayAnnotation is written by the cluster on every pod with restartPolicy Always that
	// might need playing: "none" when kwok plays it as usual (Running and Ready at once), else
	// the JSON play plan the pod planner follows. It is informative.
	PlayAnnotation = AnnotationPrefix + "play"
)

// Back-off between the runs of a crash-looping container and between image pulls: the
// kubelet's growth (doubling, capped), ten times faster (kubelet: 10 s doubling to 5 min).
const (
	backOffBase = time.Second
	backOffMax  = 30 * time.Second
	// pullErrorFor is how long a failed pull shows ErrImagePull before ImagePullBackOff.
	pullErrorFor = time.Second
)

// backOff is the wait before restart (or pull) number k (1, 2, …).
func backOff(k int) time.Duration {
	if k > 10 {
		return backOffMax
	}
	return min(backOffBase<<(k-1), backOffMax)
}

// playPlan is how a pod with restartPolicy Always plays out (PlayAnnotation).
type playPlan struct {
	Containers []containerPlay `json:"containers"`
	// NotReadyAfterSeconds: the pod is not Ready from this long after its start on (flip-after).
	NotReadyAfterSeconds *float64 `json:"notReadyAfterSeconds,omitempty"`
	// PreStopSeconds: a terminating pod stays (Running, not Ready) this long, at most its
	// grace period.
	PreStopSeconds float64 `json:"preStopSeconds,omitempty"`
	// Errors are annotation values that were not understood (and ignored).
	Errors []string `json:"errors,omitempty"`
}

// containerPlay is how one container plays out. Times are seconds.
type containerPlay struct {
	Name string `json:"name"`
	// StartSeconds: when it is created, from the pod's start (the kubelet starts containers
	// one after another, each after the previous one's postStart hook).
	StartSeconds float64 `json:"startSeconds,omitempty"`
	// PostStartSeconds: its postStart hook runs this long after each start; the pod is
	// Pending (ContainerCreating) during the first one.
	PostStartSeconds float64 `json:"postStartSeconds,omitempty"`
	// ReadySeconds: Ready this long after each start (postStart hook, readiness probe's
	// initialDelaySeconds).
	ReadySeconds float64 `json:"readySeconds,omitempty"`
	NeverReady   bool    `json:"neverReady,omitempty"`
	ImagePull    string  `json:"imagePull,omitempty"` // "fail"
	// RunSeconds: its first run exits after this long (nil: runs until deleted);
	// RestartRunSeconds: every later run (nil: as the first).
	RunSeconds        *float64 `json:"runSeconds,omitempty"`
	RestartRunSeconds *float64 `json:"restartRunSeconds,omitempty"`
	ExitCode          int32    `json:"exitCode,omitempty"`
}

func (c containerPlay) trivial() bool {
	return c.StartSeconds == 0 && c.PostStartSeconds == 0 && c.ReadySeconds == 0 && !c.NeverReady &&
		c.ImagePull == "" && c.RunSeconds == nil
}

func alwaysPolicy(pod *corev1.Pod) bool {
	return pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == ""
}

// needsDecision says whether a pod waits for the planner's PlayAnnotation before kwok starts
// it. It must match the "released" selector of the start stages in stages.yaml exactly (a pod
// that kwok holds and the planner ignores would stay Pending).
func needsDecision(pod *corev1.Pod) bool {
	if !alwaysPolicy(pod) {
		return false
	}
	for k := range pod.Annotations {
		if strings.HasPrefix(k, AnnotationPrefix) {
			return true
		}
	}
	for _, c := range pod.Spec.Containers {
		if len(c.Command) > 0 || len(c.Args) > 0 ||
			(c.Lifecycle != nil && (c.Lifecycle.PostStart != nil || c.Lifecycle.PreStop != nil)) ||
			(c.ReadinessProbe != nil && c.ReadinessProbe.InitialDelaySeconds > 0) {
			return true
		}
	}
	return false
}

// planPlay decides how a pod with restartPolicy Always plays out; nil when kwok's stages play
// it as usual (Running and Ready at once, removed at once when deleted).
func planPlay(pod *corev1.Pod) *playPlan {
	if !alwaysPolicy(pod) {
		return nil
	}
	p := &playPlan{}
	var crash *crashSpec
	if v, ok := pod.Annotations[CrashAnnotation]; ok {
		c, err := parseCrash(v)
		if err != nil {
			p.Errors = append(p.Errors, CrashAnnotation+": "+err.Error())
		} else {
			crash = &c
		}
	}
	pullFails := false
	if v, ok := pod.Annotations[ImagePullAnnotation]; ok {
		if v == "fail" {
			pullFails = true
		} else {
			p.Errors = append(p.Errors, fmt.Sprintf("%s: %q (want fail)", ImagePullAnnotation, v))
		}
	}
	neverReady := false
	if v, ok := pod.Annotations[ReadyAnnotation]; ok {
		switch d, found := strings.CutPrefix(v, "flip-after="); {
		case v == "never":
			neverReady = true
		case found:
			if dur, ok := parseSleep(d); ok {
				p.NotReadyAfterSeconds = new(seconds(dur))
			} else {
				p.Errors = append(p.Errors, fmt.Sprintf("%s: bad duration %q", ReadyAnnotation, d))
			}
		default:
			p.Errors = append(p.Errors, fmt.Sprintf("%s: %q (want never or flip-after=DURATION)", ReadyAnnotation, v))
		}
	}

	var start time.Duration
	grace := 30 * time.Second
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	owned := p.NotReadyAfterSeconds != nil || len(p.Errors) > 0
	for _, c := range pod.Spec.Containers {
		cp := containerPlay{Name: c.Name, StartSeconds: seconds(start), NeverReady: neverReady}
		var postStart, preStop time.Duration
		if c.Lifecycle != nil {
			postStart = hookDuration(c.Lifecycle.PostStart)
			preStop = hookDuration(c.Lifecycle.PreStop)
		}
		p.PreStopSeconds = max(p.PreStopSeconds, seconds(min(preStop, grace)))
		ready := postStart
		if c.ReadinessProbe != nil {
			ready = max(ready, time.Duration(c.ReadinessProbe.InitialDelaySeconds)*time.Second)
		}
		cp.PostStartSeconds, cp.ReadySeconds = seconds(postStart), seconds(ready)
		switch {
		case pullFails:
			cp.ImagePull = "fail"
		case crash != nil:
			cp.RunSeconds, cp.RestartRunSeconds = new(seconds(crash.after)), new(0.0)
			cp.ExitCode = crash.exitCode
		default:
			if run, ok := planContainer(c); ok && !run.forever {
				cp.RunSeconds, cp.ExitCode = new(seconds(run.after)), run.exitCode
			}
		}
		if !pullFails {
			start += postStart // the next container starts once this one's hook returned
		}
		owned = owned || !cp.trivial() || preStop > 0
		p.Containers = append(p.Containers, cp)
	}
	if !owned || len(p.Containers) == 0 {
		return nil
	}
	return p
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func dur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// hookDuration is how long a postStart or preStop hook runs: its sleep action, or an exec of
// `sleep N` (or sh -c "sleep N", any form planContainer understands that exits 0). Other
// hooks (httpGet, tcpSocket, not understood) take no time.
func hookDuration(h *corev1.LifecycleHandler) time.Duration {
	switch {
	case h == nil:
		return 0
	case h.Sleep != nil:
		return time.Duration(h.Sleep.Seconds) * time.Second
	case h.Exec != nil:
		run, ok := planContainer(corev1.Container{Command: h.Exec.Command})
		if ok && !run.forever && run.exitCode == 0 {
			return run.after
		}
	}
	return 0
}

type crashSpec struct {
	after    time.Duration
	exitCode int32
}

// parseCrash reads CrashAnnotation: "", "true", or comma-separated after=DURATION, exit=N.
func parseCrash(v string) (crashSpec, error) {
	c := crashSpec{exitCode: 1}
	if v == "" || v == "true" {
		return c, nil
	}
	for part := range strings.SplitSeq(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "after":
			d, ok := parseSleep(val)
			if !ok {
				return c, fmt.Errorf("bad duration %q", val)
			}
			c.after = d
		case "exit":
			n, err := strconv.ParseUint(val, 10, 8)
			if err != nil {
				return c, fmt.Errorf("bad exit code %q", val)
			}
			c.exitCode = int32(n)
		default:
			return c, fmt.Errorf("%q (want after=DURATION, exit=N)", part)
		}
	}
	return c, nil
}

func (p *playPlan) annotation() string {
	b, _ := json.Marshal(p) // strings, numbers and booleans always marshal
	return string(b)
}

func parsePlay(s string) (*playPlan, error) {
	p := &playPlan{}
	if err := json.Unmarshal([]byte(s), p); err != nil {
		return nil, err
	}
	return p, nil
}

// containerAt is a container's status at one moment of its play.
type containerAt struct {
	state        corev1.ContainerState
	lastState    corev1.ContainerState
	ready        bool
	started      bool
	restartCount int32
	creating     bool // not started yet (the pod is Pending)
}

// at plays a container from the pod's start t0 to now: its status then, and when it changes
// next (zero: never).
func (c containerPlay) at(t0, now time.Time, notReadyAt time.Time) (st containerAt, next time.Time) {
	soonest := func(ts ...time.Time) {
		for _, t := range ts {
			if t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	created := t0.Add(dur(c.StartSeconds))
	if now.Before(created) {
		soonest(created)
		return containerAt{creating: true, state: waiting("ContainerCreating", "")}, next
	}
	if c.ImagePull == "fail" {
		attempt := created
		for k := 1; ; k++ {
			errUntil := attempt.Add(pullErrorFor)
			nextAttempt := errUntil.Add(backOff(k))
			if now.Before(nextAttempt) {
				st = containerAt{creating: true}
				if now.Before(errUntil) {
					st.state = waiting("ErrImagePull", "failed to pull image: devcluster.sluice.dev/image-pull: fail")
				} else {
					st.state = waiting("ImagePullBackOff", "Back-off pulling image (devcluster.sluice.dev/image-pull: fail)")
				}
				soonest(errUntil, nextAttempt)
				return st, next
			}
			attempt = nextAttempt
		}
	}
	run := created
	var prevStart, prevEnd time.Time
	for k := 0; ; k++ {
		length := c.RunSeconds
		if k > 0 && c.RestartRunSeconds != nil {
			length = c.RestartRunSeconds
		}
		end := time.Time{}
		if length != nil {
			end = run.Add(dur(*length))
		}
		if end.IsZero() || now.Before(end) {
			st = containerAt{restartCount: int32(k), started: true}
			if k > 0 {
				st.lastState = terminated(c.ExitCode, prevStart, prevEnd)
			}
			hookDone := run.Add(dur(c.PostStartSeconds))
			readyAt := run.Add(dur(c.ReadySeconds))
			if k == 0 && now.Before(hookDone) {
				st = containerAt{creating: true, state: waiting("ContainerCreating", "")}
			} else {
				st.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: mt(run)}}
			}
			st.ready = !c.NeverReady && !now.Before(readyAt) && (notReadyAt.IsZero() || now.Before(notReadyAt))
			soonest(hookDone, readyAt, notReadyAt)
			if !end.IsZero() {
				soonest(end)
			}
			return st, next
		}
		restart := end.Add(backOff(k + 1))
		if now.Before(restart) {
			st = containerAt{restartCount: int32(k + 1), lastState: terminated(c.ExitCode, run, end),
				state: waiting("CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s", backOff(k+1), c.Name))}
			soonest(restart)
			return st, next
		}
		prevStart, prevEnd, run = run, end, restart
	}
}

// mt is a time as the API stores it (whole seconds).
func mt(t time.Time) metav1.Time { return metav1.NewTime(t.UTC().Truncate(time.Second)) }

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

func terminated(code int32, start, end time.Time) corev1.ContainerState {
	reason := "Error"
	if code == 0 {
		reason = "Completed"
	}
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: mt(start), FinishedAt: mt(end)}}
}

// podAt is the status of a played pod at one moment.
type podAt struct {
	phase           corev1.PodPhase
	containers      []corev1.ContainerStatus
	containersReady bool
	next            time.Time // the next change (zero: none)
}

// at plays the pod from its start t0 until now. images names each container's image.
func (p *playPlan) at(t0, now time.Time, images map[string]string) podAt {
	var notReadyAt time.Time
	if p.NotReadyAfterSeconds != nil {
		notReadyAt = t0.Add(dur(*p.NotReadyAfterSeconds))
	}
	out := podAt{phase: corev1.PodRunning, containersReady: true}
	for _, c := range p.Containers {
		st, next := c.at(t0, now, notReadyAt)
		if st.creating {
			out.phase = corev1.PodPending
		}
		out.containersReady = out.containersReady && st.ready
		if !next.IsZero() && (out.next.IsZero() || next.Before(out.next)) {
			out.next = next
		}
		cs := corev1.ContainerStatus{
			Name: c.Name, Image: images[c.Name], ImageID: "", Ready: st.ready, Started: new(st.started),
			RestartCount: st.restartCount, State: st.state, LastTerminationState: st.lastState,
		}
		if st.state.Running != nil || st.lastState.Terminated != nil {
			cs.ContainerID = fmt.Sprintf("kwok://%s-%d", c.Name, st.restartCount)
		}
		out.containers = append(out.containers, cs)
	}
	slices.SortFunc(out.containers, func(a, b corev1.ContainerStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// runningAt says whether some container of the pod runs at now (preStop hooks run only then).
func (p *playPlan) runningAt(t0, now time.Time) bool {
	for _, c := range p.at(t0, now, nil).containers {
		if c.State.Running != nil {
			return true
		}
	}
	return false
}
