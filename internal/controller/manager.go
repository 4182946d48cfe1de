package controller

import (
	"fmt"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller/analysis"
	"github.com/sluicehq/sluice/internal/controller/argolease"
	expctrl "github.com/sluicehq/sluice/internal/controller/experiment"
	ctrlmetrics "github.com/sluicehq/sluice/internal/controller/metrics"
	"github.com/sluicehq/sluice/internal/controller/notifications"
	"github.com/sluicehq/sluice/internal/controller/rollout"
	"github.com/sluicehq/sluice/internal/metricprovider"
	"github.com/sluicehq/sluice/internal/metricprovider/registry"
	"github.com/sluicehq/sluice/internal/trafficrouter"
)

// Options configure the controller process.
type Options struct {
	// Namespace limits the controller to one namespace ("" = all).
	Namespace string
	// InstanceID: with "", manage only Rollouts without the
	// argo-rollouts.argoproj.io/controller-instance-id label; otherwise only those labelled so.
	InstanceID string
	// Workers is the number of Rollouts reconciled at once (default 10, as Argo).
	Workers int
	// LeaderElect enables leader election on the Lease LeaderElectionID (suffixed with the
	// instance id) in LeaderElectionNamespace.
	LeaderElect             bool
	LeaderElectionNamespace string
	// MetricsAddr and HealthAddr are bind addresses ("0" disables).
	MetricsAddr, HealthAddr string
	// Routers picks the API versions the traffic routers use (SMI TrafficSplit, Istio, Gateway
	// API TCP/TLS routes).
	Routers trafficrouter.Options
	// SkipNameValidation allows several managers in one process (tests run one per namespace).
	SkipNameValidation bool
	// TakeOverFromArgo makes sluice act on Rollouts even while Argo Rollouts' controller of the
	// same instance id holds its Lease. By default sluice leaves them alone until that Lease
	// expires (docs/migrating-from-argo.md).
	TakeOverFromArgo bool
	// ArgoLeaseNamespace is where Argo's Lease is looked for; "" means all namespaces (falling
	// back to argo-rollouts and Namespace when a cluster-wide list is forbidden).
	ArgoLeaseNamespace string
	// ControllerNamespace is where metric provider credentials live (the datadog, newrelic
	// and influxdb Secrets) and the notification ConfigMap and Secret; "" means
	// LeaderElectionNamespace.
	ControllerNamespace string
	// AnalysisWorkers is the number of AnalysisRuns measured at once (default 30, as Argo).
	AnalysisWorkers int
}

// LeaderElectionID is the Lease name, as Argo's (argo-rollouts-controller-lock), so two
// controllers of the same instance never run side by side.
const LeaderElectionID = "sluice-controller-lock"

