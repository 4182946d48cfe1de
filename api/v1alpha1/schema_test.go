package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/config/crd"
)

// crdSchema is a generated CRD with the machinery the API server builds from it: the structural
// schema (pruning, defaulting), the OpenAPI validator and the CEL validator.
type crdSchema struct {
	crd        *apiextensionsv1.CustomResourceDefinition
	schema     *apiextensionsv1.JSONSchemaProps // v1 form, for comparisons
	structural *structuralschema.Structural
	openapi    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// loadCRDs reads the embedded CRDs, by kind.
func loadCRDs(tb testing.TB) map[string]*crdSchema {
	tb.Helper()
	files, err := crd.Files()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*crdSchema{}
	for name, b := range files {
		var c apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(b, &c); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		if len(c.Spec.Versions) != 1 || c.Spec.Versions[0].Schema == nil {
			tb.Fatalf("%s: want one version with a schema", name)
		}
		v1Schema := c.Spec.Versions[0].Schema.OpenAPIV3Schema
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1Schema, &internal, nil); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		s, err := structuralschema.NewStructural(&internal)
		if err != nil {
			tb.Fatalf("%s: not a structural schema: %v", name, err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out[c.Spec.Names.Kind] = &crdSchema{
			crd: &c, schema: v1Schema, structural: s, openapi: validator,
			cel: cel.NewValidator(s, true, celconfig.PerCallLimit),
		}
	}
	return out
}

// admit runs obj through what the API server does to a custom resource on create (or update,
// with old): drop unknown fields, drop nulls, apply defaults, validate with OpenAPI and CEL.
// It returns the stored object, the pruned field paths and the validation errors.
func (s *crdSchema) admit(tb testing.TB, obj, old map[string]any) (map[string]any, []string, field.ErrorList) {
	tb.Helper()
	in := unstructuredCopy(tb, obj)
	pruned := pruning.PruneWithOptions(in, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(in, s.structural)
	structuraldefaulting.Default(in, s.structural)
	var errs field.ErrorList
	var oldObj any
	if old != nil {
		o := unstructuredCopy(tb, old)
		pruning.Prune(o, s.structural, true)
		structuraldefaulting.Default(o, s.structural)
		oldObj = o
		errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(nil, in, o, s.openapi)...)
	} else {
		errs = append(errs, apiservervalidation.ValidateCustomResource(nil, in, s.openapi)...)
	}
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, in, oldObj, celconfig.RuntimeCELCostBudget)
	errs = append(errs, celErrs...)
	return normalize(tb, in), pruned, errs
}

// unstructuredCopy decodes obj as the API server does: integers become int64, other numbers
// float64 (CEL tells the two apart).
func unstructuredCopy(tb testing.TB, obj map[string]any) map[string]any {
	tb.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	var out map[string]any
	if err := utiljson.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestCRDsPassAPIServerValidation runs the API server's own CRD validation on every generated
// CRD: structural schema rules, CEL compilation and the static CEL cost limits (per rule and per
// CRD). A CRD failing here would be rejected at install time.
func TestCRDsPassAPIServerValidation(t *testing.T) {
	files, err := crd.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Fatalf("want 5 CRD files, got %d", len(files))
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			var c apiextensionsv1.CustomResourceDefinition
			if err := yaml.UnmarshalStrict(b, &c); err != nil {
				t.Fatal(err)
			}
			c.Status.StoredVersions = []string{"v1alpha1"} // set by the API server on create
			var internal apiextensions.CustomResourceDefinition
			if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&c, &internal, nil); err != nil {
				t.Fatal(err)
			}
			for _, e := range apiextensionsvalidation.ValidateCustomResourceDefinition(context.Background(), &internal) {
				t.Error(e)
			}
			j, err := json.Marshal(&c)
			if err != nil {
				t.Fatal(err)
			}
			// etcd stores objects of up to 1.5 MiB by default; leave room for managedFields.
			if len(j) > 1024*1024 {
				t.Errorf("CRD is %d bytes of JSON; too close to etcd's 1.5 MiB object limit", len(j))
			}
			t.Logf("%s: %d KiB of JSON", name, len(j)/1024)
		})
	}
}

