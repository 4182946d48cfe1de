package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/rolloutspec"
	"github.com/sluicehq/sluice/internal/trafficrouter"
)

type lintOptions struct {
	files []string
}

func newLintCommand() *cobra.Command {
	o := &lintOptions{}
	cmd := &cobra.Command{
		Use:   "lint -f FILE",
		Short: "Check Rollouts and analysis templates offline: the controller's validation plus references to other objects",
		Long: `lint reads every Rollout in the given files (several -f, or multi-document YAML) and reports,
one line per problem:

  - what the sluice controller would refuse (InvalidSpec), including fields sluice does not
    implement yet, and fields no Rollout has (strict decoding);
  - analysis: the AnalysisTemplates and ClusterAnalysisTemplates the analysis steps, the
    background analysis and a blue-green Rollout's pre- and post-promotion analyses name are
    in the files (clusterScope picks the kind), every template argument gets a value (from the
    template or the Rollout's args), the metrics are valid, and no metric of an analysis the
    update waits for (a step, pre- or post-promotion) measures forever (an interval without
    count);
  - references to objects in the same files: the canaryService and stableService Services, a
    blue-green Rollout's activeService and previewService, exist and select the pod
    template's labels; trafficRouting.nginx's stable Ingress(es)
    exist, route to the stable Service and carry no canary annotations of their own; Istio's
    VirtualService(s) exist with the named routes and the canary/stable destinations, and the
    DestinationRule with its subsets; the Gateway API plugin's HTTPRoute(s) exist with
    backendRefs to both Services.

It also prints warnings (lines with "warning:"), for what the controller accepts but handles
differently from what the manifest may expect, such as NGINX annotations that would override
the canary weight and that sluice ignores, and a successCondition or failureCondition that
indexes result[0] without guarding for an empty result (len(result) == 0 || …): the most common
reason an analysis fails is a query that returns no data.

AnalysisTemplates and ClusterAnalysisTemplates in the files are checked on their own too.

It exits 1 when it finds a problem, 0 otherwise (warnings alone do not fail it).`,
		Example: `  sluice lint -f rollout.yaml
  sluice lint -f rollout.yaml -f services.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.files) == 0 {
				return fmt.Errorf("no file: give the manifests with -f FILE (- for stdin)")
			}
			docs, err := readManifests(o.files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			return o.Run(docs, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringSliceVarP(&o.files, "filename", "f", nil, "manifest file(s) (- for stdin)")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

func (o *lintOptions) Run(docs []manifest, out io.Writer) error {
	l := newLinter(docs)
	problems, warnings, rollouts, templates := l.problems, l.warnings, l.rollouts, l.templates
	if rollouts == 0 && templates == 0 {
		return fmt.Errorf("no Rollout or analysis template in %s", strings.Join(o.files, ", "))
	}
	for _, p := range append(warnings, problems...) {
		if _, err := fmt.Fprintln(out, p); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) in %s", len(problems), strings.Join(o.files, ", "))
	}
	checked := fmt.Sprintf("%d Rollout(s)", rollouts)
	if templates > 0 {
		checked += fmt.Sprintf(" and %d analysis template(s)", templates)
	}
	_, err := fmt.Fprintf(out, "%s checked, no problems\n", checked)
	return err
}

// linter holds the objects of the files, by kind and name.
type linter struct {
	objects             map[string]map[string]manifest // kind → name → document
	problems            []string
	warnings            []string
	rollouts, templates int
}

// Lint checks every Rollout among the documents and returns one line per problem, and the
// number of Rollouts.
func Lint(docs []manifest) (problems []string, rollouts int) {
	problems, _, rollouts = LintWithWarnings(docs)
	return problems, rollouts
}

// LintWithWarnings is Lint plus one line per warning (what the controller accepts but handles
// differently from what the manifest may expect; see trafficrouter.Warnings).
func LintWithWarnings(docs []manifest) (problems, warnings []string, rollouts int) {
	l := newLinter(docs)
	return l.problems, l.warnings, l.rollouts
}

// newLinter checks every Rollout, AnalysisTemplate and ClusterAnalysisTemplate of docs.
func newLinter(docs []manifest) *linter {
	l := &linter{objects: map[string]map[string]manifest{}}
	for _, d := range docs {
		if l.objects[d.Kind] == nil {
			l.objects[d.Kind] = map[string]manifest{}
		}
		l.objects[d.Kind][d.Name] = d
	}
	for _, d := range docs {
		switch d.Kind {
		case "Rollout":
			l.rollouts++
			l.rollout(d)
		case kindAnalysisTemplate, kindClusterAnalysisTemplate:
			l.templates++
			l.analysisTemplate(d)
		}
	}
	return l
}

func (l *linter) rollout(d manifest) {
	report := func(format string, args ...any) {
		l.problems = append(l.problems, fmt.Sprintf("%s: Rollout %s: %s", d.Where, d.Name, fmt.Sprintf(format, args...)))
	}
	if !strings.HasPrefix(d.APIVersion, v1alpha1.GroupVersion.Group+"/") {
		report("apiVersion %q: Rollouts are %s", d.APIVersion, v1alpha1.GroupVersion)
	}
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict(d.Raw, ro); err != nil {
		report("%v", err)
		if err := yaml.Unmarshal(d.Raw, ro); err != nil {
			return
		}
	}
	for _, msg := range rolloutspec.Problems(ro) {
		report("%s", msg)
	}
	for _, msg := range trafficrouter.Warnings(ro) {
		l.warnings = append(l.warnings, fmt.Sprintf("%s: Rollout %s: warning: %s", d.Where, d.Name, msg))
	}
	l.rolloutAnalyses(report, ro)
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		// An empty activeService is rolloutspec's problem.
		for _, s := range []struct{ field, name string }{{"activeService", bg.ActiveService}, {"previewService", bg.PreviewService}} {
			if s.name != "" {
				l.service(report, ro, s.field, s.name)
			}
		}
	}
	c := ro.Spec.Strategy.Canary
	if c == nil {
		return
	}
	for _, s := range []struct{ field, name string }{{"canaryService", c.CanaryService}, {"stableService", c.StableService}} {
		if s.name != "" {
			l.service(report, ro, s.field, s.name)
		}
	}
	tr := c.TrafficRouting
	if tr == nil {
		return
	}
	if tr.Nginx != nil {
		l.nginx(report, c)
	}
	if tr.Istio != nil {
		l.istio(report, c)
	}
	if raw, ok := tr.Plugins["argoproj-labs/gatewayAPI"]; ok {
		l.gatewayAPI(report, c, raw)
	}
}

type reportFunc func(format string, args ...any)

// find returns the object of that kind and name, reporting it missing otherwise.
func (l *linter) find(report reportFunc, kind, name, role string) (manifest, bool) {
	m, ok := l.objects[kind][name]
	if !ok {
		report("%s %q (%s) is not in the given files (lint checks references against the objects given with -f)", kind, name, role)
	}
	return m, ok
}

func (l *linter) service(report reportFunc, ro *v1alpha1.Rollout, field, name string) {
	m, ok := l.find(report, "Service", name, field)
	if !ok {
		return
	}
	svc := &corev1.Service{}
	if err := yaml.Unmarshal(m.Raw, svc); err != nil {
		report("Service %q: %v", name, err)
		return
	}
	if len(svc.Spec.Selector) == 0 {
		report("Service %q (%s) has no selector: the controller adds rollouts-pod-template-hash to a selector that must also select the Rollout's pods", name, field)
		return
	}
	keys := make([]string, 0, len(svc.Spec.Selector))
	for k := range svc.Spec.Selector {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == v1alpha1.LabelPodTemplateHash {
			continue
		}
		if v := svc.Spec.Selector[k]; ro.Spec.Template.Labels[k] != v {
			report("Service %q (%s) selects %s=%s, which the pod template's labels do not have", name, field, k, v)
		}
	}
}

func (l *linter) nginx(report reportFunc, c *v1alpha1.CanaryStrategy) {
	n := c.TrafficRouting.Nginx
	prefix := n.AnnotationPrefix
	if prefix == "" {
		prefix = "nginx.ingress.kubernetes.io"
	}
	names := n.StableIngresses
	if n.StableIngress != "" {
		names = append([]string{n.StableIngress}, names...)
	}
	for _, name := range names {
		m, ok := l.find(report, "Ingress", name, "trafficRouting.nginx stable Ingress")
		if !ok {
			continue
		}
		ing := &networkingv1.Ingress{}
		if err := yaml.Unmarshal(m.Raw, ing); err != nil {
			report("Ingress %q: %v", name, err)
			continue
		}
		var canaryAnn []string
		for k := range ing.Annotations {
			if strings.HasPrefix(k, prefix+"/canary") {
				canaryAnn = append(canaryAnn, k)
			}
		}
		if len(canaryAnn) > 0 {
			slices.Sort(canaryAnn)
			report("Ingress %q is the stable Ingress but carries %s: the controller creates its own canary Ingress and sets the weight there; remove these annotations",
				name, strings.Join(canaryAnn, ", "))
		}
		if c.StableService == "" {
			continue
		}
		found := false
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				if p.Backend.Service != nil && p.Backend.Service.Name == c.StableService {
					found = true
				}
			}
		}
		if !found {
			report("Ingress %q has no rule with a backend for the stable Service %q: the canary Ingress is made from those rules", name, c.StableService)
		}
	}
}

func (l *linter) istio(report reportFunc, c *v1alpha1.CanaryStrategy) {
	is := c.TrafficRouting.Istio
	vss := is.VirtualServices
	if is.VirtualService != nil {
		vss = append([]v1alpha1.IstioVirtualService{*is.VirtualService}, vss...)
	}
	if len(vss) == 0 {
		report("trafficRouting.istio names no virtualService")
	}
	canary, stable := c.CanaryService, c.StableService
	if dr := is.DestinationRule; dr != nil {
		canary, stable = dr.CanarySubsetName, dr.StableSubsetName
		if m, ok := l.find(report, "DestinationRule", dr.Name, "trafficRouting.istio.destinationRule"); ok {
			subsets, _ := dig(m.Object, "spec", "subsets").([]any)
			for _, want := range []string{dr.CanarySubsetName, dr.StableSubsetName} {
				if !slices.ContainsFunc(subsets, func(s any) bool { return str(s, "name") == want }) {
					report("DestinationRule %q has no subset %q", dr.Name, want)
				}
			}
		}
	}
	for _, vs := range vss {
		name, _, _ := strings.Cut(vs.Name, ".")
		m, ok := l.find(report, "VirtualService", name, "trafficRouting.istio.virtualService")
		if !ok {
			continue
		}
		if len(vs.TLSRoutes) > 0 || len(vs.TCPRoutes) > 0 {
			continue // port/SNI matched routes: not checked here
		}
		http, _ := dig(m.Object, "spec", "http").([]any)
		var routes []any
		if len(vs.Routes) == 0 {
			// As the router (and Argo Rollouts): the only HTTP route, managed routes aside.
			unmanaged := slices.DeleteFunc(slices.Clone(http), func(r any) bool {
				return slices.ContainsFunc(c.TrafficRouting.ManagedRoutes, func(m v1alpha1.ManagedRoute) bool { return m.Name == str(r, "name") })
			})
			if len(unmanaged) > 1 {
				report("VirtualService %q has %d HTTP routes: name the ones to weight in trafficRouting.istio.virtualService.routes (it may omit them only with one HTTP route, as with Argo Rollouts)", name, len(unmanaged))
				continue
			}
			routes = unmanaged // none: the TLS and TCP routes are not checked here
		}
		for _, rn := range vs.Routes {
			i := slices.IndexFunc(http, func(r any) bool { return str(r, "name") == rn })
			if i < 0 {
				report("VirtualService %q has no HTTP route named %q", name, rn)
				continue
			}
			routes = append(routes, http[i])
		}
		for _, r := range routes {
			dests, _ := dig(r, "route").([]any)
			has := func(want string) bool {
				return slices.ContainsFunc(dests, func(d any) bool {
					if is.DestinationRule != nil {
						return str(dig(d, "destination"), "subset") == want
					}
					host, _, _ := strings.Cut(str(dig(d, "destination"), "host"), ".")
					return host == want
				})
			}
			what := "Service"
			if is.DestinationRule != nil {
				what = "subset"
			}
			for _, want := range []string{canary, stable} {
				if want != "" && !has(want) {
					report("VirtualService %q route %q has no destination for the %s %q", name, str(r, "name"), what, want)
				}
			}
		}
	}
}

// gatewayAPIConfig is the part of the argoproj-labs/gatewayAPI plugin configuration lint
// checks.
type gatewayAPIConfig struct {
	HTTPRoute  string `json:"httpRoute"`
	HTTPRoutes []struct {
		Name string `json:"name"`
	} `json:"httpRoutes"`
	GRPCRoute string `json:"grpcRoute"`
	TCPRoute  string `json:"tcpRoute"`
	TLSRoute  string `json:"tlsRoute"`
}

func (l *linter) gatewayAPI(report reportFunc, c *v1alpha1.CanaryStrategy, raw json.RawMessage) {
	var cfg gatewayAPIConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		report("trafficRouting.plugins[\"argoproj-labs/gatewayAPI\"]: %v", err)
		return
	}
	names := []string{}
	if cfg.HTTPRoute != "" {
		names = append(names, cfg.HTTPRoute)
	}
	for _, r := range cfg.HTTPRoutes {
		names = append(names, r.Name)
	}
	if len(names) == 0 && cfg.GRPCRoute == "" && cfg.TCPRoute == "" && cfg.TLSRoute == "" {
		report("trafficRouting.plugins[\"argoproj-labs/gatewayAPI\"] configures no route (httpRoute, httpRoutes, …)")
		return
	}
	for _, name := range names {
		m, ok := l.find(report, "HTTPRoute", name, "gatewayAPI plugin httpRoute")
		if !ok || c.CanaryService == "" || c.StableService == "" {
			continue
		}
		rules, _ := dig(m.Object, "spec", "rules").([]any)
		both := slices.ContainsFunc(rules, func(r any) bool {
			refs, _ := dig(r, "backendRefs").([]any)
			hasRef := func(svc string) bool {
				return slices.ContainsFunc(refs, func(b any) bool { return str(b, "name") == svc })
			}
			return hasRef(c.CanaryService) && hasRef(c.StableService)
		})
		if !both {
			report("HTTPRoute %q has no rule with backendRefs to both %q and %q: the plugin sets their weights", name, c.CanaryService, c.StableService)
		}
	}
}

// dig walks nested maps.
func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, key string) string {
	s, _ := dig(v, key).(string)
	return s
}
