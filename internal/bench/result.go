package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Schema names the JSON layout; it changes only when a field changes meaning.
const Schema = "sluice-bench/v1"

// Result is one run's measurements. Its JSON field names are stable, so runs of different
// commits (or controllers) can be compared field by field. Durations are in seconds.
type Result struct {
	Schema     string          `json:"schema"`
	StartedAt  time.Time       `json:"started_at"`
	Harness    string          `json:"harness"`
	Config     Config          `json:"config"`
	Machine    Machine         `json:"machine"`
	Setup      Setup           `json:"setup"`
	Update     Update          `json:"update"`
	Controller ControllerStats `json:"controller"`
	Cluster    ClusterStats    `json:"cluster"`
	// Limits lists what bounded the run, as the harness could tell from the numbers.
	Limits []string `json:"limits"`
	Files  Files    `json:"files"`
	// Error is set when the run did not complete (a timeout, a dead controller).
	Error string `json:"error,omitempty"`
}

// Config is what was run.
type Config struct {
	Rollouts     int     `json:"rollouts"`
	Replicas     int     `json:"replicas"`
	Namespaces   int     `json:"namespaces"`
	Steps        string  `json:"steps"`
	PauseSeconds float64 `json:"pause_seconds"`
	// Controller is "child" (started by the harness) or "external".
	Controller          string  `json:"controller"`
	ControllerPID       int     `json:"controller_pid"`
	ControllerUserAgent string  `json:"controller_user_agent"`
	Workers             int     `json:"workers,omitempty"`
	QPS                 float64 `json:"qps,omitempty"`
	Burst               int     `json:"burst,omitempty"`
	// Cluster is "local" (started by the harness) or "kubeconfig".
	Cluster        string  `json:"cluster"`
	Nodes          int     `json:"nodes"`
	AuditLog       bool    `json:"audit_log"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Platform    string `json:"platform"`
	GoVersion   string `json:"go_version"`
}

// Setup is the creation of the Rollouts, up to all Healthy (context for the update).
type Setup struct {
	StartedAt      time.Time `json:"started_at"`
	Completed      int       `json:"completed"`
	CreateSeconds  float64   `json:"create_seconds"`
	HealthySeconds float64   `json:"healthy_seconds"`
}

// Update is the measured phase: the image change of every Rollout, until all are Healthy.
type Update struct {
	// StartedAt is just before the first image patch, EndedAt when the last Rollout was seen
	// Healthy (or the run gave up): the window of every update-phase number.
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Completed int       `json:"completed"`
	Total     int       `json:"total"`
	TimedOut  bool      `json:"timed_out"`
	// PatchSeconds is how long sending all image patches took.
	PatchSeconds float64 `json:"patch_seconds"`
	// WallSeconds is from the first image patch to the last Rollout seen Healthy (or the
	// timeout).
	WallSeconds float64 `json:"wall_seconds"`
	// PerRollout is, per Rollout, from its image patch's response to the first watch event
	// showing it Healthy at the new generation.
	PerRollout Dist `json:"per_rollout_seconds"`
	// StepReaction is, per timed pause step, from its expiry as the status states it
	// (pauseConditions[].startTime + the step's duration; startTime has whole seconds) to the
	// first watch event showing a later step index. A controller that times the pause from its
	// own unrounded clock shows up to 1 s more here, as a user reading the status would see.
	StepReaction Dist `json:"step_reaction_seconds"`
	// Unfinished counts the Rollouts not Healthy at the end, by "phase step=i".
	Unfinished map[string]int `json:"unfinished,omitempty"`
}

// Dist summarises latencies in seconds; percentiles are nearest-rank.
type Dist struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// ControllerStats is the controller's cost in the update phase (unless noted).
type ControllerStats struct {
	PID             int     `json:"pid"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUCores        float64 `json:"cpu_cores"`
	SetupCPUSeconds float64 `json:"setup_cpu_seconds"`
	// RSSPeakBytes is VmHWM: the peak over the process's life (for a child, the whole run).
	RSSPeakBytes uint64 `json:"rss_peak_bytes"`
	// RSSSampledMaxBytes is the largest VmRSS sampled every 500 ms during the run.
	RSSSampledMaxBytes uint64 `json:"rss_sampled_max_bytes"`
	RSSEndBytes        uint64 `json:"rss_end_bytes"`
	// Requests come from the audit log (nil without one).
	Requests *Requests `json:"api_requests"`
	// Reconciles, Client: from the controller's metrics endpoint (nil without one).
	Reconciles *Reconciles   `json:"reconciles"`
	Client     *ClientStats  `json:"client"`
	Errors     *ErrorSummary `json:"errors,omitempty"`
}

