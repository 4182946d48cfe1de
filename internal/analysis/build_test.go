package analysis

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func lookupIn(specs map[TemplateRef]v1alpha1.AnalysisTemplateSpec) Lookup {
	return func(ref TemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
		s, ok := specs[ref]
		if !ok {
			return nil, fmt.Errorf("%s not found", ref)
		}
		return &s, nil
	}
}

func TestFlattenComposesTemplates(t *testing.T) {
	specs := map[TemplateRef]v1alpha1.AnalysisTemplateSpec{
		{Name: "all"}: {
			Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "rate"}, {TemplateName: "latency", ClusterScope: true}},
			Args:      []v1alpha1.Argument{{Name: "service"}},
		},
		{Name: "rate"}: {
			Metrics: []v1alpha1.Metric{metric("rate", nil)},
			Args:    []v1alpha1.Argument{{Name: "service", Value: new("checkout")}, {Name: "window", Value: new("1m")}},
			DryRun:  []v1alpha1.DryRun{{MetricName: "rate"}},
		},
		{Name: "latency", Cluster: true}: {
			Metrics:              []v1alpha1.Metric{metric("latency", nil)},
			Args:                 []v1alpha1.Argument{{Name: "window", Value: new("1m")}},
			MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "latency", Limit: 3}},
		},
	}
	got, err := Flatten([]TemplateRef{{Name: "all"}}, lookupIn(specs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Metrics) != 2 || got.Metrics[0].Name != "rate" || got.Metrics[1].Name != "latency" {
		t.Errorf("metrics %v", got.Metrics)
	}
	if len(got.Args) != 2 || *got.Args[0].Value != "checkout" || *got.Args[1].Value != "1m" {
		t.Errorf("args %+v: a value from a composed template fills a declared argument", got.Args)
	}
	if len(got.DryRun) != 1 || len(got.MeasurementRetention) != 1 {
		t.Errorf("dryRun %v retention %v", got.DryRun, got.MeasurementRetention)
	}

	for name, tc := range map[string]struct {
		specs map[TemplateRef]v1alpha1.AnalysisTemplateSpec
		want  string
	}{
		"missing": {map[TemplateRef]v1alpha1.AnalysisTemplateSpec{}, "AnalysisTemplate all not found"},
		"cycle": {map[TemplateRef]v1alpha1.AnalysisTemplateSpec{
			{Name: "all"}: {Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "b"}}},
			{Name: "b"}:   {Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "all"}}},
		}, "includes itself"},
		"same metric twice": {map[TemplateRef]v1alpha1.AnalysisTemplateSpec{
			{Name: "all"}: {Metrics: []v1alpha1.Metric{metric("m", nil)}, Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "b"}}},
			{Name: "b"}:   {Metrics: []v1alpha1.Metric{metric("m", nil)}},
		}, `metric "m" is defined by more than one template`},
		"two values": {map[TemplateRef]v1alpha1.AnalysisTemplateSpec{
			{Name: "all"}: {Args: []v1alpha1.Argument{{Name: "a", Value: new("1")}}, Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "b"}}},
			{Name: "b"}:   {Args: []v1alpha1.Argument{{Name: "a", Value: new("2")}}},
		}, `argument "a" has two different values`},
	} {
		if _, err := Flatten([]TemplateRef{{Name: "all"}}, lookupIn(tc.specs)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestMergeArgs(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "prod", Labels: map[string]string{"team": "payments"}}}
	stable, latest := v1alpha1.Stable, v1alpha1.Latest
	template := []v1alpha1.Argument{
		{Name: "service"}, {Name: "window", Value: new("1m")}, {Name: "stable-hash"}, {Name: "canary-hash"},
		{Name: "team"}, {Name: "ns", ValueFrom: &v1alpha1.ValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.namespace"}}},
		{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "s", Key: "k"}}},
	}
	ra := RolloutArgs{
		Args: []v1alpha1.AnalysisRunArgument{
			{Name: "service", Value: "shop-canary"},
			{Name: "stable-hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &stable}},
			{Name: "canary-hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &latest}},
			{Name: "team", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "metadata.labels['team']"}}},
			{Name: "undeclared", Value: "ignored"},
		},
		StableHash: "aaa", LatestHash: "bbb", Object: ro,
	}
	got, err := MergeArgs(template, ra)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"service": "shop-canary", "window": "1m", "stable-hash": "aaa", "canary-hash": "bbb", "team": "payments", "ns": "prod"}
	for _, a := range got {
		if a.Name == "token" {
			if a.Value != nil || a.ValueFrom == nil || a.ValueFrom.SecretKeyRef == nil {
				t.Errorf("a secret argument must stay a reference (resolved at measurement time): %+v", a)
			}
			continue
		}
		if a.Value == nil || *a.Value != want[a.Name] {
			t.Errorf("%s = %v, want %q", a.Name, a.Value, want[a.Name])
		}
	}
	if len(got) != len(template) {
		t.Errorf("%d args, want the template's %d", len(got), len(template))
	}
	if _, err := MergeArgs([]v1alpha1.Argument{{Name: "service"}}, RolloutArgs{}); err == nil || !strings.Contains(err.Error(), "no value for argument service") {
		t.Errorf("missing value: %v", err)
	}
	bad := RolloutArgs{Object: ro, Args: []v1alpha1.AnalysisRunArgument{{Name: "service", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "spec.replicas"}}}}}
	if _, err := MergeArgs([]v1alpha1.Argument{{Name: "service"}}, bad); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("unsupported fieldRef: %v", err)
	}
}

func TestResolveMetric(t *testing.T) {
	m := metric("m", func(m *v1alpha1.Metric) {
		m.Provider.Web.URL = "http://{{ args.host }}/q?s={{args.service}}"
		m.Provider.Web.Headers = []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}}
		m.Count = nil
		m.SuccessCondition = `result == "{{args.service}}"`
	})
	got, err := ResolveMetric(&m, map[string]string{"host": "h:1", "service": `a"b`, "token": "t"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Provider.Web.URL != `http://h:1/q?s=a"b` || got.Provider.Web.Headers[0].Value != "Bearer t" || got.SuccessCondition != `result == "a"b"` {
		t.Errorf("resolved %+v", got.Provider.Web)
	}
	if _, err := ResolveMetric(&m, map[string]string{"host": "h"}); err == nil || !strings.Contains(err.Error(), "{{args.service}}, {{args.token}}") {
		t.Errorf("missing: %v", err)
	}
	if p := Placeholders(&m); strings.Join(p, ",") != "host,service,token" {
		t.Errorf("placeholders %v", p)
	}
}
