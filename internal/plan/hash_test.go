package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// The pod-template hash names every ReplicaSet and selects every pod of a Rollout, and the steps
// hash (status.currentStepHash) says whether the steps changed. Both are Argo Rollouts'
// (argo-compat.md §2.7). If either changes for an unchanged Rollout, sluice sees a new template
// (or new steps) and starts an update: every pod of every Rollout migrated from Argo, and of
// every sluice Rollout on upgrade, is replaced. The tests below pin both hashes for every
// Rollout of Argo's examples and check the algorithm against Argo's, independently of sluice's
// own types.

const (
	hashExamplesDir = "testdata/argo-examples"
	hashGoldenFile  = "testdata/hashes.golden"
)

// argoPodTemplateHash is Argo's ComputePodTemplateHash (utils/hash/hash.go), written again from
// its description: fnv-32a over the JSON of a core/v1 PodTemplateSpec, then the collision count
// (uint32 little-endian and four zero bytes), as a decimal string through SafeEncodeString.
func argoPodTemplateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err)
	}
	h := fnv.New32a()
	_, _ = h.Write(b)
	if collisionCount != nil {
		_, _ = h.Write([]byte{byte(*collisionCount), byte(*collisionCount >> 8), byte(*collisionCount >> 16), byte(*collisionCount >> 24), 0, 0, 0, 0})
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// TestPodTemplateHashKnownValues pins hashes computed outside Go (a few lines of Python: fnv-32a
// of the JSON below, then SafeEncodeString's alphabet), so a change in the encoding of the
// Kubernetes types or in the hash function is caught even if both sides of the other tests
// moved together.
func TestPodTemplateHashKnownValues(t *testing.T) {
	tmpl := v1alpha1.PodTemplateSpec{
		PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: map[string]string{"app": "demo"}},
		Spec:                corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
	}
	core := tmpl.CorePodTemplateSpec()
	const wantJSON = `{"metadata":{"labels":{"app":"demo"}},"spec":{"containers":[{"name":"app","image":"nginx:1.27","resources":{}}]}}`
	if b, _ := json.Marshal(&core); string(b) != wantJSON {
		t.Errorf("the hash input changed (a Kubernetes API bump?):\n got %s\nwant %s", b, wantJSON)
	}
	one := int32(1)
	for _, tc := range []struct {
		collisions *int32
		want       string // fnv-32a 225829910 and 1133375479
	}{{nil, "669d6ff54"}, {&one, "55777c98cf"}} {
		if got := PodTemplateHash(&tmpl, tc.collisions); got != tc.want {
			t.Errorf("PodTemplateHash(collisionCount %v) = %s, want %s", tc.collisions, got, tc.want)
		}
		if got := argoPodTemplateHash(&core, tc.collisions); got != tc.want {
			t.Errorf("Argo's algorithm (collisionCount %v) = %s, want %s", tc.collisions, got, tc.want)
		}
	}
	steps := []v1alpha1.CanaryStep{{SetWeight: new(int32(20))}, {Pause: &v1alpha1.RolloutPause{}}}
	if got, want := StepsHash(steps), "54649b9f5c"; got != want { // fnv-32a of [{"setWeight":20},{"pause":{}}]
		t.Errorf("StepsHash = %s, want %s", got, want)
	}
}

// exampleRollout is one Rollout of the examples.
type exampleRollout struct {
	id  string         // file#document name
	obj map[string]any // as written
	ro  v1alpha1.Rollout
}

func exampleRollouts(t *testing.T) []exampleRollout {
	t.Helper()
	var out []exampleRollout
	err := filepath.WalkDir(hashExamplesDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(hashExamplesDir, path)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			var obj map[string]any
			if yaml.Unmarshal(doc, &obj) != nil || obj["kind"] != v1alpha1.RolloutKind {
				continue // other kinds; one AnalysisTemplate of the linkerd example is not valid YAML
			}
			j, _ := json.Marshal(obj)
			var ro v1alpha1.Rollout
			if err := json.Unmarshal(j, &ro); err != nil {
				return fmt.Errorf("%s#%d: %w", rel, i, err)
			}
			out = append(out, exampleRollout{id: fmt.Sprintf("%s#%d %s", filepath.ToSlash(rel), i, ro.Name), obj: obj, ro: ro})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("found %d Rollouts under %s, want the 21 of Argo's examples", len(out), hashExamplesDir)
	}
	slices.SortFunc(out, func(a, b exampleRollout) int { return strings.Compare(a.id, b.id) })
	return out
}