// Requests are the controller's API requests in the update phase.
type Requests struct {
	Total           int                `json:"total"`
	ByVerb          map[string]int     `json:"by_verb"`
	PerRollout      map[string]float64 `json:"per_rollout"`
	TotalPerRollout float64            `json:"total_per_rollout"`
	// ByVerbResource is keyed "verb resource[/subresource]".
	ByVerbResource map[string]int `json:"by_verb_resource"`
	SetupByVerb    map[string]int `json:"setup_by_verb"`
	// RateByResource is the request rate per resource type (subresources included) over the
	// update: mean and busiest second. A client-side limit shows as a mean near --qps.
	RateByResource map[string]Rate `json:"rate_by_resource"`
}

// Rate is a request rate in requests per second.
type Rate struct {
	Mean float64 `json:"mean"`
	Peak int     `json:"peak"`
}

// Reconciles are read from the controller's metrics (deltas over the update phase).
type Reconciles struct {
	Metric     string             `json:"metric"`
	Total      float64            `json:"total"`
	PerRollout float64            `json:"per_rollout"`
	ByResult   map[string]float64 `json:"by_result,omitempty"`
	// MeanSeconds is controller_runtime_reconcile_time_seconds sum/count (0 if absent).
	MeanSeconds float64 `json:"mean_seconds"`
	// QueueWaitMeanSeconds is workqueue_queue_duration_seconds sum/count for the rollout queue.
	QueueWaitMeanSeconds float64 `json:"queue_wait_mean_seconds"`
	QueueAdds            float64 `json:"queue_adds"`
}

// ClientStats come from client-go's metrics in the controller.
type ClientStats struct {
	// RateLimiterWaitSeconds is the total time requests waited for the client-side rate
	// limiter (--qps/--burst); Waited25ms counts requests that waited at least 25 ms.
	RateLimiterWaitSeconds float64 `json:"rate_limiter_wait_seconds"`
	RateLimitedRequests    float64 `json:"rate_limiter_requests"`
	Waited25ms             float64 `json:"rate_limiter_waited_25ms"`
	// RateLimiterWaitByMethod splits the wait by HTTP method. Event POSTs wait in goroutines
	// of their own (client-go's events broadcaster), so their wait can exceed the wall time.
	RateLimiterWaitByMethod map[string]float64 `json:"rate_limiter_wait_seconds_by_method,omitempty"`
	// RequestsByCode is rest_client_requests_total by HTTP code (the client's own count).
	RequestsByCode map[string]float64 `json:"requests_by_code,omitempty"`
}

// ErrorSummary counts error lines in the child controller's log over the whole run; Example
// is the most frequent kind of error (names and numbers blanked).
type ErrorSummary struct {
	LogErrors int    `json:"log_errors"`
	Example   string `json:"example,omitempty"`
}

