package rollout_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// warmGate is the readiness gate the take-over tests hold pods back with: a pod carrying it is
// Ready only once the test sets the condition (setPodCondition).
const warmGate = "example.com/warm"

// wlDeployment is a Deployment of replicas pods labelled app=name; gated pods wait for warmGate.
func wlDeployment(name string, replicas int32, gated bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.25"}}},
			},
		},
	}
	if gated {
		d.Spec.Template.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: warmGate}}
	}
	return d
}

// wlRollout references Deployment name (scaleDown) and has no template or selector of its own.
func wlRollout(name, scaleDown string, replicas int32) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.RolloutSpec{
			Replicas:    new(replicas),
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: name, ScaleDown: scaleDown},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				Steps: []v1alpha1.CanaryStep{setWeight(20), pauseFor("")},
			}},
		},
	}
}

func (e *env) createDeployment(d *appsv1.Deployment) {
	e.t.Helper()
	d.Namespace = e.ns
	if err := e.c.Create(e.t.Context(), d); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deployment(name string) *appsv1.Deployment {
	e.t.Helper()
	d := &appsv1.Deployment{}
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// warm sets warmGate on up to n Running pods matching labels that do not have it yet (n < 0:
// all), and returns how many it set.
func (e *env) warm(labels client.MatchingLabels, n int) int {
	e.t.Helper()
	var pods corev1.PodList
	if err := e.c.List(e.t.Context(), &pods, client.InNamespace(e.ns), labels); err != nil {
		e.t.Fatal(err)
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	set := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if set == n || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || hasCondition(p, warmGate) {
			continue
		}
		setPodCondition(e.t, e, p, warmGate)
		set++
	}
	return set
}

func hasCondition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// waitDeployment waits until the Deployment asks for want pods and has exactly that many
// available (and no others).
func (e *env) waitDeployment(name string, want int32, timeout time.Duration) {
	e.t.Helper()
	e.waitFor(timeout, func() string {
		d := e.deployment(name)
		if ptr.Deref(d.Spec.Replicas, 1) != want || d.Status.Replicas != want || d.Status.AvailableReplicas != want {
			return fmt.Sprintf("Deployment %s: spec %d, pods %d, available %d; want %d", name, ptr.Deref(d.Spec.Replicas, 1), d.Status.Replicas, d.Status.AvailableReplicas, want)
		}
		return ""
	})
}

// takeOverState is the pods of the Deployment's and the Rollout's ReplicaSets at one moment of
// the ReplicaSet watch stream.
type takeOverState struct {
	at                            time.Duration
	deploySpec, deployAvailable   int32
	rolloutSpec, rolloutAvailable int32
}

// available counts a ReplicaSet's pods as available only while it still asks for them: a
// ReplicaSet scaled down loses its pods at once, before its status says so.
func (s takeOverState) available() int32 { return s.deployAvailable + s.rolloutAvailable }

func (s takeOverState) sameAs(o takeOverState) bool {
	s.at = o.at
	return s == o
}

func (s takeOverState) String() string {
	return fmt.Sprintf("%6.2fs  Deployment %d/%d  Rollout %d/%d  available %d", s.at.Seconds(),
		s.deployAvailable, s.deploySpec, s.rolloutAvailable, s.rolloutSpec, s.available())
}

// takeOver replays the ReplicaSet stream: one state per event (after the initial list), the
// Deployment's ReplicaSets (pod-template-hash) and the Rollout's (rollouts-pod-template-hash)
// summed separately.
func takeOver(evs []seen, start time.Time) []takeOverState {
	cur := map[string]*appsv1.ReplicaSet{}
	var out []takeOverState
	for i, ev := range evs {
		rs := ev.Obj.(*appsv1.ReplicaSet)
		if ev.Type == watch.Deleted {
			delete(cur, rs.Name)
		} else {
			cur[rs.Name] = rs
		}
		if ev.Type == listed && i+1 < len(evs) && evs[i+1].Type == listed {
			continue
		}
		s := takeOverState{at: ev.At.Sub(start)}
		for _, rs := range cur {
			spec := ptr.Deref(rs.Spec.Replicas, 1)
			avail := min(spec, rs.Status.AvailableReplicas)
			if _, ok := rs.Labels[v1alpha1.LabelPodTemplateHash]; ok {
				s.rolloutSpec += spec
				s.rolloutAvailable += avail
			} else {
				s.deploySpec += spec
				s.deployAvailable += avail
			}
		}
		if len(out) == 0 || !out[len(out)-1].sameAs(s) {
			out = append(out, s)
		}
	}
	return out
}

// argoHash is the rollouts-pod-template-hash Argo Rollouts computes for a Rollout whose
// template comes from Deployment d (templateref.go resolves d.spec.template into a core/v1
// PodTemplateSpec; ComputePodTemplateHash: fnv-32a over its JSON, SafeEncodeString).
func argoHash(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	b, err := json.Marshal(&d.Spec.Template)
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New32a()
	_, _ = h.Write(b)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// A Deployment with 3 available pods is taken over by a Rollout with workloadRef: at no moment
// of the ReplicaSet stream are fewer than 3 pods available, and the Deployment ends at 0
// (onsuccess, once the Rollout is Healthy), untouched (never), or is scaled down one pod per
// available Rollout pod (progressively). The Rollout pods are held unready (a readiness gate)
// until the test lets them through, so each moment of the take-over is observed.
func TestWorkloadRefTakeOver(t *testing.T) {
	t.Parallel()
	for _, scaleDown := range []string{v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively} {
		t.Run(scaleDown, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := "web"
			e.createDeployment(wlDeployment(name, 3, true))
			e.waitFor(time.Minute, func() string {
				e.warm(client.MatchingLabels{"app": name}, -1)
				if d := e.deployment(name); d.Status.AvailableReplicas != 3 {
					return fmt.Sprintf("Deployment: %d of 3 available", d.Status.AvailableReplicas)
				}
				return ""
			})
			rsStream := e.watch(&appsv1.ReplicaSetList{})
			start := time.Now()
			e.create(wlRollout(name, scaleDown, 3))

			// The Rollout's 3 pods run, unready: the Deployment keeps all of its pods.
			var hash string
			e.waitFor(time.Minute, func() string {
				ro := e.rollout(name)
				hash = ro.Status.CurrentPodHash
				running, _ := e.pods(map[string]string{"app": name})
				if hash == "" || running[hash] != 3 {
					return "waiting for 3 running Rollout pods: " + counts(running)
				}
				return ""
			})
			time.Sleep(time.Second)
			if d := e.deployment(name); ptr.Deref(d.Spec.Replicas, 1) != 3 {
				t.Fatalf("scaleDown %s: the Deployment was scaled to %d before any Rollout pod was available", scaleDown, ptr.Deref(d.Spec.Replicas, 1))
			}
			if d := e.deployment(name); hash != argoHash(t, d) {
				t.Errorf("Rollout pod-template hash %s, Argo's for this Deployment %s", hash, argoHash(t, d))
			}
			ownPods := client.MatchingLabels{v1alpha1.LabelPodTemplateHash: hash}

			if scaleDown == v1alpha1.ScaleDownProgressively {
				// One Rollout pod at a time: the Deployment follows, 3 → 2 → 1 → 0.
				for i := int32(1); i <= 3; i++ {
					if e.warm(ownPods, 1) != 1 {
						t.Fatalf("no unready Rollout pod left to warm at step %d", i)
					}
					e.waitDeployment(name, 3-i, time.Minute)
				}
			} else {
				e.warm(ownPods, -1)
			}
			ro := e.waitHealthy(name, time.Minute)
			switch scaleDown {
			case v1alpha1.ScaleDownNever:
				time.Sleep(2 * time.Second) // a pass or two after Healthy
				e.waitDeployment(name, 3, time.Second)
			default:
				e.waitDeployment(name, 0, time.Minute)
			}
			d := e.deployment(name)
			if ro.Status.WorkloadObservedGeneration != fmt.Sprint(d.Generation) && scaleDown == v1alpha1.ScaleDownNever {
				t.Errorf("status.workloadObservedGeneration %q, Deployment generation %d", ro.Status.WorkloadObservedGeneration, d.Generation)
			}

			states := takeOver(rsStream.all(), start)
			var lines []string
			var deploySpecs []int32
			low := int32(1 << 30)
			for _, s := range states {
				lines = append(lines, s.String())
				low = min(low, s.available())
				if len(deploySpecs) == 0 || deploySpecs[len(deploySpecs)-1] != s.deploySpec {
					deploySpecs = append(deploySpecs, s.deploySpec)
				}
			}
			t.Logf("scaleDown %s, take-over as the ReplicaSet stream shows it (available/asked):\n%s", scaleDown, strings.Join(lines, "\n"))
			if low < 3 {
				t.Errorf("scaleDown %s: only %d pods available at one moment (want at least 3)", scaleDown, low)
			}
			want := map[string][]int32{
				v1alpha1.ScaleDownNever: {3}, v1alpha1.ScaleDownOnSuccess: {3, 0}, v1alpha1.ScaleDownProgressively: {3, 2, 1, 0},
			}[scaleDown]
			if !slices.Equal(deploySpecs, want) {
				t.Errorf("scaleDown %s: the Deployment's pods went %v, want %v", scaleDown, deploySpecs, want)
			}

			// Deleting the Rollout leaves the Deployment as it is (it is not owned).
			if len(d.OwnerReferences) != 0 {
				t.Errorf("the Deployment got owner references: %+v", d.OwnerReferences)
			}
			before := d.Spec.Replicas
			if err := e.c.Delete(t.Context(), e.rollout(name)); err != nil {
				t.Fatal(err)
			}
			e.waitFor(time.Minute, func() string {
				err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, &v1alpha1.Rollout{})
				if !apierrors.IsNotFound(err) {
					return fmt.Sprintf("Rollout still there (%v)", err)
				}
				return ""
			})
			e.waitDeployment(name, ptr.Deref(before, 1), 10*time.Second)
		})
	}
}

// A change of the Deployment's template is a new revision of the Rollout: a canary update
// through its steps (the Deployment, at 0 since the take-over, stays at 0).
func TestWorkloadRefTemplateChangeStartsCanary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createDeployment(wlDeployment("web", 3, false))
	e.waitDeployment("web", 3, time.Minute)
	e.create(wlRollout("web", v1alpha1.ScaleDownOnSuccess, 3))
	v1 := e.waitHealthy("web", time.Minute).Status.CurrentPodHash
	e.waitDeployment("web", 0, time.Minute)

	d := e.deployment("web")
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	if err := e.c.Patch(t.Context(), d, patch); err != nil {
		t.Fatal(err)
	}
	var ro *v1alpha1.Rollout
	e.waitFor(time.Minute, func() string {
		ro = e.rollout("web")
		running, _ := e.pods(map[string]string{"app": "web"})
		if st := ro.Status; st.Phase != v1alpha1.RolloutPhasePaused || running[st.CurrentPodHash] != 1 || running[v1] != 3 || len(running) != 2 {
			return fmt.Sprintf("want 1 canary + 3 stable pods, Paused: pods %s, phase %s %q", counts(running), st.Phase, st.Message)
		}
		return ""
	})
	if ro.Status.CurrentPodHash == v1 || ro.Status.StableRS != v1 || ptr.Deref(ro.Status.CurrentStepIndex, -1) != 1 {
		t.Fatalf("after the Deployment's change: current %s stable %s step %v; want a canary of a new hash paused at step 1",
			ro.Status.CurrentPodHash, ro.Status.StableRS, ro.Status.CurrentStepIndex)
	}
	if d = e.deployment("web"); ro.Annotations[v1alpha1.AnnotationWorkloadGeneration] != fmt.Sprint(d.Generation) ||
		ro.Annotations[v1alpha1.AnnotationRevision] != "2" {
		t.Errorf("annotations %v; want workload-generation %d and revision 2", ro.Annotations, d.Generation)
	}
	if want := argoHash(t, d); ro.Status.CurrentPodHash != want {
		t.Errorf("canary hash %s, Argo's %s", ro.Status.CurrentPodHash, want)
	}
	e.statusPatch("web", `{"status":{"pauseConditions":null}}`)
	ro = e.waitHealthy("web", time.Minute)
	if ro.Status.WorkloadObservedGeneration != fmt.Sprint(d.Generation) {
		t.Errorf("status.workloadObservedGeneration %q, Deployment generation %d", ro.Status.WorkloadObservedGeneration, d.Generation)
	}
	if ptr.Deref(e.deployment("web").Spec.Replicas, 1) != 0 {
		t.Errorf("the Deployment was scaled up again by revision 2")
	}
}

