package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
	"github.com/sluicehq/sluice/internal/rolloutspec"
	"github.com/sluicehq/sluice/internal/trafficrouter"
)

// observed is what one pass read, gathered once.
type observed struct {
	newHash     string
	revision    int64
	replicaSets map[string]*appsv1.ReplicaSet // by name
	facts       []plan.ReplicaSet
	services    map[string]*corev1.Service // canary/stable Services that exist, by name
	// invalid is why the Rollout cannot run: every problem of its spec, or one with an object
	// it refers to ("" = none).
	invalid  string
	pods     map[string]*corev1.Pod // only while a restart is pending
	podFacts []plan.Pod
	// routingApplied: this pass applied the current trafficRouting (or retired the old one).
	routingApplied bool
	// created is the ReplicaSet this pass created ("" = none).
	created string
	// stale: the cache has not seen one of our writes to a ReplicaSet, or an eviction, yet.
	stale bool
	// runs are the AnalysisRuns the Rollout owns (by name), runFacts what the plan sees of
	// them, runSpecs the spec of each analysis the Rollout refers to (by step index, or
	// backgroundKey).
	runs     map[string]*v1alpha1.AnalysisRun
	runFacts []plan.AnalysisRun
	runSpecs map[int]*v1alpha1.AnalysisRunSpec
	// experiments are the Experiments the Rollout owns (by name), expFacts what the plan sees
	// of them.
	experiments map[string]*v1alpha1.Experiment
	expFacts    []plan.Experiment
	// foreignExperiments are the names of the namespace's Experiments it does not own.
	foreignExperiments []string
	// workload is the Deployment spec.workloadRef names, once its template was copied into
	// the Rollout (workloadref.go).
	workload *appsv1.Deployment
}

