package gatewayapi

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/trafficrouter/contract"
	"github.com/sluicehq/sluice/internal/trafficrouter/kubeobj"
)

func rules(route *unstructured.Unstructured) []any {
	return kubeobj.Slice(kubeobj.Nested(route.Object, "spec", "rules"))
}

func setRules(route *unstructured.Unstructured, rs []any) {
	kubeobj.SetNested(route.Object, rs, "spec", "rules")
}

// refersTo reports whether a backendRef names the Service svc of the Rollout's namespace.
func (c Config) refersTo(ref map[string]any, routeNS, svc string) bool {
	if kubeobj.String(ref, "name") != svc {
		return false
	}
	if k := kubeobj.String(ref, "kind"); k != "" && k != "Service" {
		return false
	}
	if g := kubeobj.String(ref, "group"); g != "" && g != "core" {
		return false
	}
	ns := kubeobj.String(ref, "namespace")
	if ns == "" {
		ns = routeNS
	}
	return ns == c.Namespace
}

// managedRule returns the managed route a rule belongs to ("header", or "header-2" for its
// further rules), or "".
func (c Config) managedRule(rule map[string]any) string {
	name := kubeobj.String(rule, "name")
	for _, m := range c.ManagedRoutes {
		if name == m {
			return m
		}
		if rest, ok := strings.CutPrefix(name, m+"-"); ok {
			if _, err := strconv.Atoi(rest); err == nil {
				return m
			}
		}
	}
	return ""
}

// splits reports whether a rule's backendRefs include both the canary and the stable Service.
func (c Config) splits(rule map[string]any, routeNS string, svc contract.Services) bool {
	var canary, stable bool
	for _, bv := range kubeobj.Slice(rule["backendRefs"]) {
		ref := kubeobj.Map(bv)
		canary = canary || c.refersTo(ref, routeNS, svc.Canary)
		stable = stable || c.refersTo(ref, routeNS, svc.Stable)
	}
	return canary && stable
}

func describeRule(kind, name string, i int, rule map[string]any) string {
	if n := kubeobj.String(rule, "name"); n != "" {
		return fmt.Sprintf("rule %q of %s %q", n, kind, name)
	}
	return fmt.Sprintf("rule %d of %s %q", i, kind, name)
}

// Route returns route with the split d on every rule that references both the canary and the
// stable Service (rules that do not are left as they are), and the in-progress label set while
// the canary has weight. It fails with an InvalidConfigError when no rule references both, or
// when such a rule also sends weight to another backend (the canary would not get exactly its
// share).
func (c Config) Route(route *unstructured.Unstructured, d contract.Desired) (*unstructured.Unstructured, error) {
	out := route.DeepCopy()
	ns := out.GetNamespace()
	found := false
	prev := experimentBackends(out)
	for i, rv := range rules(out) {
		rule := kubeobj.Map(rv)
		if !c.splits(rule, ns, d.Services) {
			continue
		}
		found = true
		if len(prev) > 0 || len(d.Additional) > 0 {
			c.experimentBackendRefs(rule, ns, prev, d)
		}
		for _, bv := range kubeobj.Slice(rule["backendRefs"]) {
			ref := kubeobj.Map(bv)
			switch {
			case c.additionalIndex(ref, ns, d) >= 0: // (an experiment's: its weight is d's)
			case c.refersTo(ref, ns, d.Canary):
				ref["weight"] = int64(d.Weight)
			case c.refersTo(ref, ns, d.Stable):
				ref["weight"] = int64(d.StableWeight())
			default:
				if w, ok := kubeobj.Int64(ref["weight"]); !ok || w != 0 {
					return nil, contract.Invalidf(Type, "%s sends traffic to backend %q besides the canary and stable Services, so the canary would not get exactly %d/%d; remove it or set its weight to 0",
						describeRule(out.GetKind(), out.GetName(), i, rule), kubeobj.String(ref, "name"), d.Weight, d.TotalWeight())
				}
			}
		}
	}
	if !found {
		return nil, contract.Invalidf(Type, "%s %q has no rule whose backendRefs include both the canary Service %q and the stable Service %q",
			out.GetKind(), out.GetName(), d.Canary, d.Stable)
	}
	recordExperimentBackends(out, d)
	if key, value := c.inProgressLabel(); key != "" {
		labels := out.GetLabels()
		if d.Weight > 0 {
			if labels == nil {
				labels = map[string]string{}
			}
			labels[key] = value
		} else {
			delete(labels, key)
		}
		if len(labels) == 0 {
			labels = nil
		}
		out.SetLabels(labels)
	}
	return out, nil
}