// ClusterStats are the cluster's own costs during the update phase.
type ClusterStats struct {
	// CPUSeconds per component (etcd, kube-apiserver, …; only for a cluster whose PIDs are
	// known) and "harness" (this process: watches, patches, audit reading excluded).
	CPUSeconds map[string]float64 `json:"cpu_seconds"`
	// MachineBusy is the busy fraction of all CPUs of the machine (/proc/stat).
	MachineBusy float64 `json:"machine_busy"`
	// RequestsByClient counts every client's requests (audit log).
	RequestsByClient map[string]int `json:"requests_by_client,omitempty"`
	// Downstream of the controller, from the harness's watches of ReplicaSets and Pods.
	ReplicaSetScaleUpToCreated   Dist `json:"replicaset_scaleup_to_pods_created_seconds"`
	ReplicaSetScaleUpToAvailable Dist `json:"replicaset_scaleup_to_available_seconds"`
	PodCreatedToScheduled        Dist `json:"pod_created_to_scheduled_seconds"`
	PodScheduledToReady          Dist `json:"pod_scheduled_to_ready_seconds"`
	WatchEvents                  int  `json:"watch_events"`
}

// Files are where the run left things.
type Files struct {
	RunDir        string `json:"run_dir,omitempty"`
	ControllerLog string `json:"controller_log,omitempty"`
	AuditLog      string `json:"audit_log,omitempty"`
	CPUProfile    string `json:"cpu_profile,omitempty"`
	MemProfile    string `json:"mem_profile,omitempty"`
}

