package rollout_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/controller/argolease"
	"github.com/sluicehq/sluice/internal/controller/controllertest"
	"github.com/sluicehq/sluice/internal/controller/rollout"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// argoLeaseDuration is the test Lease's leaseDurationSeconds (Argo uses 15 s; shorter keeps the
// test quick, and sluice reads the duration from the Lease).
const argoLeaseDuration = 6

// argoLease plays Argo Rollouts' leader: it creates the Lease Argo's controller of instance id
// holds, in namespace ns, and renews it every second until the returned stop is called (then
// the Lease is left to expire, as Argo does not release it).
func argoLease(t *testing.T, c client.Client, ns, instanceID string) (stop func()) {
	t.Helper()
	now := metav1.NewMicroTime(time.Now())
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: argolease.Name(instanceID)},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: new("argo-rollouts-7c9f8d5b4-x2x7q_" + instanceID), LeaseDurationSeconds: ptr.To[int32](argoLeaseDuration),
			AcquireTime: &now, RenewTime: &now, LeaseTransitions: ptr.To[int32](0),
		},
	}
	if err := c.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			now := metav1.NewMicroTime(time.Now())
			l.Spec.RenewTime = &now
			if err := c.Update(ctx, l); err != nil && ctx.Err() == nil {
				t.Errorf("renewing the Argo Lease: %v", err)
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// argoEnv is a test namespace without a controller yet, and an instance id of its own so the
// test's Argo Lease concerns no other test's controller.
func argoEnv(t *testing.T) (*env, string) {
	t.Helper()
	c, err := client.New(devclustertest.Config(t), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: devclustertest.Namespace(t), c: c}
	return e, "argo-test-" + e.ns
}

func instanceRollout(t *testing.T, name, instanceID string) *v1alpha1.Rollout {
	t.Helper()
	ro := canaryRollout(t, name, 3, setWeight(20), pauseFor(""), setWeight(100))
	ro.Labels = map[string]string{v1alpha1.LabelControllerInstanceID: instanceID}
	return ro
}

// While Argo Rollouts' controller of the same instance id holds its Lease (here in another
// namespace than the Rollouts'), sluice leaves a new Rollout alone: no ReplicaSet, no status,
// one ArgoControllerActive event however many passes. Once the Lease expires, the same
// controller (no restart) deploys it.
func TestArgoLeaseHoldsSluice(t *testing.T) {
	t.Parallel()
	e, id := argoEnv(t)
	argoNS := devclustertest.Namespace(t)
	stopArgo := argoLease(t, e.c, argoNS, id)
	e.stop = controllertest.StartWith(t, devclustertest.Config(t), controller.Options{Namespace: e.ns, InstanceID: id, Workers: 2})
	rsets := e.watch(&appsv1.ReplicaSetList{})

	e.create(instanceRollout(t, "held", id))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if len(e.events("held", rollout.ReasonArgoControllerActive)) > 0 {
			break
		}
	}
	// More passes while Argo is live: a spec change, and the rechecks at each Lease expiry.
	e.specPatch("held", `{"spec":{"replicas":4}}`)
	time.Sleep(2 * argoLeaseDuration * time.Second)

	if evs := rsets.all(); len(evs) > 0 {
		t.Errorf("while Argo is live: %d ReplicaSet events, the first: %s %s", len(evs), evs[0].Type, evs[0].Obj.GetName())
	}
	if st := e.rollout("held").Status; st.ObservedGeneration != "" || st.CurrentPodHash != "" || len(st.Conditions) > 0 {
		t.Errorf("while Argo is live sluice wrote the status: %+v", st)
	}
	evs := e.events("held", rollout.ReasonArgoControllerActive)
	if len(evs) != 1 || evs[0].Series != nil || evs[0].Type != "Warning" {
		t.Errorf("want exactly one Warning %s event, recorded once: %+v", rollout.ReasonArgoControllerActive, evs)
	}

	stopArgo() // Argo's controller is scaled to 0: its Lease is no longer renewed
	stopped := time.Now()
	ro := e.waitHealthy("held", 30*time.Second)
	t.Logf("deployed %s after the Argo Lease was last renewed", time.Since(stopped).Round(100*time.Millisecond))
	if *ro.Spec.Replicas != 4 {
		t.Errorf("replicas %d, want 4", *ro.Spec.Replicas)
	}
	if n := len(e.events("held", rollout.ReasonArgoControllerGone)); n != 1 {
		t.Errorf("%d %s events, want 1", n, rollout.ReasonArgoControllerGone)
	}
}

// With --take-over-from-argo sluice acts at once, Argo's Lease notwithstanding.
func TestArgoLeaseTakeOver(t *testing.T) {
	t.Parallel()
	e, id := argoEnv(t)
	defer argoLease(t, e.c, e.ns, id)()
	e.stop = controllertest.StartWith(t, devclustertest.Config(t),
		controller.Options{Namespace: e.ns, InstanceID: id, Workers: 2, TakeOverFromArgo: true})
	e.create(instanceRollout(t, "taken", id))
	e.waitHealthy("taken", 30*time.Second)
	if evs := e.events("taken", rollout.ReasonArgoControllerActive); len(evs) > 0 {
		t.Errorf("take-over set, yet: %s", evs[0].Note)
	}
}

// A Lease of another instance id, or an expired one, does not hold sluice back.
func TestArgoLeaseOtherInstanceOrExpired(t *testing.T) {
	t.Parallel()
	e, id := argoEnv(t)
	defer argoLease(t, e.c, e.ns, id+"-other")()
	past := metav1.NewMicroTime(time.Now().Add(-time.Minute))
	expired := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: argolease.Name(id)},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: new("argo-rollouts-old"), LeaseDurationSeconds: ptr.To[int32](15), RenewTime: &past,
		},
	}
	if err := e.c.Create(t.Context(), expired); err != nil {
		t.Fatal(err)
	}
	e.stop = controllertest.StartWith(t, devclustertest.Config(t), controller.Options{Namespace: e.ns, InstanceID: id, Workers: 2})
	e.create(instanceRollout(t, "free", id))
	e.waitHealthy("free", 30*time.Second)
	if evs := e.events("free", rollout.ReasonArgoControllerActive); len(evs) > 0 {
		t.Errorf("held back by a Lease of another instance or an expired one: %s", evs[0].Note)
	}
}
