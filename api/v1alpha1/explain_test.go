package v1alpha1_test

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/client-go/discovery"

	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// TestExplainCanarySteps checks what `kubectl explain rollout.spec.strategy.canary.steps`
// prints: kubectl reads the API server's OpenAPI v3 document, so the step and its fields must
// carry their descriptions there.
func TestExplainCanarySteps(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(devclustertest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := dc.RESTClient().Get().AbsPath("/openapi/v3/apis/argoproj.io/v1alpha1").Do(t.Context()).Raw()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]*oaSchema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ro := doc.Components.Schemas["io.argoproj.v1alpha1.Rollout"]
	if ro == nil {
		t.Fatal("no io.argoproj.v1alpha1.Rollout schema published")
	}
	steps := ro.at(t, "spec", "strategy", "canary", "steps")
	if len(steps.Description) < 40 {
		t.Errorf("steps description too thin: %q", steps.Description)
	}
	t.Logf("FIELD: steps <[]Object>\nDESCRIPTION:\n%s", steps.Description)
	item := steps.Items
	if item == nil || len(item.Description) < 40 {
		t.Fatalf("step item has no useful description")
	}
	for _, f := range []string{"setWeight", "pause", "setCanaryScale", "analysis", "experiment", "setHeaderRoute", "setMirrorRoute", "plugin"} {
		p := item.Properties[f]
		if p == nil || len(p.Description) < 20 {
			t.Errorf("steps[].%s: missing or thin description", f)
			continue
		}
		t.Logf("  %-15s %s", f, strings.SplitN(p.Description, "\n", 2)[0])
	}
	if d := item.Properties["pause"].Properties["duration"]; d == nil || !strings.Contains(d.Description, "s") {
		t.Errorf("steps[].pause.duration undocumented")
	}
}

type oaSchema struct {
	Description string               `json:"description"`
	Properties  map[string]*oaSchema `json:"properties"`
	Items       *oaSchema            `json:"items"`
}

func (s *oaSchema) at(t *testing.T, path ...string) *oaSchema {
	t.Helper()
	cur := s
	for _, p := range path {
		next := cur.Properties[p]
		if next == nil {
			t.Fatalf("no property %q in the published schema (path %v)", p, path)
		}
		cur = next
	}
	return cur
}
