// Package examples holds sluice's example manifests (embedded, so `sluice demo` carries them):
// rollout-basic.yaml at the top, and one directory per traffic router.
// rollout-basic.yaml is the Rollout from the question sluice answers: 3 replicas,
// setWeight 20 → pause 20s → setWeight 100, no traffic router.
package examples

import "embed"

// FS holds the example manifests.
//
//go:embed *.yaml */*.yaml
var FS embed.FS
