package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// controllerGenQuantityPattern is the pattern controller-gen gives every resource.Quantity.
const controllerGenQuantityPattern = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`

// quantityPattern is the pattern of a quantity written as a string. It is controller-gen's
// pattern with the exponent restricted to an integer of at most three digits: resource.
// ParseQuantity refuses a fractional exponent ("1e1.5" matched controller-gen's pattern but no
// Go client could decode it), wraps exponents beyond int32 and takes minutes to round a value
// like 1e999999999999999999.
const quantityPattern = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-9]{1,3}))?$`

// podTemplates are the schema paths of the pod templates in each kind ("[]" steps into the
// items of a list).
var podTemplates = map[string][]string{
	"Rollout":                 {"spec.template"},
	"Experiment":              {"spec.templates[].template"},
	"AnalysisTemplate":        {"spec.metrics[].provider.job.spec.template"},
	"ClusterAnalysisTemplate": {"spec.metrics[].provider.job.spec.template"},
	"AnalysisRun":             {"spec.metrics[].provider.job.spec.template"},
}

// keepDefaults lists the schema defaults outside the pod templates that are meant, as
// "Kind:path". Adding one changes what every existing object of that kind reads back as; in a
// Rollout's template or steps it changes a hash Argo computed without it.
var keepDefaults = map[string]bool{}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: crdpostprocess <dir with argoproj.io_*.yaml>")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "crdpostprocess:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "argoproj.io_*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no argoproj.io_*.yaml in %s", dir)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, err := process(in)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if !bytes.Equal(in, out) {
			if err := os.WriteFile(f, out, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// process rewrites one CRD manifest (see the package documentation). It is idempotent.
func process(in []byte) ([]byte, error) {
	var crd map[string]any
	if err := yaml.Unmarshal(in, &crd); err != nil {
		return nil, err
	}
	kind, _ := get(crd, "spec", "names", "kind").(string)
	paths, ok := podTemplates[kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q: add its pod templates to podTemplates", kind)
	}
	versions, _ := get(crd, "spec", "versions").([]any)
	if len(versions) == 0 {
		return nil, errors.New("no versions")
	}
	for _, v := range versions {
		root, _ := get(v, "schema", "openAPIV3Schema").(map[string]any)
		if root == nil {
			return nil, errors.New("a version has no openAPIV3Schema")
		}
		for _, p := range paths {
			tmpl, err := schemaAt(root, p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kind, err)
			}
			removeDefaults(tmpl)
			atomicListsWithoutKeys(tmpl)
			if n := fixQuantities(tmpl); n == 0 {
				return nil, fmt.Errorf("%s: no quantity found under %s; did controller-gen change how it renders resource.Quantity?", kind, p)
			}
		}
		if left := defaults(root, ""); len(left) > 0 {
			var unknown []string
			for _, d := range left {
				if !keepDefaults[kind+":"+d] {
					unknown = append(unknown, d)
				}
			}
			if len(unknown) > 0 {
				return nil, fmt.Errorf("%s: schema defaults %s would change objects created under Argo's CRD when read back; remove them or list them in keepDefaults", kind, strings.Join(unknown, ", "))
			}
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(in, []byte("---\n")) {
		out = append([]byte("---\n"), out...)
	}
	return out, nil
}

// schemaAt walks a schema along a path like "spec.metrics[].provider".
func schemaAt(root map[string]any, path string) (map[string]any, error) {
	cur := root
	for part := range strings.SplitSeq(path, ".") {
		name, list := strings.CutSuffix(part, "[]")
		next, _ := get(cur, "properties", name).(map[string]any)
		if next != nil && list {
			next, _ = next["items"].(map[string]any)
		}
		if next == nil {
			return nil, fmt.Errorf("no schema at %s", path)
		}
		cur = next
	}
	return cur, nil
}

// children returns the subschemas of s with the path suffix of each, sorted by path.
func children(s map[string]any) ([]map[string]any, []string) {
	var nodes []map[string]any
	var names []string
	if props, ok := s["properties"].(map[string]any); ok {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if c, ok := props[k].(map[string]any); ok {
				nodes, names = append(nodes, c), append(names, "."+k)
			}
		}
	}
	if c, ok := s["items"].(map[string]any); ok {
		nodes, names = append(nodes, c), append(names, "[]")
	}
	if c, ok := s["additionalProperties"].(map[string]any); ok {
		nodes, names = append(nodes, c), append(names, "{}")
	}
	return nodes, names
}

func removeDefaults(s map[string]any) {
	delete(s, "default")
	nodes, _ := children(s)
	for _, c := range nodes {
		removeDefaults(c)
	}
}

// atomicListsWithoutKeys makes atomic every list map at or below s whose key fields are neither
// required nor defaulted any more. The API server requires one or the other of each key (server-
// side apply must be able to identify an item); container ports (keyed by containerPort and
// protocol) and imagePullSecrets (keyed by name) relied on the defaults removed above. Argo
// Rollouts' CRDs declare no list types at all, so these lists are atomic there too.
func atomicListsWithoutKeys(s map[string]any) {
	if s["x-kubernetes-list-type"] == "map" {
		items, _ := s["items"].(map[string]any)
		required := map[string]bool{}
		if items != nil {
			for _, r := range asSlice(items["required"]) {
				required[fmt.Sprint(r)] = true
			}
		}
		for _, k := range asSlice(s["x-kubernetes-list-map-keys"]) {
			key := fmt.Sprint(k)
			prop, _ := get(items, "properties", key).(map[string]any)
			if _, hasDefault := prop["default"]; !required[key] && !hasDefault {
				s["x-kubernetes-list-type"] = "atomic"
				delete(s, "x-kubernetes-list-map-keys")
				break
			}
		}
	}
	nodes, _ := children(s)
	for _, c := range nodes {
		atomicListsWithoutKeys(c)
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// defaults returns the paths of the schema defaults at or below s.
func defaults(s map[string]any, path string) []string {
	var out []string
	if _, ok := s["default"]; ok {
		out = append(out, path)
	}
	nodes, names := children(s)
	for i, c := range nodes {
		out = append(out, defaults(c, path+names[i])...)
	}
	return out
}

// fixQuantities rewrites every quantity schema at or below s and returns how many quantity
// schemas there are (rewritten now or before).
func fixQuantities(s map[string]any) int {
	n := 0
	switch {
	case s["x-kubernetes-int-or-string"] == true && s["pattern"] == controllerGenQuantityPattern:
		quantitySchema(s)
		n++
	case s["x-kubernetes-preserve-unknown-fields"] == true && s["pattern"] == quantityPattern:
		n++
	}
	nodes, _ := children(s)
	for _, c := range nodes {
		n += fixQuantities(c)
	}
	return n
}

// quantitySchema turns an int-or-string quantity schema into one that accepts what
// resource.Quantity's JSON decoding accepts: numbers, and strings in quantity form. The schema
// has no type (a structural schema cannot list number and string), keeps any value, and refuses
// the other JSON types with keywords that apply to one type each.
func quantitySchema(s map[string]any) {
	delete(s, "anyOf")
	delete(s, "x-kubernetes-int-or-string")
	s["x-kubernetes-preserve-unknown-fields"] = true
	s["pattern"] = quantityPattern
	s["minProperties"], s["maxProperties"] = 1, 0 // no object
	s["minItems"], s["maxItems"] = 1, 0           // no array
	s["not"] = map[string]any{"enum": []any{true, false}}
}

// get walks nested maps by key; nil when a key is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