// observe reads the ReplicaSets the Rollout owns and its Services, and makes sure the
// ReplicaSet for the current template exists.
func (r *Reconciler) observe(ctx context.Context, ro *v1alpha1.Rollout) (*observed, error) {
	obs := &observed{replicaSets: map[string]*appsv1.ReplicaSet{}, services: map[string]*corev1.Service{}}
	// Only this Rollout's ReplicaSets (field index on the controller owner), shared with the
	// cache rather than copied: nothing below modifies them (writes go through copies).
	var list appsv1.ReplicaSetList
	if err := r.List(ctx, &list, client.InNamespace(ro.Namespace),
		client.MatchingFields{ownerIndex: string(ro.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var owned []*appsv1.ReplicaSet
	var maxRev int64
	for i := range list.Items {
		rs := &list.Items[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != ro.UID || rs.DeletionTimestamp != nil {
			continue
		}
		owned = append(owned, rs)
		maxRev = max(maxRev, revisionOf(rs))
		if r.expect.replicaSets.stale(rs) {
			obs.stale = true
		}
	}
	workloadInvalid, err := r.resolveWorkload(ctx, ro, obs)
	if err != nil {
		return nil, err
	}
	if problems := rolloutspec.Problems(ro); len(problems) > 0 {
		// The referenced objects may explain the routers' problems better (NGINX: which
		// Services to create, canary annotations on the stable Ingress).
		if diagnosed, err := rolloutspec.Diagnose(ctx, r.Client, ro); err == nil {
			problems = diagnosed
		}
		obs.invalid = rolloutspec.Message(problems)
	} else if workloadInvalid != "" {
		obs.invalid = workloadInvalid
	} else {
		newRS, created, err := r.ensureNewReplicaSet(ctx, ro, owned, maxRev)
		if err != nil {
			return nil, err
		}
		if newRS != nil && !slices.Contains(owned, newRS) {
			owned = append(owned, newRS)
		}
		if created {
			obs.created = newRS.Name
		}
		if newRS != nil {
			obs.newHash = newRS.Labels[v1alpha1.LabelPodTemplateHash]
			obs.revision = revisionOf(newRS)
		}
		if err := r.syncMinReadySeconds(ctx, ro, owned, obs.newHash); err != nil {
			return nil, err
		}
		obs.invalid = r.checkReferences(ctx, ro, obs)
		if obs.invalid == "" {
			msg, err := r.observeAnalysis(ctx, ro, obs)
			if err != nil {
				return nil, err
			}
			if err := r.observeExperiments(ctx, ro, obs); err != nil {
				return nil, err
			}
			obs.invalid = msg
		}
	}
	for _, rs := range owned {
		obs.replicaSets[rs.Name] = rs
		fact := plan.ReplicaSet{
			Name: rs.Name, Hash: rs.Labels[v1alpha1.LabelPodTemplateHash], Revision: revisionOf(rs),
			Spec: ptr.Deref(rs.Spec.Replicas, 1), Replicas: rs.Status.Replicas,
			Ready: rs.Status.ReadyReplicas, Available: rs.Status.AvailableReplicas, Created: rs.CreationTimestamp.Time,
		}
		if v, ok := rs.Annotations[v1alpha1.AnnotationScaleDownDeadline]; ok {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				fact.ScaleDownDeadline = &t
			} else {
				past := time.Time{} // unreadable: treat as due, as Argo does
				fact.ScaleDownDeadline = &past
			}
		}
		obs.facts = append(obs.facts, fact)
	}
	slices.SortFunc(obs.facts, func(a, b plan.ReplicaSet) int { return int(a.Revision - b.Revision) })
	if plan.RestartPending(ro, r.Clock.Now()) {
		if err := r.observePods(ctx, ro, obs); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

// selectors are the pod-template hashes the Rollout's Services select now.
func (obs *observed) selectors(ro *v1alpha1.Rollout) plan.ServiceSelectors {
	var sel plan.ServiceSelectors
	stable, canary := plan.ServiceNames(ro)
	if svc := obs.services[stable]; svc != nil && stable != "" {
		sel.Stable = svc.Spec.Selector[v1alpha1.LabelPodTemplateHash]
	}
	if svc := obs.services[canary]; svc != nil && canary != "" {
		sel.Canary = svc.Spec.Selector[v1alpha1.LabelPodTemplateHash]
	}
	return sel
}

// observePods lists the pods of the Rollout's ReplicaSets (only while a restart is pending:
// the pod cache is filtered to pods carrying the pod-template-hash label).
func (r *Reconciler) observePods(ctx context.Context, ro *v1alpha1.Rollout, obs *observed) error {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(ro.Namespace), client.MatchingLabels(ro.Spec.Selector.MatchLabels)); err != nil {
		return fmt.Errorf("listing pods for the restart: %w", err)
	}
	obs.pods = map[string]*corev1.Pod{}
	listed := map[types.UID]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		listed[p.UID] = true
		if r.expect.stalePod(p) {
			obs.stale = true
		}
		ref := metav1.GetControllerOf(p)
		if ref == nil || obs.replicaSets[ref.Name] == nil || p.DeletionTimestamp != nil {
			continue
		}
		obs.pods[p.Name] = p
		obs.podFacts = append(obs.podFacts, plan.Pod{Name: p.Name, Created: p.CreationTimestamp.Time, Available: podAvailable(p)})
	}
	r.expect.forgetPods(listed)
	return nil
}

func podAvailable(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	v, _ := strconv.ParseInt(rs.Annotations[v1alpha1.AnnotationRevision], 10, 64)
	return v
}

// ensureNewReplicaSet finds the ReplicaSet for the current template, by hash label or, for
// ReplicaSets another controller created, by template equality; else creates it at 0 replicas.
// A ReplicaSet that becomes current again (a rollback) gets the next revision number.
func (r *Reconciler) ensureNewReplicaSet(ctx context.Context, ro *v1alpha1.Rollout, owned []*appsv1.ReplicaSet, maxRev int64) (rs *appsv1.ReplicaSet, created bool, err error) {
	hash := plan.PodTemplateHash(&ro.Spec.Template, ro.Status.CollisionCount)
	want := ro.Spec.Template.CorePodTemplateSpec()
	var found *appsv1.ReplicaSet
	for _, rs := range owned {
		if rs.Labels[v1alpha1.LabelPodTemplateHash] == hash {
			found = rs
			break
		}
	}
	if found == nil {
		for _, rs := range owned {
			if templateEqual(strippedTemplate(ro, rs), &want) {
				found = rs
				break
			}
		}
	}
	if found != nil {
		if h := found.Labels[v1alpha1.LabelPodTemplateHash]; h != ro.Status.CurrentPodHash && revisionOf(found) < maxRev {
			// Current again after another revision: renumber it, as Argo does.
			patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationRevision, strconv.FormatInt(maxRev+1, 10))
			if err := r.Patch(ctx, found.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
				return nil, false, fmt.Errorf("renumbering ReplicaSet %s: %w", found.Name, err)
			}
		}
		return found, false, nil
	}

	tmpl := want.DeepCopy()
	tmpl.Labels = maps.Clone(tmpl.Labels)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[v1alpha1.LabelPodTemplateHash] = hash
	sel := ro.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[v1alpha1.LabelPodTemplateHash] = hash
	rs = &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ro.Name + "-" + hash,
			Namespace: ro.Namespace,
			Labels:    maps.Clone(tmpl.Labels),
			Annotations: map[string]string{
				v1alpha1.AnnotationRevision:        strconv.FormatInt(maxRev+1, 10),
				v1alpha1.AnnotationDesiredReplicas: strconv.Itoa(int(ptr.Deref(ro.Spec.Replicas, 1))),
			},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To[int32](0),
			MinReadySeconds: ro.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
	decorateNewReplicaSet(ro, rs, owned) // anti-affinity, role metadata (metadata.go)
	if err := controllerutil.SetControllerReference(ro, rs, r.Scheme()); err != nil {
		return nil, false, err
	}
	err = r.Create(ctx, rs)
	if err == nil {
		r.expect.replicaSets.wrote(rs)
	}
	if apierrors.IsAlreadyExists(err) {
		existing := &appsv1.ReplicaSet{}
		if gerr := r.Get(ctx, client.ObjectKeyFromObject(rs), existing); gerr != nil {
			return nil, false, gerr
		}
		if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == ro.UID {
			return existing, false, nil // our cache was behind
		}
		// A foreign ReplicaSet has our name: bump the collision count; the next pass hashes anew.
		cc := ptr.Deref(ro.Status.CollisionCount, 0) + 1
		patch := fmt.Sprintf(`{"status":{"collisionCount":%d}}`, cc)
		if perr := r.Status().Patch(ctx, ro.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch))); perr != nil {
			return nil, false, perr
		}
		return nil, false, fmt.Errorf("ReplicaSet %s exists and is not owned by this Rollout; collisionCount is now %d", rs.Name, cc)
	}
	if err != nil {
		return nil, false, fmt.Errorf("creating ReplicaSet %s: %w", rs.Name, err)
	}
	r.eventf(ctx, ro, rs, corev1.EventTypeNormal, "NewReplicaSetCreated", "Create",
		"Created ReplicaSet %s (revision %d)", rs.Name, maxRev+1)
	return rs, true, nil
}

