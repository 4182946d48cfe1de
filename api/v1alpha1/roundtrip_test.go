package v1alpha1_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"

	v1alpha1 "github.com/sluicehq/sluice/api/v1alpha1"
)

// newTyped returns an empty Go object for an argoproj.io kind.
func newTyped(tb testing.TB, kind string) runtime.Object {
	tb.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		tb.Fatal(err)
	}
	obj, err := s.New(v1alpha1.GroupVersion.WithKind(kind))
	if err != nil {
		tb.Fatalf("kind %s: %v", kind, err)
	}
	return obj
}

// TestManifestsRoundTripThroughGoTypes decodes every testdata object strictly into the Go types
// (an unknown or misspelt field fails), encodes it again and compares: a field the Go types do
// not model would be lost here, independent of any cluster.
func TestManifestsRoundTripThroughGoTypes(t *testing.T) {
	checkGoRoundTrip(t, testdataManifests(t))
}

// TestAcceptanceManifestsRoundTripThroughGoTypes does the same for the acceptance data (Argo's
// examples, the question's manifests), when it is found.
func TestAcceptanceManifestsRoundTripThroughGoTypes(t *testing.T) {
	checkGoRoundTrip(t, acceptanceManifests(t))
}

func checkGoRoundTrip(t *testing.T, ms []manifest) {
	t.Helper()
	for _, m := range ms {
		t.Run(m.Name(), func(t *testing.T) {
			in, err := json.Marshal(m.Obj)
			if err != nil {
				t.Fatal(err)
			}
			obj := newTyped(t, m.Kind())
			strict, err := sigsjson.UnmarshalStrict(in, obj, sigsjson.DisallowUnknownFields)
			if err != nil {
				t.Fatalf("decoding into %T: %v", obj, err)
			}
			for _, e := range strict {
				t.Errorf("strict decoding into %T: %v", obj, e)
			}
			got := normalize(t, obj)
			for _, d := range diffIgnoringEmpty("", m.Obj, got) {
				t.Error(d)
			}
		})
	}
}

// TestRawJSONFieldsKeepAnyObject checks the fields that carry plugin configuration as raw JSON:
// nested objects, arrays, numbers and nulls survive a round trip byte for byte in meaning.
func TestRawJSONFieldsKeepAnyObject(t *testing.T) {
	const in = `{
	  "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "raw"},
	  "spec": {"strategy": {"canary": {
	    "trafficRouting": {"plugins": {
	      "argoproj-labs/gatewayAPI": {"httpRoutes": [{"name": "a", "useHeaderRoutes": true}], "namespace": "x"},
	      "example.com/other": {"weights": [1, 2.5, null], "nested": {"deep": {"deeper": "yes"}}}
	    }},
	    "steps": [{"plugin": {"name": "step/e2e", "config": {"return": "Successful", "n": 3, "list": [{"a": null}]}}}]
	  }}},
	  "status": {"canary": {"stepPluginStatuses": [{"index": 0, "name": "step/e2e", "operation": "Run", "status": {"anything": ["goes", 1]}}]}}
	}`
	var want map[string]any
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	var ro v1alpha1.Rollout
	if err := json.Unmarshal([]byte(in), &ro); err != nil {
		t.Fatal(err)
	}
	cp := ro.DeepCopy()
	if string(cp.Spec.Strategy.Canary.TrafficRouting.Plugins["example.com/other"]) != string(ro.Spec.Strategy.Canary.TrafficRouting.Plugins["example.com/other"]) {
		t.Error("DeepCopy changed a plugin configuration")
	}
	cp.Spec.Strategy.Canary.Steps[0].Plugin.Config[0] = 'X' // must not alias the original
	if ro.Spec.Strategy.Canary.Steps[0].Plugin.Config[0] == 'X' {
		t.Error("DeepCopy aliases json.RawMessage")
	}
	for _, d := range diffIgnoringEmpty("", want, normalize(t, &ro)) {
		t.Error(d)
	}
}

