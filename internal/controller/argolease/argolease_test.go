package argolease

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeReader serves Leases; listing across namespaces can be forbidden.
type fakeReader struct {
	leases        map[client.ObjectKey]coordinationv1.Lease
	forbidList    bool
	forbidGet     map[string]bool // namespaces
	gets, lists   int
	listSelectors []string
}

func (f *fakeReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	f.gets++
	if f.forbidGet[key.Namespace] {
		return apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, key.Name, nil)
	}
	l, ok := f.leases[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, key.Name)
	}
	*obj.(*coordinationv1.Lease) = l
	return nil
}

func (f *fakeReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	f.lists++
	if f.forbidList {
		return apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "", nil)
	}
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	f.listSelectors = append(f.listSelectors, lo.FieldSelector.String())
	out := list.(*coordinationv1.LeaseList)
	for _, l := range f.leases {
		if lo.FieldSelector.Matches(fieldsOf(l)) {
			out.Items = append(out.Items, l)
		}
	}
	return nil
}

type fieldSet map[string]string

func (s fieldSet) Has(k string) bool   { _, ok := s[k]; return ok }
func (s fieldSet) Get(k string) string { return s[k] }

func fieldsOf(l coordinationv1.Lease) fieldSet {
	return fieldSet{"metadata.name": l.Name, "metadata.namespace": l.Namespace}
}

func lease(ns, name, holder string, renewed time.Time, seconds int32) coordinationv1.Lease {
	t := metav1.NewMicroTime(renewed)
	return coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &t},
	}
}

func (f *fakeReader) put(l coordinationv1.Lease) {
	if f.leases == nil {
		f.leases = map[client.ObjectKey]coordinationv1.Lease{}
	}
	f.leases[client.ObjectKeyFromObject(&l)] = l
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestName(t *testing.T) {
	if Name("") != "argo-rollouts-controller-lock" || Name("blue") != "argo-rollouts-controller-lock-blue" {
		t.Fatal(Name(""), Name("blue"))
	}
}

func TestLiveExpiredAndAcrossNamespaces(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	r := &fakeReader{}
	r.put(lease("argo-rollouts", Name(""), "argo-1", t0.Add(-5*time.Second), 15)) // live until t0+10s
	r.put(lease("argo-rollouts", Name("blue"), "argo-blue", t0, 15))              // another instance
	d := &Detector{Reader: r, Name: Name(""), Clock: clk, Log: logr.Discard()}

	st, err := d.Check(t.Context())
	if err != nil || !st.Live || st.Namespace != "argo-rollouts" || st.Holder != "argo-1" || !st.Expires.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("live lease: %+v, %v", st, err)
	}
	if len(r.listSelectors) != 1 || r.listSelectors[0] != "metadata.name=argo-rollouts-controller-lock" {
		t.Fatalf("want one cluster-wide list by name, got %v", r.listSelectors)
	}
	// Reads are reused for MaxAge.
	clk.SetTime(t0.Add(time.Second))
	if _, err := d.Check(t.Context()); err != nil || r.lists != 1 {
		t.Fatalf("a second check within MaxAge read again (%d lists), %v", r.lists, err)
	}
	// Lapsed since the last (fresh) read: read again before saying Argo is gone; it renewed.
	r.put(lease("argo-rollouts", Name(""), "argo-1", t0.Add(9*time.Second), 15))
	d.readAt = t0.Add(9500 * time.Millisecond)
	clk.SetTime(t0.Add(10500 * time.Millisecond))
	st, err = d.Check(t.Context())
	if err != nil || !st.Live || r.lists != 2 {
		t.Fatalf("renewed lease: %+v, %v, %d lists", st, err, r.lists)
	}
	// Argo stopped: not renewed any more.
	clk.SetTime(t0.Add(30 * time.Second))
	if st, err = d.Check(t.Context()); err != nil || st.Live {
		t.Fatalf("expired lease: %+v, %v", st, err)
	}
}

func TestNoHolderOrNoLease(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	r := &fakeReader{}
	d := &Detector{Reader: r, Name: Name(""), Clock: clk, Log: logr.Discard()}
	if st, err := d.Check(t.Context()); err != nil || st.Live {
		t.Fatalf("no lease: %+v, %v", st, err)
	}
	released := lease("argo-rollouts", Name(""), "", t0, 15)
	r.put(released)
	clk.SetTime(t0.Add(time.Minute))
	if st, err := d.Check(t.Context()); err != nil || st.Live {
		t.Fatalf("lease without holder: %+v, %v", st, err)
	}
	if _, ok := Expiry(&coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: new("x")}}); ok {
		t.Fatal("a lease without times has no expiry")
	}
}

func TestForbiddenListFallsBack(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	r := &fakeReader{forbidList: true, forbidGet: map[string]bool{"argo-rollouts": true}}
	r.put(lease("team-a", Name("x"), "argo-x", t0, 15))
	d := &Detector{Reader: r, Name: Name("x"), FallbackNamespaces: Namespaces("team-a"), Clock: clk, Log: logr.Discard()}
	st, err := d.Check(t.Context())
	if err != nil || !st.Live || st.Namespace != "team-a" {
		t.Fatalf("fallback to the managed namespace: %+v, %v", st, err)
	}
	if r.gets != 2 {
		t.Fatalf("want reads in argo-rollouts and team-a, got %d", r.gets)
	}
}

func TestOneNamespace(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	r := &fakeReader{}
	r.put(lease("elsewhere", Name(""), "argo", t0, 15))
	d := &Detector{Reader: r, Name: Name(""), Namespace: "argo-rollouts", Clock: clk, Log: logr.Discard()}
	if st, err := d.Check(t.Context()); err != nil || st.Live || r.lists != 0 {
		t.Fatalf("--argo-lease-namespace argo-rollouts: %+v, %v, %d lists", st, err, r.lists)
	}
}