// A reference the controller cannot use is InvalidSpec with a message that says why, and no
// pods are created; a missing Deployment that appears is picked up at once (the watch).
func TestWorkloadRefInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	invalid := func(name, want string) {
		t.Helper()
		e.waitFor(30*time.Second, func() string {
			c := condition(e.rollout(name), v1alpha1.RolloutInvalidSpec)
			if c == nil || !strings.Contains(c.Message, want) {
				return fmt.Sprintf("want InvalidSpec %q, have %+v", want, c)
			}
			return ""
		})
	}
	e.create(wlRollout("missing", v1alpha1.ScaleDownOnSuccess, 2))
	invalid("missing", `spec.workloadRef: Deployment "missing" not found`)

	rs := wlRollout("rs", "", 2)
	rs.Spec.WorkloadRef.Kind = "ReplicaSet"
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rs"}}
	e.create(rs)
	invalid("rs", "spec.workloadRef must reference an apps/v1 Deployment, not apps/v1 ReplicaSet")

	if running, _ := e.pods(nil); len(running) != 0 {
		t.Fatalf("an invalid Rollout got pods: %s", counts(running))
	}
	// The Deployment appears: the Rollout runs well before the InvalidSpec requeue (20 s).
	e.createDeployment(wlDeployment("missing", 2, false))
	e.waitHealthy("missing", 15*time.Second)
}

