package alb

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

func TestForwardAction(t *testing.T) {
	t.Parallel()
	d := contract.Desired{Services: contract.Services{Canary: "c", Stable: "s"}, Weight: 10,
		Additional: []v1alpha1.WeightDestination{{ServiceName: "e", Weight: 5}}}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"weights and an experiment", Config{ALB: v1alpha1.ALBTrafficRouting{ServicePort: 443}},
			`{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"c","ServicePort":"443","Weight":10},{"ServiceName":"e","ServicePort":"443","Weight":5},{"ServiceName":"s","ServicePort":"443","Weight":85}]}}`},
		{"stickiness", Config{ALB: v1alpha1.ALBTrafficRouting{ServicePort: 80, StickinessConfig: &v1alpha1.StickinessConfig{Enabled: true, DurationSeconds: 60}}},
			`{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"c","ServicePort":"80","Weight":10},{"ServiceName":"e","ServicePort":"80","Weight":5},{"ServiceName":"s","ServicePort":"80","Weight":85}],"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":60}}}`},
		{"stickiness disabled", Config{ALB: v1alpha1.ALBTrafficRouting{ServicePort: 80, StickinessConfig: &v1alpha1.StickinessConfig{DurationSeconds: 60}}},
			`{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"c","ServicePort":"80","Weight":10},{"ServiceName":"e","ServicePort":"80","Weight":5},{"ServiceName":"s","ServicePort":"80","Weight":85}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.cfg.ForwardAction(d); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestConditionsAreExactOnly(t *testing.T) {
	t.Parallel()
	_, err := Conditions(contract.HeaderRoute{Name: "h", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x", HeaderValue: &v1alpha1.StringMatch{Prefix: "p"}}}})
	if ic, ok := contract.AsInvalidConfig(err); !ok || !strings.Contains(ic.Message, "must use headerValue.exact") {
		t.Errorf("err = %v", err)
	}
}

func TestRootServiceAndBackendCheck(t *testing.T) {
	t.Parallel()
	cfg := Config{Rollout: "ro", ALB: v1alpha1.ALBTrafficRouting{ServicePort: 80, RootService: "root"}}
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "root", Port: networkingv1.ServiceBackendPort{Name: UseAnnotation}},
		}}}},
	}}}}}
	ing.Name = "ing"
	got, err := cfg.Ingress(ing, contract.Desired{Services: contract.Services{Canary: "c", Stable: "s"}, Weight: 40})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Annotations["alb.ingress.kubernetes.io/actions.root"], `"ServiceName":"c","ServicePort":"80","Weight":40`) {
		t.Errorf("annotations %v", got.Annotations)
	}
	cfg.ALB.RootService = ""
	if _, err := cfg.Ingress(ing, contract.Desired{Services: contract.Services{Canary: "c", Stable: "s"}}); err == nil ||
		!strings.Contains(err.Error(), "Ingress `ing` has no path with backend Service `s` (port name use-annotation)") {
		t.Errorf("err = %v", err)
	}
}
