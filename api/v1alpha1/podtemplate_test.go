package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	v1alpha1 "github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
	"github.com/sluicehq/sluice/internal/plan"
)

// The pod template of a Rollout must be stored exactly as written, and its hash must be the one
// Argo Rollouts computes: a Rollout that Argo created keeps its ReplicaSets (and pods) when
// sluice takes over only if both controllers hash the same template. Two things stood in the
// way, both fixed in the CRD generation (hack/crdpostprocess): quantities written as numbers
// (`cpu: 0.5`, which a Deployment and Argo accept) were refused, and schema defaults copied from
// the Kubernetes types (a container port's protocol: TCP) were added to the stored template.

// portRollout has the fields the Kubernetes types give a default to: a container port without
// a protocol (default TCP), a ConfigMap reference without a name (default "").
const portRollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: ports
spec:
  selector:
    matchLabels:
      app: p
  template:
    metadata:
      labels:
        app: p
    spec:
      containers:
      - name: app
        image: nginx
        ports:
        - containerPort: 8080
        - containerPort: 8443
          name: https
        envFrom:
        - configMapRef:
            optional: true
`

// quantityRollout has a quantity in every form a Deployment accepts, in requests, limits, an
// emptyDir size and a downward-API divisor.
const quantityRollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: quantities
spec:
  selector:
    matchLabels:
      app: q
  template:
    metadata:
      labels:
        app: q
    spec:
      containers:
      - name: app
        image: nginx
        resources:
          requests:
            cpu: 0.5
            memory: 1e9
            ephemeral-storage: 2
          limits:
            cpu: 0.001
            memory: "1Gi"
            ephemeral-storage: "500M"
        env:
        - name: CPU
          valueFrom:
            resourceFieldRef:
              resource: limits.cpu
              divisor: 0.001
      - name: sidecar
        image: envoy
        resources:
          requests:
            cpu: "500m"
            memory: 1.5e-3
          limits:
            cpu: ".5"
            memory: "1e3"
      volumes:
      - name: scratch
        emptyDir:
          sizeLimit: 1e21
`

