package charts

import (
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"
)

// TestHelmLint runs `helm lint --strict`'s checks (Helm's pkg/lint) on the chart with the
// default values and with the non-default ones the other tests render: no warning, no error.
func TestHelmLint(t *testing.T) {
	for name, values := range map[string]string{
		"defaults":   "",
		"namespaced": `{controller: {namespaced: true, instanceID: blue, extraArgs: [--qps=80]}, metrics: {serviceMonitor: {enabled: true}}}`,
		"minimal":    `{replicaCount: 1, controller: {leaderElection: {enabled: false}}, metrics: {enabled: false}, networkPolicy: {enabled: false}, rbac: {create: false}, serviceAccount: {create: false, name: existing}}`,
	} {
		t.Run(name, func(t *testing.T) {
			vals := map[string]any{}
			if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
				t.Fatal(err)
			}
			l := lint.All(chartDir, vals, namespace, true)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}
