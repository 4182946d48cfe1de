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
//     "True"; tests flip a gate with a status patch on pods/status, and Ready follows both ways.
//
// Child processes get SIGKILL when the process that started them dies (Linux pdeathsig), so a
// panicking or interrupted test leaves nothing behind; Stop ends them gracefully.
package devcluster