// argoStepsHash is Argo's ComputeStepHash: empty unless the Rollout is a canary.
func argoStepsHash(ro *v1alpha1.Rollout) string {
	c := ro.Spec.Strategy.Canary
	if ro.Spec.Strategy.BlueGreen != nil || c == nil {
		return "-"
	}
	return StepsHash(c.Steps)
}

// TestPodTemplateHashIsArgos computes, for every example, the hash the way Argo reads the
// manifest (its template decoded straight into core/v1 types) and the way sluice does (through
// v1alpha1.PodTemplateSpec): they must agree.
func TestPodTemplateHashIsArgos(t *testing.T) {
	for _, ex := range exampleRollouts(t) {
		spec, _ := ex.obj["spec"].(map[string]any)
		j, _ := json.Marshal(spec["template"])
		var core corev1.PodTemplateSpec
		if err := json.Unmarshal(j, &core); err != nil {
			t.Fatalf("%s: %v", ex.id, err)
		}
		if got, want := PodTemplateHash(&ex.ro.Spec.Template, nil), argoPodTemplateHash(&core, nil); got != want {
			t.Errorf("%s: sluice hashes the template to %s, Argo to %s", ex.id, got, want)
		}
	}
}

// TestGoldenHashes pins the pod-template and steps hash of every example Rollout
// (testdata/hashes.golden; go test ./internal/plan -run TestGoldenHashes -update rewrites it).
func TestGoldenHashes(t *testing.T) {
	var lines []string
	for _, ex := range exampleRollouts(t) {
		lines = append(lines, fmt.Sprintf("%s template=%s steps=%s", ex.id, PodTemplateHash(&ex.ro.Spec.Template, nil), argoStepsHash(&ex.ro)))
	}
	got := "# Written by TestGoldenHashes -update. A change here restarts pods: see hash_test.go.\n" +
		"# <file>#<document> <name> template=<pod-template hash> steps=<steps hash, - unless canary>\n" +
		"# (workloadRef Rollouts hash their template as written: empty.)\n" +
		strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(hashGoldenFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(hashGoldenFile)
	if err != nil {
		t.Fatalf("%v (go test ./internal/plan -run TestGoldenHashes -update writes it)", err)
	}
	want := map[string]string{}
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if id, hashes, ok := strings.Cut(l, " template="); ok && !strings.HasPrefix(l, "#") {
			want[id] = hashes
		}
	}
	changed := 0
	for _, l := range lines {
		id, hashes, _ := strings.Cut(l, " template=")
		w, ok := want[id]
		delete(want, id)
		switch {
		case !ok:
			t.Errorf("%s: not in %s; run with -update to add it", id, hashGoldenFile)
		case w != hashes:
			t.Errorf("%s: template=%s, golden template=%s", id, hashes, w)
			changed++
		}
	}
	for id := range want {
		t.Errorf("%s: in %s but not among the examples; run with -update", id, hashGoldenFile)
	}
	if changed > 0 {
		t.Errorf("the hashes of %d Rollouts changed.\n"+
			"A different pod-template hash replaces every pod of every Rollout migrated from Argo Rollouts (and of every\n"+
			"sluice Rollout on upgrade); a different steps hash restarts their updates from step 0. This happens when the\n"+
			"JSON encoding of the Kubernetes API types changes (a k8s.io/api bump, argo-compat.md §2.7) or when the\n"+
			"hashing or sluice's template or step types change. Only if it is intended and Argo computes the same, run\n"+
			"go test ./internal/plan -run TestGoldenHashes -update and say so in the release notes.", changed)
	}
}
