package rollout_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

// seen is one state of an object on a watch stream: the objects listed when the watch began
// (Type "LISTED"), then every event.
type seen struct {
	Type watch.EventType
	Obj  client.Object
	At   time.Time
}

// stream records every state of one kind of object in the test's namespace, from a list and a
// watch that starts at the list's resourceVersion, so no state in between is missed.
type stream struct {
	t      *testing.T
	mu     sync.Mutex
	events []seen
	broken string // the watch ended early or failed: the record is incomplete
}

const listed watch.EventType = "LISTED"

// watch starts recording list's kind (e.g. &appsv1.ReplicaSetList{}) until the test ends.
func (e *env) watch(list client.ObjectList) *stream {
	e.t.Helper()
	wc, err := client.NewWithWatch(devclustertest.Config(e.t), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := e.t.Context()
	if err := wc.List(ctx, list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	s := &stream{t: e.t}
	items, err := meta.ExtractList(list)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	for _, it := range items {
		s.events = append(s.events, seen{Type: listed, Obj: it.(client.Object), At: now})
	}
	rv := list.(metav1.ListInterface).GetResourceVersion()
	w, err := wc.Watch(ctx, list, client.InNamespace(e.ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
	if err != nil {
		e.t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			s.mu.Lock()
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				s.events = append(s.events, seen{Type: ev.Type, Obj: ev.Object.(client.Object), At: time.Now()})
			case watch.Error:
				s.broken = fmt.Sprintf("watch error: %v", ev.Object)
			case watch.Bookmark:
			}
			s.mu.Unlock()
		}
		s.mu.Lock()
		if ctx.Err() == nil && s.broken == "" {
			s.broken = "the watch ended before the test"
		}
		s.mu.Unlock()
	}()
	return s
}

// all returns every state seen so far; the test fails if the record is incomplete.
func (s *stream) all() []seen {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != "" {
		s.t.Fatalf("watch stream incomplete: %s", s.broken)
	}
	return append([]seen(nil), s.events...)
}

// since returns the states seen after t (events only, not the initial list).
func (s *stream) since(t time.Time) []seen {
	s.t.Helper()
	var out []seen
	for _, ev := range s.all() {
		if ev.Type != listed && !ev.At.Before(t) {
			out = append(out, ev)
		}
	}
	return out
}

// events lists the events.k8s.io Events about the named object with the given reason.
func (e *env) events(name, reason string) []eventsv1.Event {
	e.t.Helper()
	return slices.DeleteFunc(e.eventsAbout(name), func(ev eventsv1.Event) bool { return ev.Reason != reason })
}

// eventsAbout lists the events.k8s.io Events about the named object.
func (e *env) eventsAbout(name string) []eventsv1.Event {
	e.t.Helper()
	var list eventsv1.EventList
	if err := e.c.List(e.t.Context(), &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	return slices.DeleteFunc(list.Items, func(ev eventsv1.Event) bool { return ev.Regarding.Name != name })
}
