package kubeobj

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// mapperServing is a RESTMapper whose group serves kind at versions, the first one preferred
// (as discovery orders them).
func mapperServing(group, kind string, versions ...string) meta.RESTMapper {
	gvs := make([]schema.GroupVersion, 0, len(versions))
	for _, v := range versions {
		gvs = append(gvs, schema.GroupVersion{Group: group, Version: v})
	}
	m := meta.NewDefaultRESTMapper(gvs)
	for _, gv := range gvs {
		m.Add(gv.WithKind(kind), meta.RESTScopeNamespace)
	}
	return m
}

func TestResolve(t *testing.T) {
	t.Parallel()
	vs := schema.GroupKind{Group: "networking.istio.io", Kind: "VirtualService"}
	istio := API{GroupKind: vs, Known: []string{"v1", "v1beta1", "v1alpha3"}, Flag: "--istio-api-version"}
	withVersion := func(a API, v string) API { a.Version = v; return a }
	smi := API{GroupKind: schema.GroupKind{Group: "split.smi-spec.io", Kind: "TrafficSplit"}, Known: []string{"v1alpha3", "v1alpha2", "v1alpha1"}}
	tests := []struct {
		name    string
		api     API
		mapper  meta.RESTMapper
		want    string
		wantErr string
	}{
		{"Istio before 1.22: v1beta1 preferred", istio, mapperServing(vs.Group, vs.Kind, "v1beta1", "v1alpha3"), "v1beta1", ""},
		{"Istio 1.22+: v1", istio, mapperServing(vs.Group, vs.Kind, "v1", "v1beta1", "v1alpha3"), "v1", ""},
		{"explicit version wins", withVersion(istio, "v1alpha3"), mapperServing(vs.Group, vs.Kind, "v1", "v1alpha3"), "v1alpha3", ""},
		{"explicit version not served", withVersion(istio, "v1"), mapperServing(vs.Group, vs.Kind, "v1beta1", "v1alpha3"), "",
			"this cluster serves VirtualService (networking.istio.io) at v1beta1, v1alpha3, not at v1 as the controller's --istio-api-version asks"},
		{"explicit version unknown", withVersion(istio, "v2"), mapperServing(vs.Group, vs.Kind, "v1"), "", `--istio-api-version: unknown VirtualService version "v2" (known: v1, v1beta1, v1alpha3)`},
		{"not installed", istio, mapperServing("other.io", "Other", "v1"), "",
			"this cluster does not serve VirtualService (networking.istio.io): its CustomResourceDefinition is not installed"},
		{"SMI: the newest served", smi, mapperServing(smi.Group, smi.Kind, "v1alpha2", "v1alpha1"), "v1alpha2", ""},
		{"an unknown preferred version: the newest known one", smi, mapperServing(smi.Group, smi.Kind, "v1alpha4", "v1alpha1", "v1alpha2"), "v1alpha2", ""},
		{"no known version served", smi, mapperServing(smi.Group, smi.Kind, "v1alpha4"), "",
			"this cluster serves TrafficSplit (split.smi-spec.io) only at v1alpha4, which sluice cannot use (it knows v1alpha3, v1alpha2, v1alpha1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.api.Resolve(tt.mapper)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve = %v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.api.WithVersion(tt.want) {
				t.Fatalf("Resolve = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
	_, err := istio.Resolve(mapperServing("other.io", "Other", "v1"))
	var ns *NotServedError
	if !errors.As(err, &ns) || !IsNotServed(err) || len(ns.Served) != 0 {
		t.Errorf("a kind that is not served: %v", err)
	}
}
