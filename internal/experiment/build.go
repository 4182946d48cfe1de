package experiment

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// Kind is the GroupVersionKind of Experiments, for owner references.
var Kind = v1alpha1.GroupVersion.WithKind("Experiment")

// TemplateHash is the rollouts-pod-template-hash of a template's pods: Argo's hash of the pod
// template without any rollouts-pod-template-hash label it carries (a template copied from a
// Rollout's ReplicaSet has one).
func TemplateHash(t *v1alpha1.TemplateSpec, collisionCount *int32) string {
	tmpl := t.Template.DeepCopy()
	delete(tmpl.Labels, v1alpha1.LabelPodTemplateHash)
	if len(tmpl.Labels) == 0 {
		tmpl.Labels = nil
	}
	return plan.PodTemplateHash(tmpl, collisionCount)
}

// NewReplicaSet is the ReplicaSet of a template, <experiment>-<template>, with replicas pods:
// the template's pods labelled with their hash (also added to the selector), annotated with
// the experiment and template names, owned by the Experiment.
func NewReplicaSet(ex *v1alpha1.Experiment, t *v1alpha1.TemplateSpec, replicas int32) *appsv1.ReplicaSet {
	var collisions *int32
	if ts := templateStatus(&ex.Status, t.Name); ts != nil {
		collisions = ts.CollisionCount
	}
	hash := TemplateHash(t, collisions)
	tmpl := t.Template.CorePodTemplateSpec()
	tmpl.Labels = maps.Clone(tmpl.Labels)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[v1alpha1.LabelPodTemplateHash] = hash
	sel := t.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[v1alpha1.LabelPodTemplateHash] = hash
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ReplicaSetName(ex.Name, t.Name),
			Namespace: ex.Namespace,
			Labels:    map[string]string{v1alpha1.LabelPodTemplateHash: hash},
			Annotations: map[string]string{
				v1alpha1.AnnotationExperimentName:         ex.Name,
				v1alpha1.AnnotationExperimentTemplateName: t.Name,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ex, Kind)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: t.MinReadySeconds,
			Selector:        sel,
			Template:        tmpl,
		},
	}
}

// ServiceName is the name of a template's Service: service.name, or the ReplicaSet's name.
func ServiceName(ex *v1alpha1.Experiment, t *v1alpha1.TemplateSpec) string {
	if t.Service != nil && t.Service.Name != "" {
		return t.Service.Name
	}
	return ReplicaSetName(ex.Name, t.Name)
}

// NewService is the Service of a template: every container port of its pods (a Service needs
// at least one: nil when there is none), selecting the ReplicaSet's pods, owned by the
// Experiment.
func NewService(ex *v1alpha1.Experiment, t *v1alpha1.TemplateSpec, rs *appsv1.ReplicaSet) *corev1.Service {
	var ports []corev1.ServicePort
	for _, ctr := range rs.Spec.Template.Spec.Containers {
		for _, p := range ctr.Ports {
			ports = append(ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.ContainerPort, TargetPort: intstr.FromInt32(p.ContainerPort)})
		}
	}
	if len(ports) == 0 {
		return nil
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServiceName(ex, t),
			Namespace: ex.Namespace,
			Annotations: map[string]string{
				v1alpha1.AnnotationExperimentName:         ex.Name,
				v1alpha1.AnnotationExperimentTemplateName: t.Name,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ex, Kind)},
		},
		Spec: corev1.ServiceSpec{Selector: maps.Clone(rs.Spec.Selector.MatchLabels), Ports: ports},
	}
}

// placeholder matches {{templates.<name>.podTemplateHash}}, {{templates.<name>.replicaset.name}}
// and {{experiment.availableAt}} in an analysis argument's value.
var placeholder = regexp.MustCompile(`\{\{\s*(templates\.([^.{}\s]+)\.(podTemplateHash|replicaset\.name)|experiment\.availableAt)\s*\}\}`)

// ResolveArgs gives the values of an analysis's arguments: {{templates.<name>.podTemplateHash}}
// and {{templates.<name>.replicaset.name}} become the hash and name of that template's
// ReplicaSet (hashes by template name), {{experiment.availableAt}} the time all templates
// became available (RFC 3339).
func ResolveArgs(ex *v1alpha1.Experiment, args []v1alpha1.Argument, hashes map[string]string) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, 0, len(args))
	for _, a := range args {
		a = *a.DeepCopy()
		if a.Value != nil {
			var problem error
			v := placeholder.ReplaceAllStringFunc(*a.Value, func(m string) string {
				sub := placeholder.FindStringSubmatch(m)
				if sub[1] == "experiment.availableAt" {
					if ex.Status.AvailableAt == nil {
						problem = fmt.Errorf("argument %q: %s before the experiment is available", a.Name, m)
						return m
					}
					return ex.Status.AvailableAt.UTC().Format(time.RFC3339)
				}
				h, ok := hashes[sub[2]]
				if !ok {
					problem = fmt.Errorf("argument %q: %s names no template of the experiment with a ReplicaSet", a.Name, m)
					return m
				}
				if sub[3] == "podTemplateHash" {
					return h
				}
				return ReplicaSetName(ex.Name, sub[2])
			})
			if problem != nil {
				return nil, problem
			}
			if strings.Contains(v, "{{templates.") {
				return nil, fmt.Errorf("argument %q: unknown placeholder in %q (use {{templates.<name>.podTemplateHash}} or {{templates.<name>.replicaset.name}})", a.Name, *a.Value)
			}
			a.Value = &v
		}
		out = append(out, a)
	}
	return out, nil
}

// MergeArgs gives each argument the analysis template declares the Experiment's value for it,
// when the Experiment gives one, and checks that each then has a value or a valueFrom.
func MergeArgs(declared, given []v1alpha1.Argument) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, 0, len(declared))
	var missing []string
	for _, d := range declared {
		a := *d.DeepCopy()
		for _, g := range given {
			if g.Name == d.Name {
				a.Value, a.ValueFrom = g.DeepCopy().Value, g.DeepCopy().ValueFrom
			}
		}
		if a.Value == nil && a.ValueFrom == nil {
			missing = append(missing, a.Name)
		}
		out = append(out, a)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no value for argument %s: give it in the experiment's analysis args or a default in the template", strings.Join(missing, ", "))
	}
	return out, nil
}
