package rollout_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// adoptCase is a Rollout that Argo Rollouts' controller ran until it was stopped.
type adoptCase struct {
	name string
	// paused: Argo stopped mid-canary, at the indefinite pause after setWeight 20, with a
	// canary (1 pod) and a stable (3 pods) ReplicaSet; otherwise fully promoted (3 pods).
	paused bool
	// nginx: trafficRouting.nginx, with Argo's canary Ingress and status.canary.weights.
	nginx bool
	// foreignHash: the ReplicaSet's hash is not the one sluice computes (an Argo built with
	// other Kubernetes API types hashes differently): adopted by template equality.
	foreignHash string
}

// argoSteps are the adopted Rollouts' steps, and argoStepsJSON their JSON as Argo's controller
// marshals them: status.currentStepHash is computed from it here, independently of sluice.
var (
	argoSteps     = []v1alpha1.CanaryStep{setWeight(20), pauseFor(""), setWeight(100)}
	argoStepsJSON = `[{"setWeight":20},{"pause":{}},{"setWeight":100}]`
)

func argoStepHash() string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(argoStepsJSON))
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Rollouts Argo Rollouts' controller ran, taken over by sluice: the ReplicaSets are adopted (no
// new one, no pod created or deleted, no change of pod-template hash, on every state the watch
// streams show), the Rollout continues where Argo left it and ends Healthy.
func TestAdoptFromArgo(t *testing.T) {
	t.Parallel()
	if got := plan.StepsHash(argoSteps); got != argoStepHash() {
		t.Errorf("plan.StepsHash = %s, Argo's step hash is %s: every adopted Rollout would restart its steps", got, argoStepHash())
	}
	for _, tc := range []adoptCase{
		{name: "promoted"},
		{name: "promoted-foreign-hash", foreignHash: "7d4b9c8f5"},
		{name: "paused-mid-canary", paused: true},
		{name: "paused-mid-canary-nginx", paused: true, nginx: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testAdopt(t, tc)
		})
	}
}

