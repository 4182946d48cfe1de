// Package smi is the SMI router: it keeps a TrafficSplit (split.smi-spec.io v1alpha1, v1alpha2
// or v1alpha3) named trafficSplitName (default: the Rollout's name), owned by the Rollout, that
// splits the root Service between the canary and stable Services.
//
// desired.go is pure (the TrafficSplit for a split); router.go does the I/O.
package smi
