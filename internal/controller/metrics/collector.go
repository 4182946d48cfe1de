package metrics

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Options choose what the collector lists.
type Options struct {
	// Experiments lists Experiments too. Set it only when the manager runs an Experiment
	// controller, whose informer the collector then reads: without one, listing Experiments
	// would start an informer (a list and a watch on the API server) for the metrics alone.
	Experiments bool
}

// collectTimeout bounds the cache reads of one scrape (they wait only for an informer that
// has not synced yet).
const collectTimeout = 5 * time.Second

// stateCollector computes the state gauges from the informer caches of the sources (the
// managers that lead; one in the controller, one per namespace in tests) at every scrape.
type stateCollector struct {
	mu      sync.Mutex
	sources []*source
}

var (
	states       = &stateCollector{}
	registerOnce sync.Once

	descRolloutInfo        = rolloutInfo.desc()
	descRolloutAvailable   = rolloutAvailable.desc()
	descRolloutUnavailable = rolloutUnavailable.desc()
	descRolloutDesired     = rolloutDesired.desc()
	descRolloutUpdated     = rolloutUpdated.desc()
	descRolloutPhase       = rolloutPhase.desc()
	descRunInfo            = runInfo.desc()
	descRunPhase           = runPhase.desc()
	descRunMetricType      = runMetricType.desc()
	descRunMetricPhase     = runMetricPhase.desc()
	descExperimentInfo     = experimentInfo.desc()
	descExperimentPhase    = experimentPhase.desc()
)

// register adds this package's collectors to controller-runtime's registry, once per process.
func register() {
	registerOnce.Do(func() {
		crmetrics.Registry.MustRegister(states, controllerInfoGauge(),
			reconciles[Rollout].duration, reconciles[Rollout].errors,
			reconciles[AnalysisRun].duration, reconciles[AnalysisRun].errors,
			reconciles[Experiment].duration, reconciles[Experiment].errors,
			events)
	})
}

// AddCollector registers the metrics and makes mgr's cache a source of the state gauges while
// mgr is the elected leader (from its first sync until it stops).
func AddCollector(mgr manager.Manager, o Options) error {
	register()
	return mgr.Add(&source{cache: mgr.GetCache(), opts: o, log: mgr.GetLogger().WithName("metrics")})
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descRolloutInfo, descRolloutAvailable, descRolloutUnavailable, descRolloutDesired, descRolloutUpdated, descRolloutPhase,
		descRunInfo, descRunPhase, descRunMetricType, descRunMetricPhase, descExperimentInfo, descExperimentPhase,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it lists the sources' caches (shared objects, not
// copies; nothing here writes to them). An object two sources hold is reported once.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := slices.Clone(c.sources)
	c.mu.Unlock()
	if len(sources) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	seen := map[string]bool{}
	first := func(kind string, o client.Object) bool {
		k := kind + "/" + o.GetNamespace() + "/" + o.GetName()
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	for _, s := range sources {
		var ros v1alpha1.RolloutList
		if err := s.cache.List(ctx, &ros, client.UnsafeDisableDeepCopy); err != nil {
			s.log.Error(err, "Listing Rollouts for the metrics failed")
		}
		for i := range ros.Items {
			if first("Rollout", &ros.Items[i]) {
				collectRollout(ch, &ros.Items[i])
			}
		}
		var runs v1alpha1.AnalysisRunList
		if err := s.cache.List(ctx, &runs, client.UnsafeDisableDeepCopy); err != nil {
			s.log.Error(err, "Listing AnalysisRuns for the metrics failed")
		}
		for i := range runs.Items {
			if first("AnalysisRun", &runs.Items[i]) {
				collectAnalysisRun(ch, &runs.Items[i])
			}
		}
		if !s.opts.Experiments {
			continue
		}
		var exs v1alpha1.ExperimentList
		if err := s.cache.List(ctx, &exs, client.UnsafeDisableDeepCopy); err != nil {
			s.log.Error(err, "Listing Experiments for the metrics failed")
		}
		for i := range exs.Items {
			if first("Experiment", &exs.Items[i]) {
				collectExperiment(ch, &exs.Items[i])
			}
		}
	}
}

func (c *stateCollector) add(s *source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources = append(c.sources, s)
}

func (c *stateCollector) remove(s *source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources = slices.DeleteFunc(c.sources, func(x *source) bool { return x == s })
}

// source is a manager's cache as a source of the state gauges.
type source struct {
	cache cache.Cache
	opts  Options
	log   logr.Logger
}

// Start implements manager.Runnable: the cache is a source from its first sync until ctx ends.
func (s *source) Start(ctx context.Context) error {
	if !s.cache.WaitForCacheSync(ctx) {
		return nil
	}
	states.add(s)
	defer states.remove(s)
	<-ctx.Done()
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: only the leader reports the
// state of the objects, so a standby replica never doubles a count.
func (s *source) NeedLeaderElection() bool { return true }