// headerMatches converts setHeaderRoute matches: exact → Exact, prefix and regex →
// RegularExpression (a prefix becomes ^<quoted prefix>.*).
func headerMatches(hr contract.HeaderRoute) []any {
	out := make([]any, 0, len(hr.Match))
	for _, m := range hr.Match {
		h := map[string]any{"name": m.HeaderName}
		if m.HeaderValue != nil {
			setMatch(h, "Exact", "", "RegularExpression", m.HeaderValue)
		}
		out = append(out, h)
	}
	return out
}

// addHeaders appends the header conditions to a match's headers, replacing conditions on the
// same headers (names are case-insensitive and must be unique).
func addHeaders(existing, add []any) []any {
	out := slices.DeleteFunc(slices.Clone(existing), func(ev any) bool {
		return slices.ContainsFunc(add, func(av any) bool {
			return strings.EqualFold(kubeobj.String(kubeobj.Map(ev), "name"), kubeobj.String(kubeobj.Map(av), "name"))
		})
	})
	return append(out, add...)
}

// canaryRef copies the canary's backendRef (group, kind, name, namespace, port) of a rule.
func (c Config) canaryRef(rule map[string]any, ns string, svc contract.Services) map[string]any {
	for _, bv := range kubeobj.Slice(rule["backendRefs"]) {
		ref := kubeobj.Map(bv)
		if c.refersTo(ref, ns, svc.Canary) {
			out := map[string]any{}
			for _, k := range []string{"group", "kind", "name", "namespace", "port"} {
				if v, ok := ref[k]; ok {
					out[k] = kubeobj.DeepCopy(v)
				}
			}
			return out
		}
	}
	return nil
}

func ruleName(managed string, n int) string {
	if n == 0 {
		return managed
	}
	return fmt.Sprintf("%s-%d", managed, n)
}

// WithHeaderRoute returns route with the header rules of hr — for every rule that references
// both Services, a rule named hr.Name (then hr.Name-1, …) with that rule's matches plus the
// header conditions, its filters, and the canary as the only backend — in place of the earlier
// ones, or without them when hr.Match is empty.
func (c Config) WithHeaderRoute(route *unstructured.Unstructured, hr contract.HeaderRoute) (*unstructured.Unstructured, error) {
	out := route.DeepCopy()
	var added []any
	if len(hr.Match) > 0 {
		ns := out.GetNamespace()
		for _, rv := range rules(out) {
			rule := kubeobj.Map(rv)
			if c.managedRule(rule) != "" || !c.splits(rule, ns, hr.Services) {
				continue
			}
			var matches []any
			for _, mv := range kubeobj.Slice(rule["matches"]) {
				m := kubeobj.Map(kubeobj.DeepCopy(mv))
				m["headers"] = addHeaders(kubeobj.Slice(m["headers"]), headerMatches(hr))
				matches = append(matches, m)
			}
			if len(matches) == 0 {
				m := map[string]any{"headers": headerMatches(hr)}
				if out.GetKind() == KindHTTPRoute {
					m["path"] = map[string]any{"type": "PathPrefix", "value": "/"}
				}
				matches = []any{m}
			}
			backend := c.canaryRef(rule, ns, hr.Services)
			backend["weight"] = int64(1)
			nr := map[string]any{
				"name":        ruleName(hr.Name, len(added)),
				"matches":     matches,
				"backendRefs": []any{backend},
			}
			if f, ok := rule["filters"]; ok {
				nr["filters"] = kubeobj.DeepCopy(f)
			}
			added = append(added, nr)
		}
		if len(added) == 0 {
			return nil, contract.Invalidf(Type, "%s %q has no rule whose backendRefs include both the canary Service %q and the stable Service %q",
				out.GetKind(), out.GetName(), hr.Canary, hr.Stable)
		}
	}
	c.putManagedRules(out, hr.Name, added)
	return out, nil
}

