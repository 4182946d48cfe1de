// Package bench owns sluice's scale benchmark, the harness behind `sluice bench` and
// `make bench`: it creates N Rollouts on a local (or any) cluster, waits until all are
// Healthy, changes the image of all of them at once, waits until all are Healthy again, and
// reports what that cost.
//
// It is controller-agnostic. The harness only creates and patches Rollouts through the API and
// watches their status (plus ReplicaSets and Pods, to see where the cluster spends time), so
// it measures any argoproj.io/v1alpha1 controller: by default it starts sluice's own controller
// as a child process (ControllerMain, so the child's CPU and memory are its own and it can
// write pprof profiles), or it measures a controller it did not start (Options.ControllerPID).
//
// What it measures, and how (Result holds the numbers, WriteTable prints them):
//
//   - wall time from the image change to all Rollouts Healthy at the new generation, and the
//     per-Rollout time from its image patch to the first watch event showing it Healthy;
//   - step reaction latency: from a pause's expiry (pauseConditions[].startTime + duration, as
//     the controller wrote it) to the first watch event showing a later step index;
//   - the controller's CPU seconds and peak RSS (/proc/<pid>/stat, /proc/<pid>/status VmHWM);
//   - the controller's API requests by verb per completed Rollout, counted from the API
//     server's audit log by user agent;
//   - reconciles, reconcile time, workqueue wait and client-side rate-limiter wait, scraped
//     from the controller's Prometheus endpoint when there is one;
//   - the cluster's own cost: CPU seconds of etcd, kube-apiserver, kube-controller-manager,
//     kube-scheduler and kwok, requests per client, and how long ReplicaSet scale-ups and pods
//     take downstream of the controller (kube-controller-manager, scheduler, kwok).
//
// Everything runs on Linux (it reads /proc).
package bench
