package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// TemplateRef names an AnalysisTemplate (or, with Cluster, a ClusterAnalysisTemplate).
type TemplateRef struct {
	Name    string
	Cluster bool
}

func (r TemplateRef) String() string {
	if r.Cluster {
		return "ClusterAnalysisTemplate " + r.Name
	}
	return "AnalysisTemplate " + r.Name
}

// Lookup finds a template's spec; it returns an error that names what is missing.
type Lookup func(TemplateRef) (*v1alpha1.AnalysisTemplateSpec, error)

// Flatten merges the referenced templates and the templates they compose (templates[]),
// depth first, into one spec: metrics side by side (a name used twice is an error), args
// merged by name (two different values for one name are an error), dryRun and
// measurementRetention concatenated. A template that includes itself is an error.
func Flatten(refs []TemplateRef, lookup Lookup) (v1alpha1.AnalysisTemplateSpec, error) {
	var out v1alpha1.AnalysisTemplateSpec
	if err := flatten(refs, lookup, &out, nil); err != nil {
		return v1alpha1.AnalysisTemplateSpec{}, err
	}
	return out, nil
}

func flatten(refs []TemplateRef, lookup Lookup, out *v1alpha1.AnalysisTemplateSpec, path []TemplateRef) error {
	for _, ref := range refs {
		if slices.Contains(path, ref) {
			return fmt.Errorf("%s includes itself through templates[]", ref)
		}
		spec, err := lookup(ref)
		if err != nil {
			return err
		}
		for _, m := range spec.Metrics {
			if slices.ContainsFunc(out.Metrics, func(o v1alpha1.Metric) bool { return o.Name == m.Name }) {
				return fmt.Errorf("metric %q is defined by more than one template (%s and another); rename one", m.Name, ref)
			}
			out.Metrics = append(out.Metrics, *m.DeepCopy())
		}
		for _, a := range spec.Args {
			i := slices.IndexFunc(out.Args, func(o v1alpha1.Argument) bool { return o.Name == a.Name })
			switch {
			case i < 0:
				out.Args = append(out.Args, *a.DeepCopy())
			case out.Args[i].Value == nil && out.Args[i].ValueFrom == nil:
				out.Args[i] = *a.DeepCopy()
			case a.Value != nil && out.Args[i].Value != nil && *a.Value != *out.Args[i].Value:
				return fmt.Errorf("argument %q has two different values in the templates (%q in %s, %q in another)", a.Name, *a.Value, ref, *out.Args[i].Value)
			}
		}
		out.DryRun = append(out.DryRun, spec.DryRun...)
		out.MeasurementRetention = append(out.MeasurementRetention, spec.MeasurementRetention...)
		var nested []TemplateRef
		for _, t := range spec.Templates {
			nested = append(nested, TemplateRef{Name: t.TemplateName, Cluster: t.ClusterScope})
		}
		if err := flatten(nested, lookup, out, append(path, ref)); err != nil {
			return err
		}
	}
	return nil
}

// RolloutArgs are the values a Rollout gives its analysis arguments.
type RolloutArgs struct {
	Args []v1alpha1.AnalysisRunArgument
	// StableHash and LatestHash answer podTemplateHashValue: Stable and Latest.
	StableHash, LatestHash string
	// Object answers fieldRef (the Rollout).
	Object FieldSource
}

// MergeArgs gives each template argument the Rollout's value for it, when the Rollout has one,
// and checks that every argument then has a value or a secretKeyRef. Arguments the Rollout
// gives that no template declares are ignored, as Argo Rollouts does.
func MergeArgs(template []v1alpha1.Argument, ra RolloutArgs) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, 0, len(template))
	var missing []string
	for _, t := range template {
		a := *t.DeepCopy()
		for _, r := range ra.Args {
			if r.Name != t.Name {
				continue
			}
			v, err := rolloutArgValue(r, ra)
			if err != nil {
				return nil, err
			}
			a.Value, a.ValueFrom = &v, nil
		}
		if a.ValueFrom != nil && a.ValueFrom.FieldRef != nil && ra.Object != nil {
			v, err := FieldValue(ra.Object, a.ValueFrom.FieldRef.FieldPath)
			if err != nil {
				return nil, fmt.Errorf("argument %q: %w", a.Name, err)
			}
			a.Value, a.ValueFrom = &v, nil
		}
		if a.Value == nil && (a.ValueFrom == nil || (a.ValueFrom.SecretKeyRef == nil && a.ValueFrom.FieldRef == nil)) {
			missing = append(missing, a.Name)
		}
		out = append(out, a)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no value for argument %s: give it in the Rollout's analysis args or a default in the template", strings.Join(missing, ", "))
	}
	return out, nil
}

func rolloutArgValue(r v1alpha1.AnalysisRunArgument, ra RolloutArgs) (string, error) {
	if r.ValueFrom == nil {
		return r.Value, nil
	}
	switch {
	case r.ValueFrom.PodTemplateHashValue != nil:
		switch *r.ValueFrom.PodTemplateHashValue {
		case v1alpha1.Stable:
			return ra.StableHash, nil
		case v1alpha1.Latest:
			return ra.LatestHash, nil
		}
		return "", fmt.Errorf("argument %q: podTemplateHashValue must be Stable or Latest, not %q", r.Name, *r.ValueFrom.PodTemplateHashValue)
	case r.ValueFrom.FieldRef != nil:
		v, err := FieldValue(ra.Object, r.ValueFrom.FieldRef.FieldPath)
		if err != nil {
			return "", fmt.Errorf("argument %q: %w", r.Name, err)
		}
		return v, nil
	}
	return r.Value, nil
}