//nolint:thelper // the scenario itself: failures should name its lines
func testAdopt(t *testing.T, tc adoptCase) {
	e, _ := argoEnv(t) // no controller yet: "Argo" runs first
	w := argoLeftovers(e, tc)

	rsets := e.watch(&appsv1.ReplicaSetList{})
	pods := e.watch(&corev1.PodList{})
	svcs := e.watch(&corev1.ServiceList{})
	ings := e.watch(&networkingv1.IngressList{})
	ros := e.watch(&v1alpha1.RolloutList{})
	initial := map[string]*appsv1.ReplicaSet{}
	for _, ev := range rsets.all() {
		initial[ev.Obj.GetName()] = ev.Obj.(*appsv1.ReplicaSet)
	}
	start := time.Now()
	e.startController()

	// sluice's passes: wait until one completed (the per-Rollout weight metric is written at
	// the end of each), then give it time for the passes its own writes trigger.
	e.waitFor(30*time.Second, func() string {
		if len(weightMetric(t, e.ns, "my-rollout")) == 0 {
			return "sluice has not completed a pass on the Rollout"
		}
		return ""
	})
	time.Sleep(5 * time.Second)
	ro := e.rollout("my-rollout")
	st := ro.Status
	wantPhase := v1alpha1.RolloutPhaseHealthy
	if tc.paused {
		wantPhase = v1alpha1.RolloutPhasePaused
	}
	if st.ObservedGeneration != fmt.Sprint(ro.Generation) || st.Phase != wantPhase || st.AvailableReplicas != w.pods {
		t.Errorf("after adoption: generation %d observed %q, phase %s %q, available %d; want %s with %d", ro.Generation,
			st.ObservedGeneration, st.Phase, st.Message, st.AvailableReplicas, wantPhase, w.pods)
	}

	// Every state since sluice started.
	for _, ev := range rsets.since(start) {
		rs := ev.Obj.(*appsv1.ReplicaSet)
		was := initial[rs.Name]
		switch {
		case ev.Type != watch.Modified || was == nil:
			t.Errorf("adoption: ReplicaSet %s %s", rs.Name, ev.Type)
		case rs.Labels[v1alpha1.LabelPodTemplateHash] != was.Labels[v1alpha1.LabelPodTemplateHash] ||
			rs.Spec.Template.Labels[v1alpha1.LabelPodTemplateHash] != was.Labels[v1alpha1.LabelPodTemplateHash]:
			t.Errorf("adoption: ReplicaSet %s changed its pod-template hash to %s", rs.Name, rs.Labels[v1alpha1.LabelPodTemplateHash])
		case ptr.Deref(rs.Spec.Replicas, 1) != ptr.Deref(was.Spec.Replicas, 1):
			t.Errorf("adoption: ReplicaSet %s scaled from %d to %d", rs.Name, *was.Spec.Replicas, *rs.Spec.Replicas)
		}
	}
	for _, ev := range pods.since(start) {
		if p := ev.Obj; ev.Type != watch.Modified || p.GetDeletionTimestamp() != nil {
			t.Errorf("adoption: pod %s %s (deleting: %v)", p.GetName(), ev.Type, p.GetDeletionTimestamp() != nil)
		}
	}
	for _, ev := range svcs.since(start) {
		svc := ev.Obj.(*corev1.Service)
		if want := w.services[svc.Name]; ev.Type != watch.Modified || svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] != want {
			t.Errorf("adoption: Service %s %s selecting %v, want hash %s", svc.Name, ev.Type, svc.Spec.Selector, want)
		}
	}
	for _, ev := range ings.since(start) {
		if ev.Type != watch.Modified || (tc.nginx && ev.Obj.GetName() == canaryIngress &&
			ev.Obj.GetAnnotations()["nginx.ingress.kubernetes.io/canary-weight"] != "20") {
			t.Errorf("adoption: Ingress %s %s with annotations %v", ev.Obj.GetName(), ev.Type, ev.Obj.GetAnnotations())
		}
	}
	for _, ev := range ros.since(start) {
		s := ev.Obj.(*v1alpha1.Rollout).Status
		if s.CurrentPodHash != w.canary || s.StableRS != w.stable || s.CurrentStepHash != argoStepHash() ||
			ptr.Deref(s.CurrentStepIndex, -1) != w.step {
			t.Errorf("adoption: the Rollout went to current %s stable %s step %d (hash %s); Argo left %s %s step %d",
				s.CurrentPodHash, s.StableRS, ptr.Deref(s.CurrentStepIndex, -1), s.CurrentStepHash, w.canary, w.stable, w.step)
		}
		if w := s.Canary.Weights; tc.nginx && (w == nil || w.Canary.Weight != 20) {
			t.Errorf("adoption: status.canary.weights became %+v", w)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// sluice now runs the Rollout from where Argo left it.
	next := time.Now()
	if tc.paused {
		e.statusPatch("my-rollout", `{"status":{"pauseConditions":null}}`) // kubectl argo rollouts promote
		ro = e.waitHealthy("my-rollout", time.Minute)
		if ro.Status.StableRS != w.canary {
			t.Errorf("promoted %s, want %s", ro.Status.StableRS, w.canary)
		}
	} else {
		e.specPatch("my-rollout", `{"spec":{"replicas":4}}`)
		e.waitHealthy("my-rollout", time.Minute)
	}
	for _, ev := range rsets.since(next) {
		if ev.Type == watch.Added {
			t.Errorf("after adoption: new ReplicaSet %s", ev.Obj.GetName())
		}
	}
	for _, ev := range pods.since(next) {
		h := ev.Obj.GetLabels()[v1alpha1.LabelPodTemplateHash]
		if (ev.Type == watch.Added && h != w.canary) || (ev.Type == watch.Deleted && h != w.stable) || (h != w.canary && h != w.stable) {
			t.Errorf("after adoption: pod %s of %s %s (canary %s, stable %s)", ev.Obj.GetName(), h, ev.Type, w.canary, w.stable)
		}
	}
	for _, ev := range ros.since(start) {
		if s := ev.Obj.(*v1alpha1.Rollout).Status; s.CurrentStepIndex == nil || *s.CurrentStepIndex < w.step {
			t.Errorf("the steps restarted: currentStepIndex %d after Argo's %d", ptr.Deref(s.CurrentStepIndex, -1), w.step)
		}
	}
}

const canaryIngress = "my-rollout-my-app-ingress-canary"

// argoWorld is what argoLeftovers made.
type argoWorld struct {
	stable, canary string // pod-template hashes (the same when promoted)
	step           int32
	pods           int32
	services       map[string]string // Service name → the hash it selects
}

// argoLeftovers creates what Argo Rollouts' controller leaves behind: the Rollout with Argo's
// status, its ReplicaSets <rollout>-<hash> with Argo's labels, annotations and controller
// owner reference, their pods Ready, the Services it pointed at them, and for NGINX the
// stable and canary Ingresses.
func argoLeftovers(e *env, tc adoptCase) argoWorld {
	t := e.t
	t.Helper()
	ro := canaryRollout(t, "my-rollout", 3, argoSteps...)
	ro.Spec.Strategy.Canary.StableService, ro.Spec.Strategy.Canary.CanaryService = "my-app-stable", "my-app-canary"
	if tc.nginx {
		ro.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "my-app-ingress"}}
	}
	stableTmpl := ro.Spec.Template.DeepCopy()
	if tc.paused {
		ro.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	}
	w := argoWorld{stable: plan.PodTemplateHash(stableTmpl, nil), canary: plan.PodTemplateHash(&ro.Spec.Template, nil), step: 3, pods: 3}
	if tc.foreignHash != "" {
		w.stable, w.canary = tc.foreignHash, tc.foreignHash
	}
	revision := "1"
	if tc.paused {
		revision, w.step, w.pods = "2", 1, 4
	}
	ro.Annotations = map[string]string{v1alpha1.AnnotationRevision: revision}
	e.create(ro)

	rs := func(hash, rev string, tmpl *v1alpha1.PodTemplateSpec, replicas int32) {
		core := tmpl.CorePodTemplateSpec()
		core.Labels = maps.Clone(core.Labels)
		core.Labels[v1alpha1.LabelPodTemplateHash] = hash
		sel := ro.Spec.Selector.DeepCopy()
		sel.MatchLabels = maps.Clone(sel.MatchLabels)
		sel.MatchLabels[v1alpha1.LabelPodTemplateHash] = hash
		obj := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: e.ns, Name: ro.Name + "-" + hash, Labels: maps.Clone(core.Labels),
				Annotations: map[string]string{v1alpha1.AnnotationRevision: rev, v1alpha1.AnnotationDesiredReplicas: "3"},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout", Name: ro.Name, UID: ro.UID,
					Controller: new(true), BlockOwnerDeletion: new(true),
				}},
			},
			Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: sel, Template: core},
		}
		if err := e.c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	if tc.paused {
		rs(w.stable, "1", stableTmpl, 3)
		rs(w.canary, "2", &ro.Spec.Template, 1)
	} else {
		rs(w.stable, "1", &ro.Spec.Template, 3)
	}
	e.waitFor(time.Minute, func() string {
		var list appsv1.ReplicaSetList
		if err := e.c.List(t.Context(), &list, client.InNamespace(e.ns)); err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Items {
			if r.Status.AvailableReplicas != *r.Spec.Replicas || r.Status.ObservedGeneration != r.Generation {
				return fmt.Sprintf("ReplicaSet %s: %d of %d available", r.Name, r.Status.AvailableReplicas, *r.Spec.Replicas)
			}
		}
		return ""
	})

	w.services = map[string]string{"my-app-stable": w.stable, "my-app-canary": w.canary}
	for name, hash := range w.services {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name, Annotations: map[string]string{v1alpha1.AnnotationManagedByRollouts: ro.Name}},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "my-app", v1alpha1.LabelPodTemplateHash: hash},
				Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}},
			},
		}
		if err := e.c.Create(t.Context(), svc); err != nil {
			t.Fatal(err)
		}
	}
	if tc.nginx {
		argoIngresses(e, ro)
	}
	if err := e.c.Status().Patch(t.Context(), ro, client.RawPatch(types.MergePatchType, argoStatus(t, ro, tc, w))); err != nil {
		t.Fatal(err)
	}
	return w
}