// dist summarises durations (nearest-rank percentiles).
func dist(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Dist{
		Count: len(s),
		Min:   secs(s[0]),
		Mean:  secs(sum / time.Duration(len(s))),
		P50:   secs(percentile(s, 50)),
		P90:   secs(percentile(s, 90)),
		P99:   secs(percentile(s, 99)),
		Max:   secs(s[len(s)-1]),
	}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func secs(d time.Duration) float64 { return math.Round(d.Seconds()*1e4) / 1e4 }

// WriteJSON writes the result, indented.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable prints the result for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := &r.Config
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format+"\n", args...) }
	ctl := "child pid " + itoa(c.ControllerPID)
	if c.Controller == "external" {
		ctl = "external pid " + itoa(c.ControllerPID)
	}
	if c.Workers > 0 {
		ctl += fmt.Sprintf(", %d workers, qps %g/burst %d", c.Workers, c.QPS, c.Burst)
	}
	p("sluice bench: %d Rollouts × %d replicas in %d namespace(s), steps %s", c.Rollouts, c.Replicas, c.Namespaces, c.Steps)
	p("controller: %s (user agent %q); cluster: %s, %d nodes", ctl, c.ControllerUserAgent, c.Cluster, c.Nodes)
	m := &r.Machine
	p("machine: %d CPUs (%s), %s, %s, %s", m.CPUs, m.CPUModel, bytesStr(m.MemoryBytes), m.Platform, m.GoVersion)
	p("setup: %d/%d Rollouts created in %.1fs, all Healthy after %.1fs", r.Setup.Completed, c.Rollouts, r.Setup.CreateSeconds, r.Setup.HealthySeconds)
	p("")
	u := &r.Update
	p("UPDATE (image change of all Rollouts → all Healthy)\t")
	p("  completed\t%d/%d%s", u.Completed, u.Total, map[bool]string{true: " (TIMED OUT)", false: ""}[u.TimedOut])
	p("  wall time\t%.2f s (patches sent in %.2f s)", u.WallSeconds, u.PatchSeconds)
	p("  per Rollout p50 / p99 / max\t%s", distStr(u.PerRollout))
	p("  step reaction p50 / p99 / max\t%s  (pause expiry per status → next step seen)", distStr(u.StepReaction))
	for _, k := range slices.Sorted(maps.Keys(u.Unfinished)) {
		p("  not Healthy: %s\t%d", k, u.Unfinished[k])
	}
	p("")
	cs := &r.Controller
	p("CONTROLLER (update phase)\t")
	p("  CPU\t%.2f s (%.2f cores; setup %.2f s)", cs.CPUSeconds, cs.CPUCores, cs.SetupCPUSeconds)
	p("  RSS peak (VmHWM) / sampled max / end\t%s / %s / %s", bytesStr(cs.RSSPeakBytes), bytesStr(cs.RSSSampledMaxBytes), bytesStr(cs.RSSEndBytes))
	if q := cs.Requests; q != nil {
		parts := make([]string, 0, len(Verbs))
		for _, v := range Verbs {
			parts = append(parts, fmt.Sprintf("%s %.2f", strings.ToUpper(v), q.PerRollout[v]))
		}
		p("  API requests per rollout\t%.2f: %s", q.TotalPerRollout, strings.Join(parts, ", "))
		p("  API requests (total)\t%d, by verb and resource: %s", q.Total, topN(q.ByVerbResource, 8))
		rates := make([]string, 0, len(q.RateByResource))
		for _, k := range slices.Sorted(maps.Keys(q.RateByResource)) {
			rates = append(rates, fmt.Sprintf("%s %.1f/%d", k, q.RateByResource[k].Mean, q.RateByResource[k].Peak))
		}
		p("  request rate by resource, mean/peak per s\t%s", strings.Join(rates, ", "))
	} else {
		p("  API requests\tnot counted (no audit log)")
	}
	if rc := cs.Reconciles; rc != nil {
		p("  reconciles per rollout\t%.2f (%.0f total; by result: %s)", rc.PerRollout, rc.Total, countMapStr(rc.ByResult))
		p("  reconcile time mean / queue wait mean\t%.2f ms / %.2f ms (%.0f queue adds)", rc.MeanSeconds*1000, rc.QueueWaitMeanSeconds*1000, rc.QueueAdds)
	} else {
		p("  reconciles\tnot measured (no metrics endpoint)")
	}
	if cl := cs.Client; cl != nil {
		p("  client rate-limiter wait\t%.2f s over %.0f requests (%.0f waited ≥25 ms); by method: %s",
			cl.RateLimiterWaitSeconds, cl.RateLimitedRequests, cl.Waited25ms, floatMapStr(cl.RateLimiterWaitByMethod))
	}
	if e := cs.Errors; e != nil && e.LogErrors > 0 {
		p("  error log lines (whole run)\t%d, mostly: %s", e.LogErrors, e.Example)
	}
	p("")
	cl := &r.Cluster
	p("CLUSTER (update phase)\t")
	p("  CPU seconds\t%s", floatMapStr(cl.CPUSeconds))
	p("  machine busy\t%.0f%% of %d CPUs", cl.MachineBusy*100, m.CPUs)
	if len(cl.RequestsByClient) > 0 {
		p("  requests by client\t%s", topN(cl.RequestsByClient, 8))
	}
	p("  RS scale-up → pods created\t%s", distStr(cl.ReplicaSetScaleUpToCreated))
	p("  RS scale-up → pods available\t%s", distStr(cl.ReplicaSetScaleUpToAvailable))
	p("  pod created → scheduled\t%s", distStr(cl.PodCreatedToScheduled))
	p("  pod scheduled → Ready\t%s", distStr(cl.PodScheduledToReady))
	p("")
	p("LIMITS\t")
	for _, l := range r.Limits {
		p("  - %s\t", l)
	}
	if r.Files.RunDir != "" {
		p("files: %s", r.Files.RunDir)
	}
	if r.Error != "" {
		p("ERROR: %s", r.Error)
	}
	return tw.Flush()
}

func distStr(d Dist) string {
	if d.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f / %.3f / %.3f s (n=%d)", d.P50, d.P99, d.Max, d.Count)
}

func bytesStr(b uint64) string {
	switch {
	case b == 0:
		return "-"
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	default:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
}

// topN renders the n largest entries of a count map, largest first.
func topN(m map[string]int, n int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for i, k := range keys {
		if i == n {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(keys)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func countMapStr(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func floatMapStr(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