// templateEqual compares an existing ReplicaSet's template with the Rollout's, ignoring the
// hash label and the fields the API server defaults (which the Rollout's template lacks).
func templateEqual(rsTmpl, want *corev1.PodTemplateSpec) bool {
	a := rsTmpl.DeepCopy()
	delete(a.Labels, v1alpha1.LabelPodTemplateHash)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	b := want.DeepCopy()
	clearDefaults(&a.Spec)
	clearDefaults(&b.Spec)
	return apiequality.Semantic.DeepEqual(a.Labels, b.Labels) &&
		apiequality.Semantic.DeepEqual(a.Annotations, b.Annotations) &&
		apiequality.Semantic.DeepEqual(a.Spec, b.Spec)
}

// clearDefaults blanks the pod-spec fields the API server fills in on ReplicaSets.
func clearDefaults(s *corev1.PodSpec) {
	s.RestartPolicy, s.DNSPolicy, s.SchedulerName = "", "", ""
	s.TerminationGracePeriodSeconds, s.SecurityContext = nil, nil
	s.DeprecatedServiceAccount = ""
	for _, cs := range [][]corev1.Container{s.Containers, s.InitContainers} {
		for i := range cs {
			c := &cs[i]
			c.TerminationMessagePath, c.TerminationMessagePolicy, c.ImagePullPolicy = "", "", ""
			for j := range c.Ports {
				if c.Ports[j].Protocol == corev1.ProtocolTCP {
					c.Ports[j].Protocol = ""
				}
			}
		}
	}
}

// checkReferences verifies the Services the Rollout names: they must exist, select the
// Rollout's pods, and not be managed by another Rollout.
func (r *Reconciler) checkReferences(ctx context.Context, ro *v1alpha1.Rollout, obs *observed) string {
	if c := ro.Spec.Strategy.Canary; c != nil && c.TrafficRouting != nil {
		if r.Routers == nil {
			return errRoutersUnavailable.Error()
		}
		msg, err := trafficrouter.Diagnose(ctx, r.Client, ro)
		if err != nil {
			return err.Error()
		}
		if msg != "" {
			return msg
		}
	}
	stable, canary := plan.ServiceNames(ro)
	for _, name := range []string{stable, canary} {
		if name == "" {
			continue
		}
		svc := &corev1.Service{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, svc); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Sprintf("Service %q not found", name)
			}
			return fmt.Sprintf("reading Service %q: %v", name, err)
		}
		if owner := svc.Annotations[v1alpha1.AnnotationManagedByRollouts]; owner != "" && owner != ro.Name {
			return fmt.Sprintf("Service %q is managed by another Rollout (%s)", name, owner)
		}
		for k, v := range svc.Spec.Selector {
			if k == v1alpha1.LabelPodTemplateHash {
				continue
			}
			if ro.Spec.Template.Labels[k] != v {
				return fmt.Sprintf("Service %q selects %s=%s, which the pod template's labels do not have", name, k, v)
			}
		}
		obs.services[name] = svc
	}
	return ""
}

// statusMergePatch is the JSON merge patch from one status to another (only what changed;
// removed fields become null), as Argo's controller writes it.
func statusMergePatch(from, to *v1alpha1.RolloutStatus) ([]byte, error) {
	a, err := json.Marshal(map[string]any{"status": from})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(map[string]any{"status": to})
	if err != nil {
		return nil, err
	}
	return jsonpatch.CreateMergePatch(a, b)
}
