package trafficrouter_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter"
)

// rollout builds a Rollout from the YAML of its spec.strategy.canary.
func rollout(t *testing.T, canary string) *v1alpha1.Rollout {
	t.Helper()
	ro := &v1alpha1.Rollout{}
	ro.Name, ro.Namespace = "ro", "ns"
	c := &v1alpha1.CanaryStrategy{}
	if err := yaml.UnmarshalStrict([]byte(canary), c); err != nil {
		t.Fatal(err)
	}
	ro.Spec.Strategy.Canary = c
	return ro
}

const services = "canaryService: c\nstableService: s\n"

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, canary, want string
	}{
		{"no trafficRouting", "steps: [{setWeight: 20}]", ""},
		{"nginx", services + "trafficRouting: {nginx: {stableIngress: web}}", ""},
		{"nginx with maxTrafficWeight", services + "trafficRouting: {maxTrafficWeight: 1000, nginx: {stableIngress: web}}", ""},
		{"nginx and smi together", services + "trafficRouting: {nginx: {stableIngress: web}, smi: {}}", ""},
		{"istio subset split needs no Services", "trafficRouting: {istio: {virtualService: {name: vs}, destinationRule: {name: dr, canarySubsetName: c, stableSubsetName: s}}}", ""},
		{"gateway API", services + "trafficRouting: {managedRoutes: [{name: hdr}], plugins: {argoproj-labs/gatewayAPI: {httpRoute: r}}}\nsteps: [{setHeaderRoute: {name: hdr, match: [{headerName: x, headerValue: {prefix: a}}]}}]", ""},

		{"ambassador", services + "trafficRouting: {ambassador: {mappings: [m]}}", "trafficRouting.ambassador is not supported by sluice yet"},
		{"appMesh", services + "trafficRouting: {appMesh: {}}", "trafficRouting.appMesh is not supported by sluice yet"},
		{"traefik", services + "trafficRouting: {traefik: {weightedTraefikServiceName: t}}", "trafficRouting.traefik is not supported by sluice yet"},
		{"apisix", services + "trafficRouting: {apisix: {}}", "trafficRouting.apisix is not supported by sluice yet"},
		{"another plugin", services + "trafficRouting: {plugins: {argoproj-labs/contour: {}}}", `trafficRouting.plugins["argoproj-labs/contour"] is not supported by sluice yet`},
		{"no router", services + "trafficRouting: {managedRoutes: [{name: a}]}", "trafficRouting configures no router"},
		{"maxTrafficWeight with istio", services + "trafficRouting: {maxTrafficWeight: 1000, istio: {virtualService: {name: vs}}}", "maxTrafficWeight is only supported with nginx and plugins; istio weights"},
		{"nginx without Services", "trafficRouting: {nginx: {stableIngress: web}}", "trafficRouting.nginx needs canaryService and stableService"},
		{"smi without Services", "trafficRouting: {smi: {}}", "trafficRouting.smi needs canaryService and stableService"},
		{"istio host split without Services", "trafficRouting: {istio: {virtualService: {name: vs}}}", "trafficRouting.istio (host-level split, without destinationRule) needs canaryService"},
		{"alb without Services", "trafficRouting: {alb: {ingress: i, servicePort: 80}}", "trafficRouting.alb needs canaryService"},
		{"gateway API without Services", "trafficRouting: {plugins: {argoproj-labs/gatewayAPI: {httpRoute: r}}}", `needs canaryService and stableService`},
		{"alb pingPong without rootService", "pingPong: {pingService: a, pongService: b}\ntrafficRouting: {alb: {ingress: i, servicePort: 80}}", "trafficRouting.alb.rootService is required with pingPong"},
		{"header route with nginx", services + "trafficRouting: {managedRoutes: [{name: h}], nginx: {stableIngress: web}}\nsteps: [{setHeaderRoute: {name: h, match: [{headerName: x, headerValue: {exact: y}}]}}]",
			"steps[0].setHeaderRoute needs trafficRouting.istio, alb or plugins[\"argoproj-labs/gatewayAPI\"]; with NGINX, route by header with trafficRouting.nginx.additionalIngressAnnotations (canary-by-header"},
		{"mirror route with alb", services + "trafficRouting: {managedRoutes: [{name: m}], alb: {ingress: i, servicePort: 80}}\nsteps: [{setMirrorRoute: {name: m, match: [{path: {prefix: /}}]}}]",
			"steps[0].setMirrorRoute needs trafficRouting.istio or plugins"},
		{"route not in managedRoutes", services + "trafficRouting: {managedRoutes: [{name: a}], istio: {virtualService: {name: vs}}}\nsteps: [{setHeaderRoute: {name: b}}]",
			`steps[0].setHeaderRoute.name "b" must be listed in trafficRouting.managedRoutes`},
		{"alb header values are exact", services + "trafficRouting: {managedRoutes: [{name: h}], alb: {ingress: i, servicePort: 80}}\nsteps: [{setHeaderRoute: {name: h, match: [{headerName: x, headerValue: {prefix: y}}]}}]",
			"ALB matches header values exactly; use headerValue.exact"},
		{"string match with two kinds", services + "trafficRouting: {managedRoutes: [{name: h}], istio: {virtualService: {name: vs}}}\nsteps: [{setHeaderRoute: {name: h, match: [{headerName: x, headerValue: {exact: a, prefix: b}}]}}]",
			"headerValue must set exactly one of exact, prefix or regex"},
		{"istio weighted route named like a managed route", services + "trafficRouting: {managedRoutes: [{name: primary}], istio: {virtualService: {name: vs, routes: [primary]}}}",
			`route "primary" of VirtualService "vs" is also a managed route`},
		{"gateway API rule names", services + "trafficRouting: {managedRoutes: [{name: Header}], plugins: {argoproj-labs/gatewayAPI: {httpRoute: r}}}",
			`"Header" cannot name a Gateway API route rule`},
		{"gateway API header routes need useHeaderRoutes", services + "trafficRouting: {managedRoutes: [{name: h}], plugins: {argoproj-labs/gatewayAPI: {httpRoutes: [{name: r}]}}}\nsteps: [{setHeaderRoute: {name: h, match: [{headerName: x, headerValue: {exact: y}}]}}]",
			"needs an httpRoute or grpcRoute with useHeaderRoutes: true"},
		{"gateway API method must be exact", services + "trafficRouting: {managedRoutes: [{name: m}], plugins: {argoproj-labs/gatewayAPI: {httpRoute: r}}}\nsteps: [{setMirrorRoute: {name: m, match: [{method: {prefix: P}}]}}]",
			"Gateway API matches the HTTP method exactly"},
		{"gateway API unknown field", services + "trafficRouting: {plugins: {argoproj-labs/gatewayAPI: {httpRoute: r, useHeaderRoute: true}}}", `unknown field "useHeaderRoute"`},
		{"experiment weights with nginx", services + "trafficRouting: {nginx: {stableIngress: web}}\nsteps: [{experiment: {templates: [{name: e, specRef: canary, weight: 5}]}}]",
			"template weights need trafficRouting.smi, alb, istio or plugins"},
		{"experiment weights with smi and nginx", services + "trafficRouting: {smi: {}, nginx: {stableIngress: web}}\nsteps: [{experiment: {templates: [{name: e, specRef: canary, weight: 5}]}}]",
			"template weights need every router to take experiment destinations"},
		{"experiment weights with an istio subset split", services + "trafficRouting: {istio: {virtualService: {name: vs}, destinationRule: {name: dr, canarySubsetName: c, stableSubsetName: s}}}\nsteps: [{experiment: {templates: [{name: e, specRef: canary, weight: 5}]}}]",
			""},
		{"duplicate stableIngresses", services + "trafficRouting: {nginx: {stableIngresses: [a, a]}}", `stableIngresses lists "a" twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := trafficrouter.Validate(rollout(t, tt.canary))
			switch {
			case tt.want == "" && got != "":
				t.Errorf("Validate = %q, want valid", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("Validate = %q, want it to contain %q", got, tt.want)
			case tt.want != "" && !strings.HasPrefix(got, "spec.strategy.canary."):
				t.Errorf("Validate = %q does not name the field", got)
			}
		})
	}
}
