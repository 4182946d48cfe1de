package bench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Thresholds above which a stage counts as a limit of the run.
const (
	slowDownstream = 1.0 // seconds, p99 of a cluster stage
	slowQueue      = 0.1 // seconds, mean workqueue wait
	slowReaction   = 2.0 // seconds, p99 step reaction
	busyMachine    = 0.9 // fraction of all CPUs
)

// limits names what bounded the run, from its numbers. It is a reading aid, not a proof: the
// numbers it quotes are in the result.
func limits(r *Result, o *Options) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if r.Update.TimedOut {
		add("timeout (--timeout %s): %d of %d Rollouts Healthy", o.Timeout, r.Update.Completed, r.Update.Total)
	}
	if b := r.Cluster.MachineBusy; b >= busyMachine {
		add("machine CPU: %.0f%% of %d CPUs busy during the update; every component (API server, etcd, controller, harness) queued for CPU, so latencies include that wait", b*100, r.Machine.CPUs)
	}
	cs := &r.Controller
	if q := cs.Requests; q != nil && o.Controller == ControllerChild {
		// sluice's controller shares one --qps budget across its own requests; events have a
		// budget of their own.
		var own float64
		var parts []string
		for _, res := range slices.Sorted(maps.Keys(q.RateByResource)) {
			if res == "events" {
				continue
			}
			own += q.RateByResource[res].Mean
			parts = append(parts, fmt.Sprintf("%s %.1f", res, q.RateByResource[res].Mean))
		}
		if own >= 0.8*o.QPS {
			add("controller client-side rate limit: %.1f requests/s on average over the update (%s) against --qps %g, shared by all of the controller's own requests; raise --qps/--burst to go faster",
				own, strings.Join(parts, ", "), o.QPS)
		}
		if ev := q.RateByResource["events"]; ev.Mean >= 0.8*o.QPS {
			add("controller event rate limit: %.1f events/s on average against --qps %g (events have their own budget: they arrive late but never hold up the rollout)", ev.Mean, o.QPS)
		}
	}
	if c := cs.Client; c != nil && c.RateLimiterWaitSeconds >= 1 {
		add("controller requests waited for the client-side rate limiter (--qps %g/--burst %d): %.0f of %.0f waited ≥25 ms; by method, seconds: %s",
			o.QPS, o.Burst, c.Waited25ms, c.RateLimitedRequests, floatMapStr(c.RateLimiterWaitByMethod))
	}
	if rc := cs.Reconciles; rc != nil && rc.QueueWaitMeanSeconds >= slowQueue {
		add("controller workers (--workers %d): a Rollout waited %.0f ms on average in the workqueue before a worker took it",
			o.Workers, rc.QueueWaitMeanSeconds*1000)
	}
	if rc := cs.Reconciles; rc != nil && rc.ByResult["error"] > 0 {
		add("controller reconcile errors: %.0f of %.0f reconciles failed and were retried with backoff (see controller.errors)", rc.ByResult["error"], rc.Total)
	}
	if cs.CPUCores >= 0.9 {
		add("controller CPU: %.2f cores on average over the update", cs.CPUCores)
	}
	if d := r.Update.StepReaction; d.Count > 0 && d.P99 >= slowReaction {
		add("controller reaction: p99 %.2f s from a pause's expiry to the next step", d.P99)
	}
	cl := &r.Cluster
	if d := cl.ReplicaSetScaleUpToCreated; d.Count > 0 && d.P99 >= slowDownstream {
		add("kube-controller-manager (ReplicaSet controller): p99 %.2f s from a ReplicaSet scale-up to its pods existing", d.P99)
	}
	if d := cl.PodCreatedToScheduled; d.Count > 0 && d.P99 >= slowDownstream {
		add("kube-scheduler: p99 %.2f s from a pod's creation to its binding", d.P99)
	}
	if d := cl.PodScheduledToReady; d.Count > 0 && d.P99 >= slowDownstream {
		add("kwok (pod lifecycle): p99 %.2f s from a pod's binding to Ready", d.P99)
	}
	if len(out) == 0 {
		add("none detected: no client throttling, workqueue wait < %.0f ms, cluster stages p99 < %.0f s, machine CPU < %.0f%%; the run's length is the steps' own (2 pauses of %s)",
			slowQueue*1000, slowDownstream, busyMachine*100, o.Pause)
	}
	return out
}
