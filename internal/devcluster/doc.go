// Package devcluster owns sluice's local Kubernetes cluster: real etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, plus kwok for fake nodes and pod lifecycles,
// all bound to 127.0.0.1 and started as child processes of the caller.
//
// It builds those binaries once from the tools modules pinned in devcluster/tools (embedded
// here under toolsrc/, so any sluice binary can build them), caches them per user under
// $XDG_CACHE_HOME/sluice/cluster/<key>/, and reuses them afterwards.
//
// The cluster is what `sluice dev`, `make demo`, the integration tests and the benchmarks run
// on. Its pods behave like this (see stages.yaml):
//
//   - a pod without readinessGates becomes Running and Ready right away, with a unique IP;
//   - a pod with readinessGates becomes Running but Ready only while every gate condition is
//     "True"; tests flip a gate with a status patch on pods/status, and Ready follows both ways;
//   - a pod with restartPolicy Never or OnFailure (every Job pod) plays out its containers'
//     commands as a kubelet running them would, when they are made of the forms below: Running
//     (and Ready) while they sleep, then Succeeded if every container exits 0, else Failed,
//     with each container's state.terminated.exitCode. The real Job controller then retries per
//     backoffLimit and enforces activeDeadlineSeconds.
//
// The forms understood, in a container's command followed by its args (args alone when there
// is no command, as for busybox or alpine images):
//
//   - sleep N (seconds, fractions and an s/m/h/d suffix allowed), sleep infinity, true, false
//     and :, run directly (/bin/sleep too);
//   - sh -c SCRIPT (also /bin/sh, bash, ash, dash; the script may be the first arg, as in
//     command: [sh, -c], args: ["exit 1"]), where SCRIPT is simple commands among sleep N,
//     sleep infinity, exit, exit N, true, false and :, joined by && and separated by ; or
//     newlines, with the shell's meaning (a && chain stops at a failing command, exit ends the
//     script, the last status is the exit code): "sleep 5 && exit 1" runs 5 s and fails.
//
// Anything else (an application, a pipe, ||, a variable, quotes) is not understood: such a
// container of a Job pod exits 0 at once (what every Job pod did before), and any other pod
// with it runs until deleted. A pod ends when its last container does (sleep infinity: never),
// to the second (the time is counted from status.startTime, which has whole seconds).
// OnFailure is played as Never: a failing container fails the pod instead of restarting in
// place, so a Job retries with a new pod; restartCount stays 0. Init containers, lifecycle
// hooks and probes of Job pods are not played.
//
// Pods with restartPolicy Always (Deployments, ReplicaSets, Rollouts) are played as a kubelet
// would run them (podplay.go); by default, and with any command not understood, they are
// Running and Ready at once as before:
//
//   - lifecycle.postStart sleep N (exec of a form above, or the sleep action): Pending
//     (ContainerCreating) for N s, containers started one after another;
//   - readinessProbe.initialDelaySeconds N: Ready N s after the container started;
//     minReadySeconds then works as in a real cluster;
//   - lifecycle.preStop sleep N: a deleted pod stays listed (deletionTimestamp, Running,
//     Ready False) for N s, at most its grace period; without preStop it goes at once;
//   - a command that exits (exit 1, sleep 5 && exit 1, exit 0): crash-loops, Ready while it
//     runs, then CrashLoopBackOff with restartCount growing and lastState.terminated;
//   - on purpose, with annotations on the pod template: CrashAnnotation ("" or
//     "after=10s[,exit=N]"), ImagePullAnnotation ("fail": ErrImagePull/ImagePullBackOff,
//     Pending), ReadyAnnotation ("never", "flip-after=20s").
//
// Back-offs (crash loops, image pulls) grow as the kubelet's, ten times faster: 1 s doubling to
// a 30 s cap. The planner decides once per pod that might need it (needsDecision: a
// devcluster.sluice.dev/ annotation, a command or args, a lifecycle hook, a readiness probe
// with an initial delay) and writes PlayAnnotation: "none" hands the pod to kwok's stages,
// which hold such pods until then; a JSON plan makes it the pod's only player: kwok's stages
// skip the pod, and the planner writes its status at each change of a timeline computed from
// the pod's start (timers, not polling; transitions measured within 30 ms) and deletes it once
// its preStop time is over.
//
// The mechanism: a pod planner (pods.go), running in the process that started the cluster,
// watches pods, computes the plan from the pod spec (podplan.go) and writes it on the pod as
// the devcluster.sluice.dev/exit annotation (ExitAnnotation); kwok's sluice-pod-exit stage
// then ends the pod at startTime + afterSeconds with the planned phase and exit codes. kwok
// alone does the timing, so a slow or restarted planner only delays a pod's end.
//
// Child processes get SIGKILL when the process that started them dies (Linux pdeathsig), so a
// panicking or interrupted test leaves nothing behind; Stop ends them gracefully.
package devcluster
