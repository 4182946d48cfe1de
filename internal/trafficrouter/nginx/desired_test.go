package nginx

import (
	"errors"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
)

func path(p, svc string) networkingv1.HTTPIngressPath {
	pt := networkingv1.PathTypePrefix
	return networkingv1.HTTPIngressPath{Path: p, PathType: &pt, Backend: networkingv1.IngressBackend{
		Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}},
	}}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}
}

func stableIngress(annotations map[string]string, rules ...networkingv1.IngressRule) *networkingv1.Ingress {
	class := "nginx"
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Annotations: annotations},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"a.example"}, SecretName: "tls"}},
			Rules:            rules,
		},
	}
}

var svc = contract.Services{Canary: "web-canary", Stable: "web-stable"}

func TestCanaryIngress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		stable  *networkingv1.Ingress
		weight  int32
		total   int32
		wantAnn map[string]string
		wantErr string
		check   func(t *testing.T, ing *networkingv1.Ingress)
	}{{
		name:   "paths to the stable Service are copied with the canary backend, others dropped",
		cfg:    Config{Rollout: "ro"},
		stable: stableIngress(map[string]string{"kubernetes.io/ingress.class": "nginx", "other": "x"}, rule("a.example", path("/", "web-stable"), path("/admin", "admin")), rule("b.example", path("/", "unrelated"))),
		weight: 20,
		wantAnn: map[string]string{
			"kubernetes.io/ingress.class":               "nginx",
			"nginx.ingress.kubernetes.io/canary":        "true",
			"nginx.ingress.kubernetes.io/canary-weight": "20",
		},
		check: func(t *testing.T, ing *networkingv1.Ingress) {
			t.Helper()
			if ing.Name != "ro-web-canary" || len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "a.example" {
				t.Fatalf("rules: %+v", ing.Spec.Rules)
			}
			paths := ing.Spec.Rules[0].HTTP.Paths
			if len(paths) != 1 || paths[0].Backend.Service.Name != "web-canary" || paths[0].Path != "/" {
				t.Fatalf("paths: %+v", paths)
			}
			if *ing.Spec.IngressClassName != "nginx" || len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "tls" {
				t.Fatalf("class/TLS not copied: %+v", ing.Spec)
			}
		},
	}, {
		name: "additional annotations are prefixed, maxTrafficWeight writes the total, canaryIngressAnnotations win over additional ones",
		cfg: Config{Rollout: "ro", MaxTrafficWeight: new(int32(1000)), Nginx: v1alpha1.NginxTrafficRouting{
			AnnotationPrefix:             "custom.io",
			AdditionalIngressAnnotations: map[string]string{"canary-by-header": "X-Canary", "custom.io/canary-by-cookie": "c"},
			CanaryIngressAnnotations:     map[string]string{"custom.io/canary-by-cookie": "d", "team": "a"},
		}},
		stable: stableIngress(nil, rule("", path("/", "web-stable"))),
		weight: 250, total: 1000,
		wantAnn: map[string]string{
			"custom.io/canary-by-header":    "X-Canary",
			"custom.io/canary-by-cookie":    "d",
			"custom.io/canary":              "true",
			"custom.io/canary-weight":       "250",
			"custom.io/canary-weight-total": "1000",
			"team":                          "a",
		},
	}, {
		// A user annotation must not freeze the weight: the keys that carry the split are
		// written after canaryIngressAnnotations and additionalIngressAnnotations are merged.
		name: "the weight keys are written after the user's annotations",
		cfg: Config{Rollout: "ro", Nginx: v1alpha1.NginxTrafficRouting{
			AdditionalIngressAnnotations: map[string]string{"canary-weight": "5", "canary": "false"},
			CanaryIngressAnnotations: map[string]string{
				"nginx.ingress.kubernetes.io/canary-weight":       "0",
				"nginx.ingress.kubernetes.io/canary-weight-total": "1000",
				"nginx.ingress.kubernetes.io/canary":              "false",
			},
		}},
		stable: stableIngress(nil, rule("", path("/", "web-stable"))),
		weight: 20,
		wantAnn: map[string]string{
			"nginx.ingress.kubernetes.io/canary":        "true",
			"nginx.ingress.kubernetes.io/canary-weight": "20",
		},
	}, {
		name:    "no path to the stable Service",
		cfg:     Config{Rollout: "ro"},
		stable:  stableIngress(nil, rule("", path("/", "something-else"))),
		wantErr: "Ingress `web` has no rules using Service `web-stable` as a backend",
	}, {
		name:    "canary annotations on the stable Ingress",
		cfg:     Config{Rollout: "ro"},
		stable:  stableIngress(map[string]string{"nginx.ingress.kubernetes.io/canary": "true"}, rule("", path("/", "web-stable"))),
		wantErr: "the stable Ingress `web` carries the canary annotations nginx.ingress.kubernetes.io/canary",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CanaryIngress(tt.cfg, tt.stable, contract.Desired{Services: svc, Weight: tt.weight, Total: tt.total})
			if tt.wantErr != "" {
				var ic *contract.InvalidConfigError
				if !errors.As(err, &ic) || !strings.Contains(ic.Message, tt.wantErr) {
					t.Fatalf("err = %v, want an InvalidConfigError with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !apiequality.Semantic.DeepEqual(got.Annotations, tt.wantAnn) {
				t.Errorf("annotations %v, want %v", got.Annotations, tt.wantAnn)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestCanaryIngressName(t *testing.T) {
	t.Parallel()
	if got := CanaryIngressName("ro", "web"); got != "ro-web-canary" {
		t.Errorf("got %q", got)
	}
	long := CanaryIngressName(strings.Repeat("r", 200), strings.Repeat("s", 100))
	if len(long) != 253 || !strings.HasSuffix(long, "-canary") {
		t.Errorf("long name: %d chars, %q", len(long), long[len(long)-10:])
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	desired, err := CanaryIngress(Config{Rollout: "ro"}, stableIngress(nil, rule("", path("/", "web-stable"))), contract.Desired{Services: svc, Weight: 20})
	if err != nil {
		t.Fatal(err)
	}
	created := Merge(nil, desired)
	if created.Annotations[AnnotationManagedAnnotations] != `["nginx.ingress.kubernetes.io/canary","nginx.ingress.kubernetes.io/canary-weight"]` {
		t.Fatalf("bookkeeping: %v", created.Annotations)
	}
	if Changed(created, Merge(created, desired)) {
		t.Error("merging the same desired Ingress again changes it")
	}

	// Someone adds an annotation, the API server defaulted the class, sluice stops wanting an
	// annotation it set before.
	cur := created.DeepCopy()
	cur.Annotations["example.com/owner"] = "team"
	cur.Annotations["nginx.ingress.kubernetes.io/canary-by-header"] = "X"
	cur.Annotations[AnnotationManagedAnnotations] = `["nginx.ingress.kubernetes.io/canary","nginx.ingress.kubernetes.io/canary-by-header","nginx.ingress.kubernetes.io/canary-weight"]`
	defaulted := "default-class"
	desired.Spec.IngressClassName = nil
	cur.Spec.IngressClassName = &defaulted
	got := Merge(cur, desired)
	if got.Annotations["example.com/owner"] != "team" {
		t.Error("a foreign annotation was dropped")
	}
	if _, ok := got.Annotations["nginx.ingress.kubernetes.io/canary-by-header"]; ok {
		t.Error("an annotation sluice no longer wants was kept")
	}
	if got.Spec.IngressClassName == nil || *got.Spec.IngressClassName != "default-class" {
		t.Error("the defaulted ingressClassName was dropped")
	}
}

func TestDiagnoseClean(t *testing.T) {
	t.Parallel()
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "ro"}}
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{CanaryService: "web-canary", StableService: "web-stable",
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{Nginx: &v1alpha1.NginxTrafficRouting{StableIngress: "web"}}}
	if msg := Diagnose(ro, stableIngress(nil, rule("", path("/", "web-stable")))); msg != "" {
		t.Errorf("Diagnose = %q", msg)
	}
	if msg := Diagnose(ro, stableIngress(nil, rule("", path("/", "other")))); !strings.Contains(msg, "no path whose backend is stableService `web-stable` (its backends: other)") {
		t.Errorf("Diagnose = %q", msg)
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	cfg := Config{Nginx: v1alpha1.NginxTrafficRouting{
		AdditionalIngressAnnotations: map[string]string{"canary-weight": "5", "canary-by-header": "X"},
		CanaryIngressAnnotations: map[string]string{
			"nginx.ingress.kubernetes.io/canary-weight-total": "1000",
			"nginx.ingress.kubernetes.io/canary-by-cookie":    "c",
		},
	}}
	got := strings.Join(Warnings(cfg), "\n")
	for _, want := range []string{
		`trafficRouting.nginx.canaryIngressAnnotations sets nginx.ingress.kubernetes.io/canary-weight-total: "1000", which sluice ignores: it writes nginx.ingress.kubernetes.io/canary-weight-total itself at every step (Argo Rollouts lets canaryIngressAnnotations override it, which freezes the canary's traffic); remove it and set trafficRouting.maxTrafficWeight for a total other than 100`,
		`trafficRouting.nginx.additionalIngressAnnotations sets canary-weight: "5", which sluice (like Argo Rollouts) ignores: it writes nginx.ingress.kubernetes.io/canary-weight itself at every step; remove it and set the weight with setWeight steps`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings:\n%s\nlack:\n%s", got, want)
		}
	}
	if n := len(Warnings(cfg)); n != 2 {
		t.Errorf("%d warnings, want 2 (canary-by-header and canary-by-cookie are fine)", n)
	}
}
