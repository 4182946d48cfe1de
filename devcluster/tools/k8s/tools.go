//go:build tools

// Package tools pins the Kubernetes, etcd and kwok binaries the local cluster runs. kwok is
// built in this module, against the same k8s.io/* modules as the control plane, so it compiles
// only its own packages on top of the control plane's.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
