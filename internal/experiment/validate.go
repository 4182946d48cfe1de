package experiment

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// Validate returns every reason the controller cannot run this Experiment, joined with "; ",
// or "" (what the CRD schema cannot check).
func Validate(ex *v1alpha1.Experiment) string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	deadline := ProgressDeadline(ex)
	if len(ex.Spec.Templates) == 0 {
		add("spec.templates must list at least one template")
	}
	seen := map[string]bool{}
	for i := range ex.Spec.Templates {
		t := &ex.Spec.Templates[i]
		at := fmt.Sprintf("spec.templates[%d]", i)
		switch {
		case t.Name == "":
			add("%s.name is required", at)
		case seen[t.Name]:
			add("%s.name %q is used by another template", at, t.Name)
		}
		seen[t.Name] = true
		switch sel, err := metav1.LabelSelectorAsSelector(t.Selector); {
		case t.Selector == nil || (len(t.Selector.MatchLabels) == 0 && len(t.Selector.MatchExpressions) == 0):
			add("%s.selector is required and must not be empty (it would select every pod)", at)
		case err != nil:
			add("%s.selector is invalid: %v", at, err)
		case !sel.Matches(labels.Set(t.Template.Labels)):
			add("%s.selector does not match the labels of %s.template.metadata.labels", at, at)
		}
		if len(t.Template.Spec.Containers) == 0 {
			add("%s.template.spec.containers must list at least one container", at)
		} else if t.Service != nil && !hasPort(t) {
			add("%s.service needs a port: declare the containerPort(s) the Service should expose in %s.template", at, at)
		}
		if time.Duration(t.MinReadySeconds)*time.Second > deadline {
			add("%s.minReadySeconds (%d) must not be longer than spec.progressDeadlineSeconds (%d)", at, t.MinReadySeconds, int64(deadline/time.Second))
		}
	}
	if d := ex.Spec.Duration; d != "" {
		if v, err := d.Duration(); err != nil || v < 0 {
			add("spec.duration %q is not a duration: use 30s, 5m, 1h", string(d))
		}
	}
	seenA := map[string]bool{}
	for i, a := range ex.Spec.Analyses {
		if seenA[a.Name] {
			add("spec.analyses[%d].name %q is used by another analysis", i, a.Name)
		}
		seenA[a.Name] = true
	}
	return strings.Join(out, "; ")
}

func hasPort(t *v1alpha1.TemplateSpec) bool {
	for _, c := range t.Template.Spec.Containers {
		if len(c.Ports) > 0 {
			return true
		}
	}
	return false
}
