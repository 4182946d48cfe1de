// Package argolease detects a live Argo Rollouts controller through its leader-election Lease,
// so sluice does not reconcile the same Rollouts next to it during a migration
// (docs/migrating-from-argo.md).
//
// Argo's controller holds the Lease argo-rollouts-controller-lock, suffixed -<instance-id>
// when it runs with an instance id (Argo v1.10+), in its own namespace (usually
// argo-rollouts); it renews it every 2 s for 15 s (argo-compat.md §1.11). The Lease is live
// while renewTime + leaseDurationSeconds is in the future and it has a holder. Argo does not
// release it on shutdown, so a stopped Argo is seen at most one lease duration later.
package argolease

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LeaseName is the name of Argo Rollouts' leader-election Lease without an instance id.
const LeaseName = "argo-rollouts-controller-lock"

// DefaultNamespace is where Argo Rollouts' controller usually runs; it is read when a
// cluster-wide lookup is forbidden.
const DefaultNamespace = "argo-rollouts"

// DefaultMaxAge is how long one read of the Lease is reused (Argo's leader-election retry
// period: a live Argo renews about this often).
const DefaultMaxAge = 2 * time.Second

// Name is the Lease that Argo Rollouts' controller of the given instance id holds.
func Name(instanceID string) string {
	if instanceID == "" {
		return LeaseName
	}
	return LeaseName + "-" + instanceID
}

// State is what the Lease says about Argo Rollouts' controller.
type State struct {
	// Live is true while some Lease with the name has a holder and renewTime +
	// leaseDurationSeconds is in the future.
	Live bool
	// Namespace, Name and Holder identify the live Lease; Expires is when it lapses unless
	// renewed (the latest of several).
	Namespace, Name, Holder string
	Expires                 time.Time
}

func (s State) String() string {
	if !s.Live {
		return "no live Argo Rollouts controller lease"
	}
	return fmt.Sprintf("Lease %s/%s held by %q until %s", s.Namespace, s.Name, s.Holder, s.Expires.UTC().Format(time.RFC3339))
}

// Detector reads Argo's Lease, at most once per MaxAge, for all reconcile workers.
type Detector struct {
	// Reader reads around the cache (the manager's API reader): Leases are not cached.
	Reader client.Reader
	// Name is the Lease name (see Name).
	Name string
	// Namespace limits the lookup to one namespace; "" looks in all namespaces (a list with a
	// field selector on the name), falling back to a read in each of FallbackNamespaces when
	// RBAC forbids the cluster-wide list.
	Namespace          string
	FallbackNamespaces []string
	// MaxAge is how long a read is reused (default DefaultMaxAge).
	MaxAge time.Duration
	Clock  clock.PassiveClock
	Log    logr.Logger

	mu        sync.Mutex
	readAt    time.Time
	leases    []coordinationv1.Lease
	err       error
	forbidden bool // a cluster-wide list was refused (logged once)
	wasLive   bool // for the log line at each change
}

// Check reports whether Argo's controller is live now. A failed read is an error (callers
// hold off and retry): sluice never acts on a guess.
func (d *Detector) Check(ctx context.Context) (State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock().Now()
	maxAge := d.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	fresh := !d.readAt.IsZero() && now.Sub(d.readAt) < maxAge
	if fresh && d.err == nil && !evaluate(d.leases, now).Live && evaluate(d.leases, d.readAt).Live {
		// Live when read, lapsed since: only a read made after the expiry may say Argo is gone
		// (it may have renewed in between).
		fresh = false
	}
	if !fresh {
		d.leases, d.err = d.read(ctx)
		d.readAt = now
	}
	if d.err != nil {
		return State{}, d.err
	}
	st := evaluate(d.leases, now)
	if st.Live != d.wasLive {
		d.wasLive = st.Live
		if st.Live {
			d.Log.Info("Argo Rollouts' controller is running: sluice leaves its Rollouts alone until its Lease expires (or run with --take-over-from-argo)", "lease", st.String())
		} else {
			d.Log.Info("Argo Rollouts' controller lease expired: sluice acts on the Rollouts", "lease", d.Name)
		}
	}
	return st, nil
}

func (d *Detector) clock() clock.PassiveClock {
	if d.Clock == nil {
		return clock.RealClock{}
	}
	return d.Clock
}

func (d *Detector) read(ctx context.Context) ([]coordinationv1.Lease, error) {
	if d.Namespace != "" {
		return d.get(ctx, []string{d.Namespace})
	}
	var list coordinationv1.LeaseList
	err := d.Reader.List(ctx, &list, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", d.Name)})
	if err == nil {
		return list.Items, nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("listing Leases named %s: %w", d.Name, err)
	}
	if !d.forbidden {
		d.forbidden = true
		d.Log.Info("not allowed to list Leases in all namespaces: looking for Argo Rollouts' Lease only in the fallback namespaces",
			"lease", d.Name, "namespaces", d.FallbackNamespaces, "error", err.Error())
	}
	return d.get(ctx, d.FallbackNamespaces)
}

// get reads the Lease in each namespace; a namespace where reading it is forbidden is skipped
// (logged once per read error kind by the caller's log line above).
func (d *Detector) get(ctx context.Context, namespaces []string) ([]coordinationv1.Lease, error) {
	var out []coordinationv1.Lease
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		var l coordinationv1.Lease
		err := d.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: d.Name}, &l)
		switch {
		case err == nil:
			out = append(out, l)
		case apierrors.IsNotFound(err):
		case apierrors.IsForbidden(err):
			d.Log.V(1).Info("not allowed to read Argo Rollouts' Lease", "namespace", ns, "lease", d.Name)
		default:
			return nil, fmt.Errorf("reading Lease %s/%s: %w", ns, d.Name, err)
		}
	}
	return out, nil
}

// evaluate tells whether any of the Leases is live at now.
func evaluate(leases []coordinationv1.Lease, now time.Time) State {
	var st State
	for i := range leases {
		l := &leases[i]
		exp, ok := Expiry(l)
		if !ok || !exp.After(now) {
			continue
		}
		if !st.Live || exp.After(st.Expires) {
			st = State{Live: true, Namespace: l.Namespace, Name: l.Name, Holder: *l.Spec.HolderIdentity, Expires: exp}
		}
	}
	return st
}

// Expiry is renewTime (or acquireTime) + leaseDurationSeconds of a held Lease; ok is false
// for a Lease without a holder or without those fields.
func Expiry(l *coordinationv1.Lease) (time.Time, bool) {
	s := l.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.LeaseDurationSeconds == nil {
		return time.Time{}, false
	}
	at := s.RenewTime
	if at == nil {
		at = s.AcquireTime
	}
	if at == nil {
		return time.Time{}, false
	}
	return at.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second), true
}

// Namespaces returns the fallback namespaces: Argo's usual one and the namespace sluice
// manages (where a namespaced Argo would run), without duplicates or "".
func Namespaces(managed string) []string {
	ns := []string{DefaultNamespace}
	if managed != "" && !slices.Contains(ns, managed) {
		ns = append(ns, managed)
	}
	return ns
}
