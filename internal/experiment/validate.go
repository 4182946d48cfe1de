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
		out = append(out, validateTemplate(t, templatePaths{at: at, pod: at + ".template", service: at + ".service",
			selector: at + ".selector", deadline: "spec.progressDeadlineSeconds"}, deadline)...)
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

// templatePaths name a template's fields in messages: an Experiment's own, or the Rollout
// fields an experiment step's template comes from (RolloutStepProblems). An empty selector or
// deadline skips that check (the Rollout's own validation already makes it).
type templatePaths struct {
	at, pod, service, selector, deadline string
}

// validateTemplate checks what one template needs to run: a selector that selects its pods,
// a container, a port when it has a Service, and a minReadySeconds within the deadline.
func validateTemplate(t *v1alpha1.TemplateSpec, p templatePaths, deadline time.Duration) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	switch sel, err := metav1.LabelSelectorAsSelector(t.Selector); {
	case p.selector == "":
	case t.Selector == nil || (len(t.Selector.MatchLabels) == 0 && len(t.Selector.MatchExpressions) == 0):
		add("%s is required and must not be empty (it would select every pod)", p.selector)
	case err != nil:
		add("%s is invalid: %v", p.selector, err)
	case !sel.Matches(labels.Set(t.Template.Labels)):
		add("%s does not match the labels of %s.metadata.labels", p.selector, p.pod)
	}
	if len(t.Template.Spec.Containers) == 0 {
		add("%s.spec.containers must list at least one container", p.pod)
	} else if t.Service != nil && !hasPort(t) {
		add("%s needs a port: declare the containerPort(s) the Service should expose in %s", p.service, p.pod)
	}
	if p.deadline != "" && time.Duration(t.MinReadySeconds)*time.Second > deadline {
		add("%s.minReadySeconds (%d) must not be longer than %s (%d)", p.at, t.MinReadySeconds, p.deadline, int64(deadline/time.Second))
	}
	return out
}

func hasPort(t *v1alpha1.TemplateSpec) bool {
	for _, c := range t.Template.Spec.Containers {
		if len(c.Ports) > 0 {
			return true
		}
	}
	return false
}