// setMatch writes type and value of a Gateway API match from a StringMatch; without a prefix
// type, a prefix becomes a regular expression.
func setMatch(m map[string]any, exact, prefix, regex string, sm *v1alpha1.StringMatch) {
	switch {
	case sm.Exact != "":
		m["type"], m["value"] = exact, sm.Exact
	case sm.Prefix != "" && prefix != "":
		m["type"], m["value"] = prefix, sm.Prefix
	case sm.Prefix != "":
		m["type"], m["value"] = regex, "^"+regexp.QuoteMeta(sm.Prefix)+".*"
	case sm.Regex != "":
		m["type"], m["value"] = regex, sm.Regex
	}
}

// mirrorMatches converts setMirrorRoute matches to HTTPRouteMatches.
func mirrorMatches(mr contract.MirrorRoute) ([]any, error) {
	out := make([]any, 0, len(mr.Match))
	for _, rm := range mr.Match {
		m := map[string]any{}
		if rm.Path != nil {
			p := map[string]any{}
			setMatch(p, "Exact", "PathPrefix", "RegularExpression", rm.Path)
			m["path"] = p
		} else {
			m["path"] = map[string]any{"type": "PathPrefix", "value": "/"}
		}
		if rm.Method != nil {
			if rm.Method.Exact == "" {
				return nil, contract.Invalidf(Type, "setMirrorRoute %q: Gateway API matches the HTTP method exactly; use method.exact", mr.Name)
			}
			m["method"] = strings.ToUpper(rm.Method.Exact)
		}
		if len(rm.Headers) > 0 {
			var headers []any
			for _, name := range sortedKeys(rm.Headers) {
				sm := rm.Headers[name]
				h := map[string]any{"name": name}
				setMatch(h, "Exact", "", "RegularExpression", &sm)
				headers = append(headers, h)
			}
			m["headers"] = headers
		}
		out = append(out, m)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// WithMirrorRoute returns route (an HTTPRoute) with the mirror rule of mr — named mr.Name, with
// mr's matches, the backends and filters of the first rule that references both Services
// (SetWeight keeps their weights in step) and a RequestMirror filter to the canary at
// mr.Percentage — in place of the earlier one, or without it when mr.Match is empty.
func (c Config) WithMirrorRoute(route *unstructured.Unstructured, mr contract.MirrorRoute) (*unstructured.Unstructured, error) {
	out := route.DeepCopy()
	var added []any
	if len(mr.Match) > 0 {
		if out.GetKind() != KindHTTPRoute {
			return nil, contract.Unsupported(Type, "setMirrorRoute on a "+out.GetKind())
		}
		matches, err := mirrorMatches(mr)
		if err != nil {
			return nil, err
		}
		ns := out.GetNamespace()
		for _, rv := range rules(out) {
			rule := kubeobj.Map(rv)
			if c.managedRule(rule) != "" || !c.splits(rule, ns, mr.Services) {
				continue
			}
			filters := kubeobj.Slice(kubeobj.DeepCopy(rule["filters"]))
			filters = append(filters, map[string]any{
				"type": "RequestMirror",
				"requestMirror": map[string]any{
					"backendRef": c.canaryRef(rule, ns, mr.Services),
					"percent":    int64(mr.MirrorPercent()),
				},
			})
			added = append(added, map[string]any{
				"name":        mr.Name,
				"matches":     matches,
				"filters":     filters,
				"backendRefs": kubeobj.DeepCopy(rule["backendRefs"]),
			})
			break
		}
		if len(added) == 0 {
			return nil, contract.Invalidf(Type, "%s %q has no rule whose backendRefs include both the canary Service %q and the stable Service %q",
				out.GetKind(), out.GetName(), mr.Canary, mr.Stable)
		}
	}
	c.putManagedRules(out, mr.Name, added)
	return out, nil
}

// WithoutManagedRoutes returns route without the rules of every managed route.
func (c Config) WithoutManagedRoutes(route *unstructured.Unstructured) *unstructured.Unstructured {
	out := route.DeepCopy()
	for _, m := range c.ManagedRoutes {
		c.putManagedRules(out, m, nil)
	}
	return out
}

// putManagedRules replaces the rules of the managed route name by added and orders the rules:
// the user's rules as they were, then the managed ones in managedRoutes order.
func (c Config) putManagedRules(route *unstructured.Unstructured, name string, added []any) {
	var others []any
	managed := map[string][]any{}
	for _, rv := range rules(route) {
		if m := c.managedRule(kubeobj.Map(rv)); m != "" {
			managed[m] = append(managed[m], rv)
		} else {
			others = append(others, rv)
		}
	}
	if len(added) == 0 && len(managed[name]) == 0 {
		return
	}
	managed[name] = added
	out := others
	for _, m := range c.ManagedRoutes {
		out = append(out, managed[m]...)
	}
	setRules(route, out)
}

// acceptance reads a route's status.parents against its spec.parentRefs: every parent must
// report Accepted=True with observedGeneration equal to the route's generation.
func acceptance(route *unstructured.Unstructured) contract.Verification {
	what := fmt.Sprintf("%s %s", route.GetKind(), route.GetName())
	gen := route.GetGeneration()
	parents := kubeobj.Slice(kubeobj.Nested(route.Object, "status", "parents"))
	if len(parents) == 0 {
		return contract.NotVerifiedf("no Gateway has accepted %s yet (status.parents is empty)", what)
	}
	reported := map[string]bool{}
	for _, pv := range parents {
		p := kubeobj.Map(pv)
		ref := kubeobj.Map(p["parentRef"])
		pname := parentKey(ref, route.GetNamespace())
		reported[pname] = true
		var accepted map[string]any
		for _, cv := range kubeobj.Slice(p["conditions"]) {
			if cond := kubeobj.Map(cv); kubeobj.String(cond, "type") == "Accepted" {
				accepted = cond
			}
		}
		og, _ := kubeobj.Int64(accepted["observedGeneration"])
		switch {
		case accepted == nil:
			return contract.NotVerifiedf("parent %s of %s reports no Accepted condition", pname, what)
		case og != gen:
			return contract.NotVerifiedf("parent %s of %s has not observed generation %d yet (Accepted is for generation %d)", pname, what, gen, og)
		case kubeobj.String(accepted, "status") != "True":
			return contract.NotVerifiedf("parent %s does not accept %s: %s: %s", pname, what,
				kubeobj.String(accepted, "reason"), kubeobj.String(accepted, "message"))
		}
	}
	for _, rv := range kubeobj.Slice(kubeobj.Nested(route.Object, "spec", "parentRefs")) {
		if pname := parentKey(kubeobj.Map(rv), route.GetNamespace()); !reported[pname] {
			return contract.NotVerifiedf("parent %s of %s has not reported on it yet", pname, what)
		}
	}
	return contract.VerifiedBecause("%d parent(s) accept %s at generation %d", len(parents), what, gen)
}

func parentKey(ref map[string]any, routeNS string) string {
	ns := kubeobj.String(ref, "namespace")
	if ns == "" {
		ns = routeNS
	}
	key := ns + "/" + kubeobj.String(ref, "name")
	if s := kubeobj.String(ref, "sectionName"); s != "" {
		key += "#" + s
	}
	return key
}