// argoIngresses creates the stable Ingress and the canary Ingress Argo's NGINX router made at
// setWeight 20 (owned by the Rollout).
func argoIngresses(e *env, ro *v1alpha1.Rollout) {
	ing := func(name, svc string) *networkingv1.Ingress {
		return &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
			Spec: networkingv1.IngressSpec{
				IngressClassName: new("nginx"),
				Rules: []networkingv1.IngressRule{{Host: "my-app.local", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
						Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}},
					}}},
				}}}},
			},
		}
	}
	canary := ing(canaryIngress, "my-app-canary")
	canary.Annotations = map[string]string{"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "20"}
	canary.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(ro, v1alpha1.GroupVersion.WithKind("Rollout"))}
	for _, o := range []*networkingv1.Ingress{ing("my-app-ingress", "my-app-stable"), canary} {
		if err := e.c.Create(e.t.Context(), o); err != nil {
			e.t.Fatal(err)
		}
	}
}

// argoStatus is the status Argo's controller wrote last, as a merge patch.
func argoStatus(t *testing.T, ro *v1alpha1.Rollout, tc adoptCase, w argoWorld) []byte {
	t.Helper()
	at := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	cond := func(typ v1alpha1.RolloutConditionType, status corev1.ConditionStatus, reason, msg string) v1alpha1.RolloutCondition {
		return v1alpha1.RolloutCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastUpdateTime: at, LastTransitionTime: at}
	}
	rsName := ro.Name + "-" + w.canary
	st := v1alpha1.RolloutStatus{
		ObservedGeneration: strconv.FormatInt(ro.Generation, 10),
		CurrentPodHash:     w.canary, StableRS: w.stable, CurrentStepHash: argoStepHash(), CurrentStepIndex: new(w.step),
		Replicas: w.pods, ReadyReplicas: w.pods, AvailableReplicas: w.pods, HPAReplicas: w.pods, Selector: "app=my-app",
	}
	if tc.paused {
		st.UpdatedReplicas = 1
		st.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: at}}
		st.ControllerPause = true
		st.Phase, st.Message = v1alpha1.RolloutPhasePaused, string(v1alpha1.PauseReasonCanaryPauseStep)
		st.Conditions = []v1alpha1.RolloutCondition{
			cond(v1alpha1.RolloutProgressing, corev1.ConditionUnknown, "RolloutPaused", "Rollout is paused"),
			cond(v1alpha1.RolloutPaused, corev1.ConditionTrue, "RolloutPaused", "Rollout is paused"),
			cond(v1alpha1.RolloutAvailable, corev1.ConditionTrue, "AvailableReason", "Rollout has minimum availability"),
			cond(v1alpha1.RolloutCompleted, corev1.ConditionFalse, "RolloutCompleted", fmt.Sprintf("Rollout not completed, started update to revision 2 (%s)", w.canary)),
			cond(v1alpha1.RolloutHealthy, corev1.ConditionFalse, "RolloutHealthy", "Rollout is not healthy"),
		}
		if tc.nginx {
			st.Canary.Weights = &v1alpha1.TrafficWeights{
				Canary: v1alpha1.WeightDestination{Weight: 20, ServiceName: "my-app-canary", PodTemplateHash: w.canary},
				Stable: v1alpha1.WeightDestination{Weight: 80, ServiceName: "my-app-stable", PodTemplateHash: w.stable},
			}
		}
	} else {
		st.UpdatedReplicas = 3
		st.Phase = v1alpha1.RolloutPhaseHealthy
		st.Conditions = []v1alpha1.RolloutCondition{
			cond(v1alpha1.RolloutProgressing, corev1.ConditionTrue, "NewReplicaSetAvailable", fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName)),
			cond(v1alpha1.RolloutAvailable, corev1.ConditionTrue, "AvailableReason", "Rollout has minimum availability"),
			cond(v1alpha1.RolloutCompleted, corev1.ConditionTrue, "RolloutCompleted", fmt.Sprintf("Rollout completed update to revision 1 (%s): Initial deploy", w.canary)),
			cond(v1alpha1.RolloutHealthy, corev1.ConditionTrue, "RolloutHealthy", "Rollout is healthy"),
		}
	}
	b, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