// TestPodTemplateConversions checks that the local pod template and job spec types carry the
// same JSON as their upstream counterparts, and that no upstream field is missing from them.
func TestPodTemplateConversions(t *testing.T) {
	const tmpl = `{"metadata": {"labels": {"app": "a"}, "annotations": {"x": "y"}},
	  "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}], "restartPolicy": "Never"}}`
	var local v1alpha1.PodTemplateSpec
	if err := json.Unmarshal([]byte(tmpl), &local); err != nil {
		t.Fatal(err)
	}
	core := local.CorePodTemplateSpec()
	if got := normalize(t, &core); !jsonEqual(t, got, normalize(t, &local)) {
		t.Errorf("CorePodTemplateSpec changed the JSON:\n got %s\nwant %s", short(got), short(normalize(t, &local)))
	}
	back := v1alpha1.PodTemplateSpecFromCore(&core)
	if !jsonEqual(t, normalize(t, &back), normalize(t, &local)) {
		t.Error("PodTemplateSpecFromCore does not invert CorePodTemplateSpec")
	}
	core.Labels["app"] = "changed"
	if local.Labels["app"] != "a" {
		t.Error("CorePodTemplateSpec aliases the labels")
	}

	// Every JSON field of batchv1.JobSpec must exist in the local JobSpec (a new upstream field
	// would otherwise be pruned from job metrics without anyone noticing).
	full := `{"parallelism": 1, "completions": 1, "activeDeadlineSeconds": 5, "backoffLimit": 0,
	  "backoffLimitPerIndex": 1, "maxFailedIndexes": 1, "manualSelector": true, "ttlSecondsAfterFinished": 9,
	  "completionMode": "Indexed", "suspend": false, "podReplacementPolicy": "Failed", "managedBy": "x.io/y",
	  "selector": {"matchLabels": {"a": "b"}}, "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]},
	  "successPolicy": {"rules": [{"succeededCount": 1}]}, "scheduling": {},
	  "template": ` + tmpl + `}`
	var js v1alpha1.JobSpec
	if _, err := sigsjson.UnmarshalStrict([]byte(full), &js, sigsjson.DisallowUnknownFields); err != nil {
		t.Fatal(err)
	}
	batch := js.BatchJobSpec()
	if !jsonEqual(t, normalize(t, &batch), normalize(t, &js)) {
		t.Errorf("BatchJobSpec changed the JSON:\n got %s\nwant %s", short(normalize(t, &batch)), short(normalize(t, &js)))
	}
	for name := range jsonTags(reflect.TypeFor[batchv1.JobSpec]()) {
		if !jsonTags(reflect.TypeFor[v1alpha1.JobSpec]())[name] {
			t.Errorf("batchv1.JobSpec field %q is missing from v1alpha1.JobSpec", name)
		}
	}
	for name := range jsonTags(reflect.TypeFor[corev1.PodTemplateSpec]()) {
		if !jsonTags(reflect.TypeFor[v1alpha1.PodTemplateSpec]())[name] {
			t.Errorf("corev1.PodTemplateSpec field %q is missing from v1alpha1.PodTemplateSpec", name)
		}
	}
}

// TestGoRoundTripHarnessReportsLoss makes sure the Go round trip can fail: a field the Go types do
// not have is a strict-decoding error, and a dropped value is reported.
func TestGoRoundTripHarnessReportsLoss(t *testing.T) {
	in := []byte(`{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "spec": {"notAField": 1}}`)
	strict, err := sigsjson.UnmarshalStrict(in, &v1alpha1.Rollout{}, sigsjson.DisallowUnknownFields)
	if err != nil || len(strict) != 1 {
		t.Errorf("strict decoding of an unknown field: errs %v, err %v", strict, err)
	}
	want := map[string]any{"a": map[string]any{"b": 1.0, "c": map[string]any{}}}
	if d := diffIgnoringEmpty("", want, map[string]any{"a": map[string]any{}}); len(d) != 1 {
		t.Errorf("a lost value is not reported: %v", d)
	}
}

func jsonEqual(tb testing.TB, a, b map[string]any) bool {
	tb.Helper()
	return len(diffIgnoringEmpty("", a, b)) == 0 && len(diffIgnoringEmpty("", b, a)) == 0
}

// jsonTags lists the JSON names of a struct's fields.
func jsonTags(typ reflect.Type) map[string]bool {
	out := map[string]bool{}
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}
