package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// kubeOptions are the kubectl-like connection flags of the verbs: --kubeconfig, --context and
// -n/--namespace. Complete turns them into a client and a namespace.
type kubeOptions struct {
	kubeconfig, context, namespace string

	// Set by complete.
	client client.Client
	ns     string
}

func (k *kubeOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&k.context, "context", "", "the kubeconfig context to use")
	f.StringVarP(&k.namespace, "namespace", "n", "", "the namespace (default: the context's namespace, then default)")
	_ = cmd.RegisterFlagCompletionFunc("namespace", cobra.NoFileCompletions)
}

func (k *kubeOptions) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.kubeconfig != "" {
		rules.ExplicitPath = k.kubeconfig
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: k.context, Context: clientcmdapi.Context{Namespace: k.namespace}})
}

// complete builds the client and resolves the namespace.
func (k *kubeOptions) complete() error {
	discardLogs() // controller-runtime's client would otherwise warn that no logger is set
	cc := k.clientConfig()
	cfg, err := cc.ClientConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.UserAgent = "sluice-cli"
	cfg.QPS, cfg.Burst = 20, 40
	ns, _, err := cc.Namespace()
	if err != nil {
		return fmt.Errorf("reading the namespace from kubeconfig: %w", err)
	}
	k.ns = ns
	if k.ns == "" {
		k.ns = "default"
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme()})
	if err != nil {
		return fmt.Errorf("creating a Kubernetes client: %w", err)
	}
	k.client = c
	return nil
}

// scheme has the Kubernetes built-in types and argoproj.io/v1alpha1.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// completeRollouts completes a Rollout name argument from the cluster.
func completeRollouts(k *kubeOptions) cobra.CompletionFunc {
	return completeNames(k, func() client.ObjectList { return &v1alpha1.RolloutList{} })
}

// completeNames completes an object name argument with the names of the objects of a kind in
// the namespace.
func completeNames(k *kubeOptions, newList func() client.ObjectList) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if err := k.complete(); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
		defer cancel()
		list := newList()
		if err := k.client.List(ctx, list, client.InNamespace(k.ns)); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names := make([]string, 0, len(items))
		for _, it := range items {
			if o, ok := it.(client.Object); ok {
				names = append(names, o.GetName())
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
