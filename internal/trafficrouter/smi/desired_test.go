package smi

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

func TestSpec(t *testing.T) {
	t.Parallel()
	d := contract.Desired{Services: contract.Services{Canary: "c", Stable: "s"}, Weight: 25,
		Additional: []v1alpha1.WeightDestination{{ServiceName: "e", Weight: 5}}}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"v1alpha1 quantities, root defaults to the stable Service", Config{APIVersion: V1alpha1},
			`{"backends":[{"service":"c","weight":"25"},{"service":"e","weight":"5"},{"service":"s","weight":"70"}],"service":"s"}`},
		{"v1alpha3 integers and rootService", Config{APIVersion: V1alpha3, SMI: v1alpha1.SMITrafficRouting{RootService: "root"}},
			`{"backends":[{"service":"c","weight":25},{"service":"e","weight":5},{"service":"s","weight":70}],"service":"root"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(Spec(tt.cfg, d))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("spec\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestTrafficSplitKeepsOtherFields(t *testing.T) {
	t.Parallel()
	cfg := Config{Rollout: "ro", Namespace: "ns", APIVersion: V1alpha3}
	cur := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "ro", "labels": map[string]any{"team": "a"}},
		"spec":     map[string]any{"matches": []any{map[string]any{"kind": "HTTPRouteGroup", "name": "g"}}, "service": "old"},
	}}
	got := TrafficSplit(cur, cfg, contract.Desired{Services: contract.Services{Canary: "c", Stable: "s"}})
	if got.GetLabels()["team"] != "a" || got.Object["spec"].(map[string]any)["matches"] == nil || got.Object["spec"].(map[string]any)["service"] != "s" {
		t.Errorf("got %v", got.Object)
	}
	if _, err := ConfigFor(&v1alpha1.Rollout{}, "v2"); err == nil {
		t.Error("an unknown version was accepted")
	}
}
