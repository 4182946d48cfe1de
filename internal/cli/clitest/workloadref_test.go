package clitest

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// `set image` on a Rollout with workloadRef changes the referenced Deployment's template (as
// Argo's plugin does), and the controller rolls the new template out as a canary update.
func TestSetImageWithWorkloadRef(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	labels := map[string]string{"app": "shop"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: e.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
			},
		},
	}
	if err := e.c.Create(t.Context(), dep); err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: e.ns},
		Spec: v1alpha1.RolloutSpec{
			Replicas:    new(int32(2)),
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "shop"},
			Strategy:    v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{setWeight(50), pause("")}}},
		},
	}
	if err := e.c.Create(t.Context(), ro); err != nil {
		t.Fatal(err)
	}
	e.waitFor(time.Minute, func() string {
		if r := e.rollout("shop"); r.Status.Phase != v1alpha1.RolloutPhaseHealthy {
			return "waiting for Healthy: " + string(r.Status.Phase) + " " + r.Status.Message
		}
		return ""
	})
	if out := e.ok("set", "image", "shop", "web=nginx:1.26"); out != "rollout \"shop\" image updated\n" {
		t.Errorf("set image printed %q", out)
	}
	got := &appsv1.Deployment{}
	if err := e.c.Get(t.Context(), types.NamespacedName{Namespace: e.ns, Name: "shop"}, got); err != nil {
		t.Fatal(err)
	}
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.26" {
		t.Fatalf("the Deployment's image is %q", img)
	}
	e.waitFor(time.Minute, func() string {
		if r := e.rollout("shop"); r.Status.Phase != v1alpha1.RolloutPhasePaused {
			return "waiting for the canary update to pause: " + string(r.Status.Phase) + " " + r.Status.Message
		}
		return ""
	})
	if _, errs, code := e.sluice("set", "image", "shop", "nope=nginx:1"); code == 0 || !strings.Contains(errs, `deployment "shop" has no container named "nope"`) {
		t.Errorf("unknown container: exit %d, %q", code, errs)
	}
}
