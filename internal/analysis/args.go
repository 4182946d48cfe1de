package analysis

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// placeholder matches {{args.name}} (spaces inside the braces allowed).
var placeholder = regexp.MustCompile(`\{\{\s*args\.([^{}\s]+)\s*\}\}`)

// Placeholders lists the argument names a metric refers to, sorted, without duplicates.
func Placeholders(m *v1alpha1.Metric) []string {
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	var names []string
	for _, sub := range placeholder.FindAllStringSubmatch(string(b), -1) {
		if !slices.Contains(names, sub[1]) {
			names = append(names, sub[1])
		}
	}
	slices.Sort(names)
	return names
}

// ResolveMetric returns the metric with every {{args.name}} replaced by that argument's value
// in values. A placeholder without a value is an error that names it.
func ResolveMetric(m *v1alpha1.Metric, values map[string]string) (v1alpha1.Metric, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return v1alpha1.Metric{}, err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return v1alpha1.Metric{}, err
	}
	var missing []string
	tree = substitute(tree, values, &missing)
	if len(missing) > 0 {
		slices.Sort(missing)
		missing = slices.Compact(missing)
		return v1alpha1.Metric{}, fmt.Errorf("metric %q: no value for {{args.%s}}", m.Name, strings.Join(missing, "}}, {{args."))
	}
	if b, err = json.Marshal(tree); err != nil {
		return v1alpha1.Metric{}, err
	}
	var out v1alpha1.Metric
	if err := json.Unmarshal(b, &out); err != nil {
		return v1alpha1.Metric{}, fmt.Errorf("metric %q after substituting its arguments: %w", m.Name, err)
	}
	return out, nil
}

func substitute(v any, values map[string]string, missing *[]string) any {
	switch t := v.(type) {
	case string:
		return placeholder.ReplaceAllStringFunc(t, func(s string) string {
			name := placeholder.FindStringSubmatch(s)[1]
			val, ok := values[name]
			if !ok {
				*missing = append(*missing, name)
				return s
			}
			return val
		})
	case []any:
		for i := range t {
			t[i] = substitute(t[i], values, missing)
		}
	case map[string]any:
		for k := range t {
			t[k] = substitute(t[k], values, missing)
		}
	}
	return v
}

// ArgValues gives the values of a run's arguments: a value as given, a fieldRef read from
// obj (metadata.name, metadata.namespace, metadata.labels['k'], metadata.annotations['k'],
// metadata.uid), and a secretKeyRef from secret, which is called only for arguments that
// use one (at measurement time: secrets are never stored). secrets lists the secret values,
// to redact them from messages.
func ArgValues(args []v1alpha1.Argument, obj FieldSource, secret func(name, key string) (string, error)) (values map[string]string, secrets []string, err error) {
	values = map[string]string{}
	for _, a := range args {
		switch {
		case a.Value != nil:
			values[a.Name] = *a.Value
		case a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil:
			if secret == nil {
				continue
			}
			ref := a.ValueFrom.SecretKeyRef
			v, err := secret(ref.Name, ref.Key)
			if err != nil {
				return nil, nil, fmt.Errorf("argument %q: %w", a.Name, err)
			}
			values[a.Name] = v
			secrets = append(secrets, v)
		case a.ValueFrom != nil && a.ValueFrom.FieldRef != nil:
			v, err := FieldValue(obj, a.ValueFrom.FieldRef.FieldPath)
			if err != nil {
				return nil, nil, fmt.Errorf("argument %q: %w", a.Name, err)
			}
			values[a.Name] = v
		}
	}
	return values, secrets, nil
}

// FieldSource is the object a fieldRef reads.
type FieldSource interface {
	GetName() string
	GetNamespace() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
	GetUID() types.UID
}

var fieldIndex = regexp.MustCompile(`^metadata\.(labels|annotations)\[['"]?([^'"\]]+)['"]?\]$`)

// FieldValue reads a downward-API style path from obj.
func FieldValue(obj FieldSource, path string) (string, error) {
	if obj == nil {
		return "", fmt.Errorf("fieldRef %q: no object to read it from", path)
	}
	switch path {
	case "metadata.name":
		return obj.GetName(), nil
	case "metadata.namespace":
		return obj.GetNamespace(), nil
	case "metadata.uid":
		return string(obj.GetUID()), nil
	}
	if m := fieldIndex.FindStringSubmatch(path); m != nil {
		src := obj.GetLabels()
		if m[1] == "annotations" {
			src = obj.GetAnnotations()
		}
		v, ok := src[m[2]]
		if !ok {
			return "", fmt.Errorf("fieldRef %q: %s has no %s %q", path, obj.GetName(), strings.TrimSuffix(m[1], "s"), m[2])
		}
		return v, nil
	}
	return "", fmt.Errorf("fieldRef %q is not supported: use metadata.name, metadata.namespace, metadata.uid, metadata.labels['key'] or metadata.annotations['key']", path)
}
