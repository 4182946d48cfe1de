package v1alpha1_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	v1alpha1 "github.com/sluicehq/sluice/api/v1alpha1"
)

// The testdata objects are the repository's own proof that every field of the API is stored as
// written (TestManifestsAdmitted, TestManifestsRoundTripThroughGoTypes,
// TestManifestsApplyAndReadBackUnchanged). TestTestdataSetsEverySchemaField makes that proof
// complete: every property of every CRD schema, at every place it occurs, must be set by at
// least one testdata object of that kind, so a field added to the API without a manifest that
// sets it fails here.
//
// Schema paths are written .spec.metrics[].provider.web.headers[].key: "[]" is an array item,
// "{}" the value of a map (labels{}, plugins{}).

// notSetInTestdata lists what the testdata need not set, and why. Keep it short.
var notSetInTestdata = []struct {
	// below reports whether the path lies inside a subtree that is exempt. The subtree's root
	// itself must still be set.
	below  func(s *apiextensionsv1.JSONSchemaProps) bool
	reason string
}{{
	// A corev1.PodSpec (in a Rollout's template, an Experiment's templates, a job metric's
	// template) is Kubernetes' type, embedded as generated from k8s.io/api: about 1,300 paths
	// per kind. The testdata set a realistic pod spec in each place; podtemplate_test.go covers
	// what sluice changes in it (quantities, defaults).
	below:  func(s *apiextensionsv1.JSONSchemaProps) bool { _, ok := s.Properties["containers"]; return ok },
	reason: "a corev1.PodSpec",
}}

// schemaPaths returns every path of the schema s, prefixed by path, except the ones below an
// exempt subtree.
func schemaPaths(path string, s *apiextensionsv1.JSONSchemaProps, out map[string]bool) {
	out[path] = true
	for _, e := range notSetInTestdata {
		if e.below(s) {
			return
		}
	}
	for k, c := range s.Properties {
		schemaPaths(path+"."+k, &c, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		schemaPaths(path+"[]", s.Items.Schema, out)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		schemaPaths(path+"{}", s.AdditionalProperties.Schema, out)
	}
}

// setPaths adds to out the schema path of every value set in v (an object of schema s).
// Values the schema does not know are left to the pruning checks.
func setPaths(path string, v any, s *apiextensionsv1.JSONSchemaProps, out map[string]bool) {
	out[path] = true
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if c, ok := s.Properties[k]; ok {
				setPaths(path+"."+k, e, &c, out)
			} else if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
				setPaths(path+"{}", e, s.AdditionalProperties.Schema, out)
			}
		}
	case []any:
		if s.Items != nil && s.Items.Schema != nil {
			for _, e := range x {
				setPaths(path+"[]", e, s.Items.Schema, out)
			}
		}
	}
}

// unsetPaths returns, by kind, the schema paths no manifest of that kind sets, sorted.
func unsetPaths(crds map[string]*crdSchema, ms []manifest) map[string][]string {
	set := map[string]map[string]bool{}
	for _, m := range ms {
		s := crds[m.Kind()]
		if s == nil {
			continue // reported by the admission tests
		}
		if set[m.Kind()] == nil {
			set[m.Kind()] = map[string]bool{}
		}
		setPaths("", m.Obj, s.schema, set[m.Kind()])
	}
	out := map[string][]string{}
	for kind, s := range crds {
		all := map[string]bool{}
		schemaPaths("", s.schema, all)
		for p := range all {
			if !set[kind][p] {
				out[kind] = append(out[kind], p)
			}
		}
		slices.Sort(out[kind])
	}
	return out
}

func TestTestdataSetsEverySchemaField(t *testing.T) {
	crds := loadCRDs(t)
	unset := unsetPaths(crds, testdataManifests(t))
	for _, kind := range slices.Sorted(maps.Keys(crds)) {
		all := map[string]bool{}
		schemaPaths("", crds[kind].schema, all)
		t.Logf("%s: %d schema paths, %d set by testdata/", kind, len(all), len(all)-len(unset[kind]))
		if paths := unset[kind]; len(paths) > 0 {
			t.Errorf("%s: %d schema paths are set by no %s in testdata/ (add them to a manifest there):\n  %s",
				kind, len(paths), kind, strings.Join(paths, "\n  "))
		}
	}
}

// TestSchemaCoverageReportsUnsetFields makes sure the coverage check can fail: a field left out
// of the manifests is reported at its path, and a pod spec's own fields are not asked for.
func TestSchemaCoverageReportsUnsetFields(t *testing.T) {
	crds := loadCRDs(t)
	ro := mustParse(t, `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: x}
spec:
  template:
    spec:
      containers: [{name: app, image: nginx}]
  strategy:
    canary:
      steps: [{setWeight: 10}]
`)
	unset := unsetPaths(crds, []manifest{{File: "x.yaml", Obj: ro}})[v1alpha1.RolloutKind]
	for _, want := range []string{".spec.replicas", ".spec.strategy.canary.steps[].pause.duration", ".spec.strategy.blueGreen"} {
		if !slices.Contains(unset, want) {
			t.Errorf("%s is not reported as unset", want)
		}
	}
	for _, p := range unset {
		if strings.HasPrefix(p, ".spec.template.spec.") || p == ".spec.strategy.canary.steps[].setWeight" || p == ".spec.template.spec" {
			t.Errorf("%s is reported as unset", p)
		}
	}
}