// Argo's workloadRef examples (a Deployment at 0 replicas referenced by a 5-replica Rollout
// without a selector) apply unchanged and run; a new image on the Deployment goes through the
// steps.
func TestArgoWorkloadRefExamples(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"workload-ref/workload-ref.yaml", "rollout-template-ref.yaml"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.applyArgo(argoExample(t, file))
			const name = "rollout-ref-deployment"
			v1 := e.waitHealthy(name, time.Minute).Status.CurrentPodHash
			if running, _ := e.pods(map[string]string{"app": name}); running[v1] != 5 {
				t.Fatalf("pods %s, want 5 of %s", counts(running), v1)
			}
			d := e.deployment(name)
			patch := client.MergeFrom(d.DeepCopy())
			d.Spec.Template.Spec.Containers[0].Image = "argoproj/rollouts-demo:yellow"
			if err := e.c.Patch(t.Context(), d, patch); err != nil {
				t.Fatal(err)
			}
			e.waitFor(time.Minute, func() string {
				if ro := e.rollout(name); ro.Status.CurrentPodHash == v1 {
					return "no new revision yet"
				}
				return ""
			})
			ro := e.waitHealthy(name, time.Minute)
			if running, _ := e.pods(map[string]string{"app": name}); running[ro.Status.CurrentPodHash] != 5 || len(running) != 1 {
				t.Fatalf("after the update: pods %s, want 5 of %s", counts(running), ro.Status.CurrentPodHash)
			}
			if n := ptr.Deref(e.deployment(name).Spec.Replicas, 1); n != 0 {
				t.Errorf("the Deployment (scaleDown never) was scaled to %d", n)
			}
		})
	}
}