// argoPodTemplateHash is Argo Rollouts' ComputePodTemplateHash (argo-compat.md §2.7) applied to
// a manifest as Argo reads it: the template decoded into a core/v1 PodTemplateSpec, encoded
// again, fnv-32a, decimal, SafeEncodeString. It is written here independently of
// plan.PodTemplateHash, which goes through sluice's own template type.
func argoPodTemplateHash(tb testing.TB, obj map[string]any) string {
	tb.Helper()
	spec, _ := obj["spec"].(map[string]any)
	b, err := json.Marshal(spec["template"])
	if err != nil {
		tb.Fatal(err)
	}
	var t corev1.PodTemplateSpec
	if err := json.Unmarshal(b, &t); err != nil {
		tb.Fatalf("decoding the template as core/v1: %v", err)
	}
	b, err = json.Marshal(&t)
	if err != nil {
		tb.Fatal(err)
	}
	h := fnv.New32a()
	_, _ = h.Write(b)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// sluiceHash decodes obj into sluice's Rollout type, as the controller reads it, and returns
// plan.PodTemplateHash of its template.
func sluiceHash(tb testing.TB, obj map[string]any) string {
	tb.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	var ro v1alpha1.Rollout
	if err := json.Unmarshal(b, &ro); err != nil {
		tb.Fatalf("decoding into v1alpha1.Rollout: %v", err)
	}
	return plan.PodTemplateHash(&ro.Spec.Template, nil)
}

// checkStoredTemplate requires got (a Rollout as stored) to hold exactly the spec that was
// sent, and to hash like the manifest as written does under Argo.
func checkStoredTemplate(t *testing.T, sent, got map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(sent["spec"], got["spec"]) {
		t.Errorf("the spec came back changed (a schema default?):\nsent %s\n got %s", short(sent["spec"]), short(got["spec"]))
		for _, d := range diffIgnoringEmpty(".spec", sent["spec"], got["spec"]) {
			t.Error(d)
		}
	}
	want, gotHash := argoPodTemplateHash(t, sent), sluiceHash(t, got)
	if gotHash != want {
		t.Errorf("pod-template hash of the stored Rollout = %s, Argo's hash of the manifest as written = %s: every pod would be replaced on migration", gotHash, want)
	}
}

// storedOnCluster applies a manifest server-side to the local cluster and returns what was sent
// and what was read back, without the fields the server owns.
func storedOnCluster(t *testing.T, manifest string) (sent, got map[string]any) {
	t.Helper()
	c := newClusterClient(t)
	sent, got, _, err := c.apply(t, mustParse(t, manifest), devclustertest.Namespace(t))
	if err != nil {
		t.Fatalf("apply rejected: %v", err)
	}
	return withoutServerFields(sent), withoutServerFields(got)
}

// admitted runs a manifest through the emulated admission chain and returns what was sent and
// what would be stored.
func admitted(t *testing.T, manifest string) (sent, got map[string]any) {
	t.Helper()
	obj := mustParse(t, manifest)
	got, pruned, errs := loadCRDs(t)[v1alpha1.RolloutKind].admit(t, obj, nil)
	for _, p := range pruned {
		t.Errorf("pruned %s", p)
	}
	if len(errs) > 0 {
		t.Fatalf("rejected: %v", errs.ToAggregate())
	}
	return normalize(t, obj), got
}

// TestTemplateDefaultsNotApplied: a port without a protocol is stored without one.
func TestTemplateDefaultsNotApplied(t *testing.T) {
	sent, got := admitted(t, portRollout)
	checkStoredTemplate(t, sent, got)
}

func TestTemplateDefaultsNotAppliedOnCluster(t *testing.T) {
	sent, got := storedOnCluster(t, portRollout)
	checkStoredTemplate(t, sent, got)
}

// TestQuantitiesStoredAsWritten: numbers are accepted and kept.
func TestQuantitiesStoredAsWritten(t *testing.T) {
	sent, got := admitted(t, quantityRollout)
	checkStoredTemplate(t, sent, got)
}

func TestQuantitiesStoredAsWrittenOnCluster(t *testing.T) {
	sent, got := storedOnCluster(t, quantityRollout)
	checkStoredTemplate(t, sent, got)
}

// TestQuantityHashIsCanonical: Argo hashes the template after a round trip through the Go types,
// so a number and the canonical string it decodes to hash the same (0.5 and "500m").
func TestQuantityHashIsCanonical(t *testing.T) {
	withCPU := func(v string) map[string]any {
		return mustParse(t, strings.Replace(quantityRollout, "cpu: 0.5", "cpu: "+v, 1))
	}
	a, b := withCPU(`0.5`), withCPU(`"500m"`)
	if ha, hb := sluiceHash(t, a), sluiceHash(t, b); ha != hb {
		t.Errorf("cpu 0.5 hashes to %s, cpu \"500m\" to %s", ha, hb)
	}
	if ha, hb := argoPodTemplateHash(t, a), sluiceHash(t, a); ha != hb {
		t.Errorf("Argo's hash %s, sluice's %s", ha, hb)
	}
}

// quantityCases are the quantity forms the CRD must accept (every form a Deployment accepts)
// and refuse (every value the Go types cannot decode: the controller could not read such a
// Rollout, and a list of Rollouts containing it would fail).
var quantityCases = []validationCase{
	{name: "accepts numbers", yaml: withQuantity("0.5")},
	{name: "accepts an integer", yaml: withQuantity("2")},
	{name: "accepts a negative number", yaml: withQuantity("-1")},
	{name: "accepts an exponent number", yaml: withQuantity("1e3")},
	{name: "accepts a small number", yaml: withQuantity("0.000001")},
	{name: "accepts a string with a suffix", yaml: withQuantity(`"250m"`)},
	{name: "accepts a binary suffix", yaml: withQuantity(`"1.5Gi"`)},
	{name: "accepts an exponent string", yaml: withQuantity(`"12e-3"`)},
	{name: "accepts a leading dot", yaml: withQuantity(`".5"`)},
	{name: "refuses a word", want: "should match", yaml: withQuantity(`"abc"`)},
	{name: "refuses an empty string", want: "should match", yaml: withQuantity(`""`)},
	{name: "refuses an unknown suffix", want: "should match", yaml: withQuantity(`"1Ki2"`)},
	{name: "refuses a fractional exponent", want: "should match", yaml: withQuantity(`"1e1.5"`)},
	{name: "refuses a boolean", want: "must not validate the schema", yaml: withQuantity("true")},
	{name: "refuses an object", want: "should have at least 1 properties", yaml: withQuantity("{}")},
	{name: "refuses a non-empty object", want: "must have at most 0 items", yaml: withQuantity("{a: 1}")},
	{name: "refuses a list", want: "should have at least 1 items", yaml: withQuantity("[]")},
	{name: "refuses a non-empty list", want: "must have at most 0 items", yaml: withQuantity(`["1"]`)},
}

// withQuantity returns a Rollout whose container requests cpu: v (YAML).
func withQuantity(v string) string {
	return rollout(`
  template:
    metadata:
      labels:
        app: v
    spec:
      containers:
      - name: app
        image: nginx
        resources:
          requests:
            cpu: ` + v + "\n")
}

// TestQuantityForms checks quantityCases against the emulated admission chain, and that every
// accepted form decodes into the Go types.
func TestQuantityForms(t *testing.T) {
	s := loadCRDs(t)[v1alpha1.RolloutKind]
	for _, tc := range quantityCases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustParse(t, tc.yaml)
			got, pruned, errs := s.admit(t, obj, nil)
			for _, p := range pruned {
				t.Errorf("pruned %s", p)
			}
			checkRejection(t, tc, errs.ToAggregate())
			if tc.want == "" && len(errs) == 0 {
				sluiceHash(t, got) // fails the test if the stored form does not decode
			}
		})
	}
}

// TestQuantityFormsOnCluster sends quantityCases to the local cluster's API server.
func TestQuantityFormsOnCluster(t *testing.T) {
	c := newClusterClient(t)
	ns := devclustertest.Namespace(t)
	for i, tc := range quantityCases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mustParse(t, tc.yaml)
			setName(obj, fmt.Sprintf("quantity-%d", i))
			_, got, _, err := c.apply(t, obj, ns)
			checkRejection(t, tc, err)
			if tc.want == "" && err == nil {
				sluiceHash(t, got)
			}
		})
	}
}
