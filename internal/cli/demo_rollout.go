package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/examples"
	"github.com/sluicehq/sluice/internal/cli/view"
	"github.com/sluicehq/sluice/internal/yamldocs"
)

// demoRollout is one Rollout of the demo: the question's manifest, or its NGINX-routed twin.
type demoRollout struct {
	title, file string
	key         types.NamespacedName
	lastLine    string
	healthyOnce bool
}

// demoRollouts runs the question's Rollout and its corrected NGINX-routed twin side by side:
// deploy both, change both images, show them live until both are Healthy again, and narrate
// what happened (the pod ratio gives 25 % for setWeight 20; the router gives exactly 20 %).
func demoRollouts(ctx context.Context, cfgClient client.Client, tl *timeline, in io.Reader, out io.Writer) error {
	ros := []*demoRollout{
		{title: "without a router (examples/rollout-basic.yaml)", file: "rollout-basic.yaml",
			key: types.NamespacedName{Namespace: "basic", Name: "my-rollout"}},
		{title: "with NGINX Ingress (examples/nginx/rollout.yaml)", file: "nginx/rollout.yaml",
			key: types.NamespacedName{Namespace: "nginx", Name: "my-rollout"}},
	}
	for _, d := range ros {
		if err := applyExample(ctx, cfgClient, d.key.Namespace, d.file); err != nil {
			return err
		}
		tl.mark("applied %s in namespace %s", d.file, d.key.Namespace)
	}
	if err := narrate(ctx, cfgClient, ros, tl, false); err != nil {
		return err
	}
	for _, d := range ros {
		d.healthyOnce = false
		if err := setDemoImage(ctx, cfgClient, d.key, "nginx:1.26"); err != nil {
			return err
		}
	}
	tl.mark("set image my-app=nginx:1.26 on both (revision 2)")

	if isTerminal(out) {
		// Live view: both trees redrawn in place; the narration is printed afterwards.
		tl.hold()
		go func() { _ = narrate(ctx, cfgClient, ros, tl, false) }()
		render := func(ctx context.Context) (string, bool, error) {
			var b strings.Builder
			done := true
			for _, d := range ros {
				info, err := RolloutInfo(ctx, cfgClient, d.key, time.Now())
				if err != nil {
					return "", false, err
				}
				fmt.Fprintf(&b, "── %s, namespace %s\n%s\n", d.title, d.key.Namespace, view.Tree(info, view.Options{Color: useColor(out, false)}))
				done = done && rolloutDone(ctx, cfgClient, d.key)
			}
			return b.String(), done, nil
		}
		if err := runLive(ctx, in, out, 500*time.Millisecond, render); err != nil {
			return err
		}
		tl.release()
	} else if err := narrate(ctx, cfgClient, ros, tl, true); err != nil {
		return err
	}
	tl.mark("demo done: setWeight 20 ran as 1 of 4 pods (25 %%) without a router, reported as such, and as exactly 20 %% of requests through NGINX; both Healthy on nginx:1.26")
	return nil
}

// applyExample creates namespace ns and the objects of an embedded example in it.
func applyExample(ctx context.Context, c client.Client, ns, file string) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	for {
		sa := &corev1.ServiceAccount{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "default"}, sa); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	b, err := examples.FS.ReadFile(file)
	if err != nil {
		return err
	}
	docs, err := yamldocs.Decode(b)
	if err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	for _, u := range docs {
		u.SetNamespace(ns)
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("creating %s %s from %s: %w", u.GetKind(), u.GetName(), file, err)
		}
	}
	return nil
}

func setDemoImage(ctx context.Context, c client.Client, key types.NamespacedName, image string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &v1alpha1.Rollout{}
		if err := c.Get(ctx, key, cur); err != nil {
			return err
		}
		cur.Spec.Template.Spec.Containers[0].Image = image
		return c.Update(ctx, cur)
	})
}

// rolloutDone: Healthy at the observed generation and promoted (with a router the old version
// stays up for scaleDownDelaySeconds, without traffic).
func rolloutDone(ctx context.Context, c client.Client, key types.NamespacedName) bool {
	ro := &v1alpha1.Rollout{}
	if err := c.Get(ctx, key, ro); err != nil {
		return false
	}
	st := ro.Status
	return st.ObservedGeneration == fmt.Sprint(ro.Generation) && st.Phase == v1alpha1.RolloutPhaseHealthy &&
		st.StableRS == st.CurrentPodHash
}

// narrate marks each change of the Rollouts' state on the timeline until all are done. With
// tree it also prints each Rollout's tree the first time it pauses (a snapshot mid-rollout).
func narrate(ctx context.Context, c client.Client, ros []*demoRollout, tl *timeline, tree bool) error {
	snapped := map[string]bool{}
	for {
		all := true
		for _, d := range ros {
			line, done, err := demoLine(ctx, c, d.key)
			if err != nil {
				return err
			}
			if line != "" && line != d.lastLine {
				tl.mark("%-6s %s", d.key.Namespace, line)
				d.lastLine = line
			}
			if tree && !snapped[d.key.Namespace] && strings.Contains(line, "Paused") {
				snapped[d.key.Namespace] = true
				if info, err := RolloutInfo(ctx, c, d.key, time.Now()); err == nil {
					tl.block(view.Tree(info, view.Options{}))
				}
			}
			all = all && done
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the demo Rollouts to become Healthy: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// demoLine summarises a Rollout: phase, step, pods per revision, and the canary's share of
// pods or of requests; done tells, from the same read, whether it is Healthy and promoted.
func demoLine(ctx context.Context, c client.Client, key types.NamespacedName) (line string, done bool, err error) {
	ro := &v1alpha1.Rollout{}
	if err := c.Get(ctx, key, ro); err != nil {
		return "", false, err
	}
	st := ro.Status
	if st.ObservedGeneration != fmt.Sprint(ro.Generation) {
		return "", false, nil
	}
	done = st.Phase == v1alpha1.RolloutPhaseHealthy && st.StableRS == st.CurrentPodHash
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(key.Namespace), client.MatchingLabels(ro.Spec.Selector.MatchLabels)); err != nil {
		return "", false, err
	}
	canary, stable := 0, 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		switch p.Labels[v1alpha1.LabelPodTemplateHash] {
		case st.StableRS:
			stable++
		case st.CurrentPodHash:
			canary++
		}
	}
	step := "-"
	if st.CurrentStepIndex != nil {
		step = fmt.Sprintf("%d/%d", *st.CurrentStepIndex, len(ro.Spec.Strategy.Canary.Steps))
	}
	line = fmt.Sprintf("phase %-11s step %-4s pods: stable %d, canary %d", st.Phase, step, stable, canary)
	if st.Message != "" {
		line += fmt.Sprintf(" (%s)", st.Message)
	}
	if st.StableRS == st.CurrentPodHash || canary == 0 {
		return line, done, nil
	}
	if ro.Spec.Strategy.Canary.TrafficRouting == nil {
		line += fmt.Sprintf("; the canary has %d of %d pods: about %.0f%% of requests", canary, canary+stable,
			float64(canary)*100/float64(canary+stable))
		return line, done, nil
	}
	ing := &networkingv1.Ingress{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: "my-rollout-my-app-ingress-canary"}, ing); err == nil {
		line += fmt.Sprintf("; NGINX sends %s%% of requests to the canary (canary Ingress canary-weight)",
			ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"])
	}
	return line, done, nil
}