// Scheme has the Kubernetes built-in types and argoproj.io/v1alpha1.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// NewManager builds the manager with every reconciler registered. Start it with mgr.Start.
func NewManager(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	if o.Workers <= 0 {
		o.Workers = 10
	}
	// The controller's own reads and writes share one budget of --qps/--burst across all
	// resource types, as Argo's flags mean (controller-runtime would give each type its own
	// limiter). Events and the informers' list/watch keep separate budgets, so a burst of
	// events never delays a scale-up or a status write.
	newClient := client.New
	if cfg.RateLimiter == nil && cfg.QPS > 0 {
		shared := flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
		newClient = func(c *rest.Config, opts client.Options) (client.Client, error) {
			c = rest.CopyConfig(c)
			c.RateLimiter = shared
			return client.New(c, opts)
		}
	}
	byObject, err := rollout.CacheOptions(o.InstanceID)
	if err != nil {
		return nil, err
	}
	analysisObjects, err := analysis.CacheOptions(o.InstanceID)
	if err != nil {
		return nil, err
	}
	maps.Copy(byObject, analysisObjects)
	experimentObjects, err := expctrl.CacheOptions(o.InstanceID)
	if err != nil {
		return nil, err
	}
	maps.Copy(byObject, experimentObjects)
	cacheOpts := cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()}
	if o.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	leaseID := LeaderElectionID
	if o.InstanceID != "" {
		leaseID += "-" + o.InstanceID
	}
	renew, lease, retry := 10*time.Second, 15*time.Second, 2*time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  Scheme(),
		NewClient:               newClient,
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: orDefault(o.MetricsAddr, "0")},
		HealthProbeBindAddress:  orDefault(o.HealthAddr, "0"),
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        leaseID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaseDuration:           &lease,
		RenewDeadline:           &renew,
		RetryPeriod:             &retry,
		Controller:              config.Controller{SkipNameValidation: &o.SkipNameValidation},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	// Argo's controller metrics (docs/metrics.md): state gauges from the cache, reconcile
	// timings, Rollout event counts.
	if err := ctrlmetrics.AddCollector(mgr, ctrlmetrics.Options{Experiments: true}); err != nil {
		return nil, err
	}
	r := &rollout.Reconciler{
		Client:        mgr.GetClient(),
		Recorder:      ctrlmetrics.CountEvents(mgr.GetEventRecorder("sluice")),
		Routers:       rollout.RouterFactory(trafficrouter.Factory(o.Routers)),
		RouterOptions: o.Routers,
		Instrument:    ctrlmetrics.Instrument(ctrlmetrics.Rollout, mgr.GetCache()),
	}
	if !o.TakeOverFromArgo {
		r.ArgoLease = &argolease.Detector{
			Reader:             mgr.GetAPIReader(),
			Name:               argolease.Name(o.InstanceID),
			Namespace:          o.ArgoLeaseNamespace,
			FallbackNamespaces: argolease.Namespaces(o.Namespace),
			Log:                mgr.GetLogger().WithName("argo-lease"),
		}
	}
	if o.Namespace != "" {
		// A namespaced controller's Role cannot list ClusterAnalysisTemplates: read them
		// directly (rollout.TemplateReader).
		r.ClusterTemplates = mgr.GetAPIReader()
	}
	if err := setupNotifications(mgr, o, r); err != nil {
		return nil, err
	}
	if err := r.SetupWithManager(mgr, o.Workers); err != nil {
		return nil, fmt.Errorf("setting up the rollout controller: %w", err)
	}
	if err := setupAnalysis(mgr, o, r.ArgoLease); err != nil {
		return nil, err
	}
	ex := &expctrl.Reconciler{Client: mgr.GetClient(), Instrument: ctrlmetrics.Instrument(ctrlmetrics.Experiment, mgr.GetCache())}
	if r.ArgoLease != nil {
		ex.ArgoLease = r.ArgoLease
	}
	ex.ClusterTemplates = r.ClusterTemplates
	if err := ex.SetupWithManager(mgr, o.Workers); err != nil {
		return nil, fmt.Errorf("setting up the Experiment controller: %w", err)
	}
	return mgr, nil
}

// setupAnalysis registers the AnalysisRun controller. Its providers read Secrets and Jobs
// straight from the API server (no cluster-wide Secret informer); Jobs are created through
// the same client.
func setupAnalysis(mgr ctrl.Manager, o Options, argo rollout.ArgoLease) error {
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return err
	}
	ns := o.ControllerNamespace
	if ns == "" {
		ns = o.LeaderElectionNamespace
	}
	workers := o.AnalysisWorkers
	if workers <= 0 {
		workers = 30 // as Argo
	}
	ar := &analysis.Reconciler{
		Client:     mgr.GetClient(),
		Providers:  registry.New(metricprovider.Deps{Client: direct, Namespace: ns}),
		Instrument: ctrlmetrics.Instrument(ctrlmetrics.AnalysisRun, mgr.GetCache()),
	}
	if argo != nil {
		ar.ArgoLease = argo
	}
	if err := ar.SetupWithManager(mgr, workers); err != nil {
		return fmt.Errorf("setting up the AnalysisRun controller: %w", err)
	}
	return nil
}

// setupNotifications sends Argo Rollouts' notifications (argo-rollouts-notification-configmap
// and -secret in the controller namespace) for the Rollout controller's events and for
// triggers with conditions; without a controller namespace there are none.
func setupNotifications(mgr ctrl.Manager, o Options, r *rollout.Reconciler) error {
	ns := o.ControllerNamespace
	if ns == "" {
		ns = o.LeaderElectionNamespace
	}
	if ns == "" {
		return nil
	}
	var argo notifications.ArgoLease
	if r.ArgoLease != nil {
		argo = r.ArgoLease
	}
	n, err := notifications.Setup(mgr, notifications.Options{Namespace: ns, Workers: o.Workers, ArgoLease: argo})
	if err != nil {
		return err
	}
	rec := r.Recorder
	if rec == nil {
		rec = mgr.GetEventRecorder("sluice")
	}
	r.Recorder = n.Recorder(rec)
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
