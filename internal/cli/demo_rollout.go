package cli

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/examples"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/controller/rollout"
	"github.com/sluicehq/sluice/internal/devcluster"
)

// demoRollout runs the question's Rollout: deploy, change the image, and narrate every change
// of step, phase and pods until it is Healthy again.
func demoRollout(ctx context.Context, c *devcluster.Cluster, tl *timeline) error {
	k, err := client.New(c.RESTConfig(), client.Options{Scheme: controller.Scheme()})
	if err != nil {
		return err
	}
	b, err := examples.FS.ReadFile("rollout-basic.yaml")
	if err != nil {
		return err
	}
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict(b, ro); err != nil {
		return err
	}
	ro.Namespace = "default"
	if err := k.Create(ctx, ro); err != nil {
		return fmt.Errorf("creating the demo Rollout: %w", err)
	}
	key := types.NamespacedName{Namespace: "default", Name: ro.Name}
	tl.mark("applied examples/rollout-basic.yaml: Rollout %s, 3 replicas, steps setWeight 20 → pause 20s → setWeight 100", ro.Name)
	if err := watchRollout(ctx, k, key, tl); err != nil {
		return err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &v1alpha1.Rollout{}
		if err := k.Get(ctx, key, cur); err != nil {
			return err
		}
		cur.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
		return k.Update(ctx, cur)
	})
	if err != nil {
		return fmt.Errorf("changing the image: %w", err)
	}
	tl.mark("set image my-app=nginx:1.26 (revision 2)")
	if err := watchRollout(ctx, k, key, tl); err != nil {
		return err
	}
	tl.mark("demo done: setWeight 20 ran as 1 of 4 pods (25 %%) without a router, reported as such; Healthy on nginx:1.26")
	return nil
}

// watchRollout prints each change of the Rollout's state until it is Healthy and promoted.
func watchRollout(ctx context.Context, k client.Client, key types.NamespacedName, tl *timeline) error {
	last := ""
	for {
		ro := &v1alpha1.Rollout{}
		if err := k.Get(ctx, key, ro); err != nil {
			return err
		}
		var pods corev1.PodList
		if err := k.List(ctx, &pods, client.InNamespace(key.Namespace), client.MatchingLabels(ro.Spec.Selector.MatchLabels)); err != nil {
			return err
		}
		canary, stable := 0, 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				continue
			}
			switch p.Labels[v1alpha1.LabelPodTemplateHash] {
			case ro.Status.StableRS:
				stable++
			case ro.Status.CurrentPodHash:
				canary++
			}
		}
		st := ro.Status
		step := "-"
		if st.CurrentStepIndex != nil {
			step = fmt.Sprintf("%d/%d", *st.CurrentStepIndex, len(ro.Spec.Strategy.Canary.Steps))
		}
		line := fmt.Sprintf("phase %-11s step %-4s pods: stable %d, canary %d", st.Phase, step, stable, canary)
		if st.Message != "" {
			line += fmt.Sprintf(" (%s)", st.Message)
		}
		if w := ro.Annotations[rollout.AnnotationEffectiveWeight]; w != "" {
			line += fmt.Sprintf("; canary share %s%% of pods", w)
		}
		if line != last && st.ObservedGeneration == fmt.Sprint(ro.Generation) {
			tl.mark("%s", line)
			last = line
		}
		if st.ObservedGeneration == fmt.Sprint(ro.Generation) && st.Phase == v1alpha1.RolloutPhaseHealthy &&
			st.StableRS == st.CurrentPodHash && canary == 0 && stable == int(*ro.Spec.Replicas) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for Rollout %s to become Healthy: %w (last state: %s)", key.Name, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
