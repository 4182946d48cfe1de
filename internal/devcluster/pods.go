package devcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// PodPlannerUserAgent is the user agent of the pod planner's API requests (audit logs).
const PodPlannerUserAgent = "sluice-devcluster-pod-planner"

// podPlanner puts ExitAnnotation on every pod whose containers the cluster plays out (see
// planPod); kwok's sluice-pod-exit stage then ends the pod at the planned time. It runs in
// the process that started the cluster, for as long as the cluster does.
//
// It also plays pods with restartPolicy Always that need more than "Running and Ready at once"
// (see planPlay): it decides once per pod, writing PlayAnnotation ("none" hands the pod back
// to kwok's stages, which hold such pods until then), and then owns the status of the pods it
// plays (kwok's stages leave them alone), writing each change at its time with a timer.
type podPlanner struct {
	cs     kubernetes.Interface
	pods   cache.Indexer
	queue  workqueue.TypedRateLimitingInterface[types.NamespacedName]
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	started  map[types.UID]time.Time // when the planner started playing a pod
	deleting map[types.UID]time.Time // when it first saw the pod terminating
	lastIP   uint32
}

func startPodPlanner(cfg *rest.Config) (*podPlanner, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = PodPlannerUserAgent
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &podPlanner{
		cs:       cs,
		cancel:   cancel,
		started:  map[types.UID]time.Time{},
		deleting: map[types.UID]time.Time{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
			workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: "devcluster-pod-planner"}),
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTransform(func(obj any) (any, error) {
			if m, ok := obj.(metav1.Object); ok {
				m.SetManagedFields(nil)
			}
			return obj, nil
		}))
	inf := factory.Core().V1().Pods().Informer()
	enqueue := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok && (wantAnnotation(pod) != "" || wantsPlay(pod)) {
			p.queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				p.mu.Lock()
				delete(p.started, pod.UID)
				delete(p.deleting, pod.UID)
				p.mu.Unlock()
			}
		},
	}); err != nil {
		cancel()
		return nil, err
	}
	p.pods = inf.GetIndexer()
	factory.Start(ctx.Done())
	const workers = 2
	for range workers {
		p.wg.Go(func() {
			for p.next(ctx) {
			}
		})
	}
	p.wg.Go(func() {
		<-ctx.Done()
		p.queue.ShutDown()
		factory.Shutdown()
	})
	return p, nil
}

func (p *podPlanner) stop() {
	p.cancel()
	p.wg.Wait()
}

func (p *podPlanner) next(ctx context.Context) bool {
	key, quit := p.queue.Get()
	if quit {
		return false
	}
	defer p.queue.Done(key)
	if err := p.sync(ctx, key); err != nil && ctx.Err() == nil {
		p.queue.AddRateLimited(key)
		return true
	}
	p.queue.Forget(key)
	return true
}

func (p *podPlanner) sync(ctx context.Context, key types.NamespacedName) error {
	obj, ok, err := p.pods.GetByKey(key.String())
	if err != nil || !ok {
		return err
	}
	pod := obj.(*corev1.Pod)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if want := wantAnnotation(pod); want != "" {
		return p.annotate(ctx, pod, ExitAnnotation, want)
	}
	if !wantsPlay(pod) {
		return nil
	}
	play, decided := pod.Annotations[PlayAnnotation]
	if !decided {
		if pod.DeletionTimestamp != nil {
			return nil // kwok's delete stage removes undecided pods
		}
		want := "none"
		if plan := planPlay(pod); plan != nil {
			want = plan.annotation()
		}
		return p.annotate(ctx, pod, PlayAnnotation, want)
	}
	plan, err := parsePlay(play)
	if err != nil || pod.Spec.NodeName == "" {
		return nil // a plan someone else wrote; or not scheduled yet (binding is an update)
	}
	return p.play(ctx, key, pod, plan)
}

func (p *podPlanner) annotate(ctx context.Context, pod *corev1.Pod, name, value string) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{name: value}},
	})
	if err != nil {
		return err
	}
	_, err = p.cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// wantsPlay: a pod the planner decides on (no PlayAnnotation yet) or plays (a plan in it).
func wantsPlay(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	play, decided := pod.Annotations[PlayAnnotation]
	if !decided {
		return pod.DeletionTimestamp == nil && needsDecision(pod)
	}
	return play != "none"
}

