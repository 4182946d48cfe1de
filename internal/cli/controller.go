package cli

import (
	"cmp"
	"fmt"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/sluicehq/sluice/internal/controller"
)

func newControllerCommand() *cobra.Command {
	var (
		o          controller.Options
		kubeconfig string
		kubeCtx    string
		qps        float32
		burst      int
		devLogs    bool
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the Rollout controller",
		Long: `controller reconciles argoproj.io/v1alpha1 Rollouts (canary strategy): it creates and scales
their ReplicaSets step by step, points their Services, and reports status the way Argo Rollouts
does, so the kubectl argo rollouts plugin and Argo CD work with it.

Only one controller should manage a given Rollout. While Argo Rollouts' controller of the same
instance id is running (its Lease argo-rollouts-controller-lock[-<instance-id>] is held and
renewed), sluice leaves the Rollouts alone, with an ArgoControllerActive event on each, and takes
over by itself once that Lease expires (scale Argo's Deployment to 0);
--take-over-from-argo acts at once. See docs/migrating-from-argo.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseDevMode(devLogs), zap.WriteTo(cmd.ErrOrStderr())))
			if err := o.Routers.Validate(); err != nil {
				return err
			}
			cfg, ns, err := restConfig(kubeconfig, kubeCtx)
			if err != nil {
				return err
			}
			if o.LeaderElect && o.LeaderElectionNamespace == "" {
				// The pod's namespace (POD_NAMESPACE, which the Deployment sets, else the
				// service account's); out of the cluster --namespace, else the kubeconfig
				// context's (as kubectl would).
				o.LeaderElectionNamespace = cmp.Or(os.Getenv("POD_NAMESPACE"), podNamespace(), o.Namespace, ns)
				ctrl.Log.Info("leader election", "leaseNamespace", o.LeaderElectionNamespace)
			}
			if o.ControllerNamespace == "" {
				// Where provider credentials live: the pod's namespace in the cluster (as
				// Argo's), out of it --namespace, else the kubeconfig context's.
				o.ControllerNamespace = cmp.Or(os.Getenv("POD_NAMESPACE"), podNamespace(), o.Namespace, ns)
			}
			cfg.QPS, cfg.Burst = qps, burst
			cfg.UserAgent = "sluice-controller"
			mgr, err := controller.NewManager(cfg, o)
			if err != nil {
				return err
			}
			return mgr.Start(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&kubeCtx, "context", "", "kubeconfig context to use")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "only manage Rollouts in this namespace (default: all namespaces)")
	f.StringVar(&o.InstanceID, "instance-id", "", "only manage Rollouts labelled argo-rollouts.argoproj.io/controller-instance-id=<id> (default: only unlabelled ones)")
	f.IntVar(&o.Workers, "rollout-threads", 10, "number of Rollouts reconciled at once")
	f.IntVar(&o.AnalysisWorkers, "analysis-threads", 30, "number of AnalysisRuns measured at once")
	f.StringVar(&o.ControllerNamespace, "controller-namespace", "", "namespace of the metric providers' credential Secrets (datadog, newrelic, influxdb) and of argo-rollouts-notification-configmap and -secret (default: the pod's namespace; out of the cluster --namespace, else the kubeconfig context's)")
	f.BoolVar(&o.LeaderElect, "leader-elect", true, "elect a leader on a Lease so only one replica is active")
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: $POD_NAMESPACE, else the pod's namespace; out of the cluster --namespace, else the kubeconfig context's)")
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8090", "Prometheus metrics address (0 disables)")
	f.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8080", "/healthz and /readyz address (0 disables)")
	f.Float32Var(&qps, "qps", 40, "API requests per second the controller may issue")
	f.IntVar(&burst, "burst", 80, "API request burst")
	f.BoolVar(&devLogs, "dev-logs", false, "human-readable logs instead of JSON")
	f.BoolVar(&o.TakeOverFromArgo, "take-over-from-argo", false, "act on Rollouts even while Argo Rollouts' controller of the same instance id holds its Lease (default: leave them alone until it expires)")
	f.StringVar(&o.ArgoLeaseNamespace, "argo-lease-namespace", "", "namespace of Argo Rollouts' Lease (default: all namespaces, or argo-rollouts and --namespace when listing Leases cluster-wide is forbidden)")
	f.StringVar(&o.Routers.SMIAPIVersion, "traffic-split-api-version", "", "SMI TrafficSplit version to write: v1alpha1, v1alpha2 or v1alpha3 (default: the newest the cluster serves)")
	f.StringVar(&o.Routers.IstioAPIVersion, "istio-api-version", "", "Istio networking API version: v1, v1beta1 or v1alpha3 (default: the newest the cluster serves)")
	f.StringVar(&o.Routers.GatewayAPIStreamVersion, "gateway-api-stream-version", "", "Gateway API TCPRoute/TLSRoute version: v1 or v1alpha2 (default: the newest the cluster serves)")
	return cmd
}

// restConfig loads a client configuration like kubectl does. Out of the cluster it also
// returns the kubeconfig context's namespace ("default" when it names none); in the cluster "".
func restConfig(kubeconfig, context string) (*rest.Config, string, error) {
	if kubeconfig == "" && context == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, "", nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	return cfg, ns, nil
}

// discardLogs silences controller-runtime for in-process controllers (dev, demo).
func discardLogs() { ctrl.SetLogger(logr.Discard()) }

// podNamespace is the namespace of the pod the controller runs in ("" out of the cluster).
func podNamespace() string {
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
