package devcluster

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
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
type podPlanner struct {
	cs     kubernetes.Interface
	pods   cache.Indexer
	queue  workqueue.TypedRateLimitingInterface[types.NamespacedName]
	cancel context.CancelFunc
	wg     sync.WaitGroup
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
		cs:     cs,
		cancel: cancel,
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
		if pod, ok := obj.(*corev1.Pod); ok && wantAnnotation(pod) != "" {
			p.queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
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
	want := wantAnnotation(obj.(*corev1.Pod))
	if want == "" {
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{ExitAnnotation: want}},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = p.cs.CoreV1().Pods(key.Namespace).Patch(ctx, key.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
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
