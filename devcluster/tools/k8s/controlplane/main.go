// Command controlplane is kube-apiserver, kube-controller-manager, kube-scheduler and etcd in one
// binary, in the manner of the old hyperkube: the four share most of their packages, so one
// binary compiles and links them once. It runs the component named by the base name it was
// started as (the local cluster's cache holds a symlink per component) or, failing that, by its
// first argument:
//
//	kube-apiserver --etcd-servers=...            (via a symlink)
//	controlplane kube-scheduler --kubeconfig=...
//
// Each component's main is copied from its release (k8s.io/kubernetes/cmd/*, etcd's main.go).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	_ "time/tzdata" // for CronJob time zone support

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	name := filepath.Base(os.Args[0])
	if !slices.Contains(components, name) && len(os.Args) > 1 && slices.Contains(components, os.Args[1]) {
		name = os.Args[1]
		os.Args = os.Args[1:] // the component sees itself as argv[0]
	}
	switch name {
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kube-scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "etcd":
		etcdmain.Main(os.Args)
	default:
		fmt.Fprintf(os.Stderr, "usage: %s {%s} [flags]\n", filepath.Base(os.Args[0]), strings.Join(components, "|"))
		os.Exit(2)
	}
}

var components = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}