// TestCRDNames pins the wire identity of the five kinds: group, plural, short names, scope,
// subresources and printer columns are what Argo Rollouts' clients expect.
func TestCRDNames(t *testing.T) {
	crds := loadCRDs(t)
	want := map[string]struct {
		plural, short string
		scope         apiextensionsv1.ResourceScope
		columns       []string
	}{
		v1alpha1.RolloutKind:                 {"rollouts", "ro", apiextensionsv1.NamespaceScoped, []string{"Desired", "Current", "Up-to-date", "Available", "Phase", "Step", "Weight", "Age"}},
		v1alpha1.AnalysisTemplateKind:        {"analysistemplates", "at", apiextensionsv1.NamespaceScoped, []string{"Age"}},
		v1alpha1.ClusterAnalysisTemplateKind: {"clusteranalysistemplates", "cat", apiextensionsv1.ClusterScoped, []string{"Age"}},
		v1alpha1.AnalysisRunKind:             {"analysisruns", "ar", apiextensionsv1.NamespaceScoped, []string{"Status", "Age"}},
		v1alpha1.ExperimentKind:              {"experiments", "exp", apiextensionsv1.NamespaceScoped, []string{"Status", "Age"}},
	}
	for kind, w := range want {
		c, ok := crds[kind]
		if !ok {
			t.Errorf("no CRD for %s", kind)
			continue
		}
		n := c.crd.Spec.Names
		if c.crd.Spec.Group != v1alpha1.Group || n.Plural != w.plural || len(n.ShortNames) != 1 || n.ShortNames[0] != w.short || c.crd.Spec.Scope != w.scope {
			t.Errorf("%s: group %s plural %s short %v scope %s", kind, c.crd.Spec.Group, n.Plural, n.ShortNames, c.crd.Spec.Scope)
		}
		v := c.crd.Spec.Versions[0]
		if v.Name != "v1alpha1" || !v.Served || !v.Storage || v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s: version %s served %t storage %t, want a status subresource", kind, v.Name, v.Served, v.Storage)
		}
		var cols []string
		for _, col := range v.AdditionalPrinterColumns {
			cols = append(cols, col.Name)
		}
		if strings.Join(cols, ",") != strings.Join(w.columns, ",") {
			t.Errorf("%s: printer columns %v, want %v", kind, cols, w.columns)
		}
	}
	scale := crds[v1alpha1.RolloutKind].crd.Spec.Versions[0].Subresources.Scale
	if scale == nil || scale.SpecReplicasPath != ".spec.replicas" || scale.StatusReplicasPath != ".status.HPAReplicas" || scale.LabelSelectorPath == nil || *scale.LabelSelectorPath != ".status.selector" {
		t.Errorf("Rollout scale subresource: %+v", scale)
	}
}

// TestManifestsAdmitted runs every testdata object (status included) through the API server's
// admission chain for custom resources: nothing may be pruned, nothing rejected, and the only
// additions allowed are schema defaults.
func TestManifestsAdmitted(t *testing.T) {
	checkAdmitted(t, testdataManifests(t))
}

// TestAcceptanceManifestsAdmitted does the same for every acceptance manifest (Argo's examples,
// the question's manifests), when the acceptance data is found.
func TestAcceptanceManifestsAdmitted(t *testing.T) {
	checkAdmitted(t, acceptanceManifests(t))
}

func checkAdmitted(t *testing.T, ms []manifest) {
	t.Helper()
	crds := loadCRDs(t)
	for _, m := range ms {
		t.Run(m.Name(), func(t *testing.T) {
			s := crds[m.Kind()]
			if s == nil {
				t.Fatalf("no CRD for kind %q", m.Kind())
			}
			got, pruned, errs := s.admit(t, m.Obj, nil)
			for _, p := range pruned {
				t.Errorf("pruned unknown field %s", p)
			}
			for _, e := range errs {
				t.Errorf("rejected: %v", e)
			}
			for _, d := range diffWithDefaults("", normalize(t, m.Obj), got, s.schema) {
				t.Error(d)
			}
		})
	}
}

// TestValidationRules checks each validation case against the emulated admission chain.
func TestValidationRules(t *testing.T) {
	crds := loadCRDs(t)
	for _, tc := range validationCases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustParse(t, tc.yaml)
			s := crds[fmt.Sprint(obj["kind"])]
			var old map[string]any
			if tc.old != "" {
				old = mustParse(t, tc.old)
				if _, _, errs := s.admit(t, old, nil); len(errs) > 0 {
					t.Fatalf("the old object is rejected: %v", errs.ToAggregate())
				}
			}
			_, pruned, errs := s.admit(t, obj, old)
			for _, p := range pruned {
				t.Errorf("pruned unknown field %s (the case is malformed)", p)
			}
			checkRejection(t, tc, errs.ToAggregate())
		})
	}
}

func checkRejection(tb testing.TB, tc validationCase, err error) {
	tb.Helper()
	if err != nil {
		tb.Logf("rejected: %v", err)
	}
	switch {
	case tc.want == "" && err != nil:
		tb.Errorf("rejected, want accepted: %v", err)
	case tc.want != "" && err == nil:
		tb.Errorf("accepted, want an error containing %q", tc.want)
	case tc.want != "" && !strings.Contains(err.Error(), tc.want):
		tb.Errorf("error %q does not contain %q", err, tc.want)
	}
}

func mustParse(tb testing.TB, doc string) map[string]any {
	tb.Helper()
	obj, err := parseObject([]byte(doc))
	if err != nil || obj == nil {
		tb.Fatalf("parsing test manifest: %v\n%s", err, doc)
	}
	return obj
}

// TestAdmissionHarnessReportsLoss makes sure the checks above can fail: an unknown field is
// reported as pruned, and a value the server changed or added is reported.
func TestAdmissionHarnessReportsLoss(t *testing.T) {
	s := loadCRDs(t)[v1alpha1.RolloutKind]
	obj := mustParse(t, canary(`
      steps:
      - setWeight: 10
        notAField: 1
`))
	got, pruned, errs := s.admit(t, obj, nil)
	if len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	if len(pruned) != 1 || !strings.Contains(pruned[0], "notAField") {
		t.Errorf("pruned fields = %v, want the unknown field", pruned)
	}
	diffs := diffWithDefaults("", normalize(t, obj), got, s.schema)
	if len(diffs) != 1 || !strings.Contains(diffs[0], "notAField: pruned") {
		t.Errorf("diffs = %v, want one pruned field", diffs)
	}
	got["spec"].(map[string]any)["paused"] = true
	if diffs := diffWithDefaults("", normalize(t, obj), got, s.schema); len(diffs) < 2 {
		t.Errorf("an added non-default field was not reported: %v", diffs)
	}
}
