// Package view turns Kubernetes objects into what the sluice CLI prints: the Rollout tree of
// `sluice get rollout` (Rollout → revisions → ReplicaSets → pods, with the requested and the
// effective traffic share), the table of `sluice list rollouts` and the step table of
// `sluice plan`. It is pure: objects and the current time in, lines out; no client, no
// terminal. Tests compare its output with golden files (go test ./internal/cli/view -update
// rewrites them).
package view