// fakeNodeIP is every fake node's address (kwok's --node-ip).
const fakeNodeIP = "10.240.0.1"

// play writes the status a played pod has now and schedules the next change; a terminating
// pod is removed at once, or after its preStop hook (at most its grace period) during which
// it stays Running and not Ready.
func (p *podPlanner) play(ctx context.Context, key types.NamespacedName, pod *corev1.Pod, plan *playPlan) error {
	now := time.Now()
	p.mu.Lock()
	t0, ok := p.started[pod.UID]
	if !ok {
		t0 = now
		if pod.Status.StartTime != nil {
			t0 = pod.Status.StartTime.Time
		}
		p.started[pod.UID] = t0
	}
	terminating := pod.DeletionTimestamp != nil
	var delStart time.Time
	if terminating {
		if delStart, ok = p.deleting[pod.UID]; !ok {
			delStart = now
			p.deleting[pod.UID] = now
		}
	}
	p.mu.Unlock()

	images := map[string]string{}
	for _, c := range pod.Spec.Containers {
		images[c.Name] = c.Image
	}
	var next time.Time
	if terminating {
		grace := 30 * time.Second
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		end := delStart.Add(min(dur(plan.PreStopSeconds), grace))
		if !now.Before(end) || !plan.runningAt(t0, delStart) {
			err := p.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: new(int64(0)),
				Preconditions:      &metav1.Preconditions{UID: &pod.UID},
			})
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil
			}
			return err
		}
		next = end
	}
	at := plan.at(t0, now, images)
	if !at.next.IsZero() && (next.IsZero() || at.next.Before(next)) {
		next = at.next
	}
	if !next.IsZero() {
		p.queue.AddAfter(key, next.Sub(now))
	}
	st := pod.Status.DeepCopy()
	st.Phase = at.phase
	st.ContainerStatuses = at.containers
	if st.StartTime == nil {
		st.StartTime = new(mt(t0))
	}
	st.HostIP, st.HostIPs = fakeNodeIP, []corev1.HostIP{{IP: fakeNodeIP}}
	if st.PodIP == "" {
		ip := p.nextIP()
		st.PodIP, st.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	}
	var notReady []string
	for i := range st.ContainerStatuses {
		if terminating {
			st.ContainerStatuses[i].Ready = false
		}
		if !st.ContainerStatuses[i].Ready {
			notReady = append(notReady, st.ContainerStatuses[i].Name)
		}
	}
	containersReady := len(notReady) == 0
	ready, readyReason, readyMsg := containersReady, "", ""
	if !containersReady {
		readyReason, readyMsg = "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	}
	if ready {
		for _, g := range pod.Spec.ReadinessGates {
			if !conditionTrue(st.Conditions, g.ConditionType) {
				ready, readyReason, readyMsg = false, "ReadinessGatesNotReady", "the status of pod readiness gate \""+string(g.ConditionType)+"\" is not \"True\""
				break
			}
		}
	}
	setCondition(st, corev1.PodReadyToStartContainers, true, "", "", now)
	setCondition(st, corev1.PodInitialized, true, "", "", now)
	setCondition(st, corev1.ContainersReady, containersReady, readyReason, readyMsg, now)
	setCondition(st, corev1.PodReady, ready, readyReason, readyMsg, now)
	if equality.Semantic.DeepEqual(st, &pod.Status) {
		return nil
	}
	upd := pod.DeepCopy()
	upd.Status = *st
	_, err := p.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err // a conflict: the update event brings the pod back
}

func (p *podPlanner) nextIP() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastIP = p.lastIP%65533 + 1
	// 10.245.0.0/16: kwok hands out 10.244.0.0/16 to the pods it plays.
	return fmt.Sprintf("10.245.%d.%d", p.lastIP>>8, p.lastIP&0xff)
}

func conditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setCondition sets a pod condition, keeping its lastTransitionTime unless its status changes.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, reason, msg string, now time.Time) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c := corev1.PodCondition{Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: mt(now)}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status == status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// wantAnnotation is the ExitAnnotation a pod still needs, or "".
func wantAnnotation(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return ""
	}
	if _, ok := pod.Annotations[ExitAnnotation]; ok {
		return ""
	}
	plan := planPod(pod)
	if plan == nil {
		return ""
	}
	return plan.annotation()
}
