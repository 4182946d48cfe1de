package view

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/plan"
)

// Input is what the tree is built from: a Rollout, the ReplicaSets and AnalysisRuns it owns,
// the ReplicaSets' pods and the current time (for ages and the time left in a pause).
type Input struct {
	Rollout      *v1alpha1.Rollout
	ReplicaSets  []appsv1.ReplicaSet
	Pods         []corev1.Pod
	AnalysisRuns []v1alpha1.AnalysisRun
	// Experiments are the Experiments the Rollout owns, with their objects.
	Experiments []ExperimentInput
	Now         time.Time
}

// RolloutInfo is the state of a Rollout as `sluice get rollout` shows it (and prints with
// -o json|yaml).
type RolloutInfo struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Phase and Message are Argo's client-side phase: status.phase, unless the controller has
	// not observed the current generation or has not reacted to a resume yet.
	Phase    string `json:"phase"`
	Message  string `json:"message,omitempty"`
	Strategy string `json:"strategy"`
	// Step is "index/steps" as Argo shows it; CurrentStep and NextStep describe the step
	// running now and the one after it; PauseLeft is the time left in a timed pause step.
	Step        string `json:"step,omitempty"`
	CurrentStep string `json:"currentStep,omitempty"`
	PauseLeft   string `json:"pauseLeft,omitempty"`
	NextStep    string `json:"nextStep,omitempty"`
	// SetWeight is the weight requested by the steps; ActualWeight the share of requests the
	// canary really gets (percent), from Traffic.Source.
	SetWeight    *int32   `json:"setWeight,omitempty"`
	ActualWeight *float64 `json:"actualWeight,omitempty"`
	Traffic      Traffic  `json:"traffic"`
	// BlueGreen are a blue-green Rollout's Services and the versions they select.
	BlueGreen *BlueGreenInfo `json:"blueGreen,omitempty"`
	// Analysis are the runs the status names: status.canary's current step and background
	// runs, status.blueGreen's pre- and post-promotion runs.
	Analysis []AnalysisStatus `json:"analysis,omitempty"`
	Images   []Image          `json:"images,omitempty"`
	Replicas Replicas         `json:"replicas"`
	// Revisions, newest first.
	Revisions []Revision `json:"revisions,omitempty"`
	Age       string     `json:"age,omitempty"`
}

// Traffic says where the effective share comes from.
type Traffic struct {
	// Source is "pods" (no trafficRouting: a Service spreads requests by pod count),
	// "router" (status.canary.weights, the weight the controller set on the router) or
	// "activeService" (blue-green: every request goes to the version the active Service
	// selects).
	Source string `json:"source"`
	// Router names the configured router(s) (nginx, istio, smi, alb, plugins/…).
	Router string `json:"router,omitempty"`
	// Summary is the share in words; Why says where it comes from.
	Summary string `json:"summary"`
	Why     string `json:"why"`
}

// Image is a container image and the roles (stable, canary) that run it.
type Image struct {
	Image string   `json:"image"`
	Tags  []string `json:"tags,omitempty"`
}

// Replicas are the Rollout's replica counts.
type Replicas struct {
	Desired   int32 `json:"desired"`
	Current   int32 `json:"current"`
	Updated   int32 `json:"updated"`
	Ready     int32 `json:"ready"`
	Available int32 `json:"available"`
}

// Revision groups the ReplicaSets and AnalysisRuns of one rollout.argoproj.io/revision.
type Revision struct {
	Number       int64            `json:"number"`
	ReplicaSets  []ReplicaSetRow  `json:"replicaSets"`
	AnalysisRuns []AnalysisRunRow `json:"analysisRuns,omitempty"`
	Experiments  []ExperimentInfo `json:"experiments,omitempty"`
}

// ReplicaSetRow is one ReplicaSet of the tree.
type ReplicaSetRow struct {
	Name   string   `json:"name"`
	Hash   string   `json:"podTemplateHash"`
	Status string   `json:"status"`
	Tags   []string `json:"tags,omitempty"`
	// Desired is spec.replicas; Current/Ready/Available come from status.
	Desired   int32 `json:"desired"`
	Current   int32 `json:"current"`
	Ready     int32 `json:"ready"`
	Available int32 `json:"available"`
	// Traffic is the share of requests this ReplicaSet gets (percent), TrafficFrom how it
	// is known ("pods", "router" or "activeService").
	Traffic     float64 `json:"traffic"`
	TrafficFrom string  `json:"trafficFrom"`
	Age         string  `json:"age,omitempty"`
	// ScaleDownDelay is the time left before an old ReplicaSet may be scaled down (its
	// scale-down-deadline annotation), "passed" once it has passed.
	ScaleDownDelay string   `json:"scaleDownDelay,omitempty"`
	Pods           []PodRow `json:"pods,omitempty"`
	revision       int64
}

// PodRow is one pod of the tree.
type PodRow struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Ready    string `json:"ready"`
	Restarts int32  `json:"restarts,omitempty"`
	Age      string `json:"age,omitempty"`
}

// Phase is the phase a client should trust (Argo's GetRolloutPhase): Progressing while the
// controller has not observed the current generation or has not reacted to a resume yet,
// otherwise status.phase and status.message.
func Phase(ro *v1alpha1.Rollout) (phase v1alpha1.RolloutPhase, message string) {
	if !GenerationObserved(ro) {
		return v1alpha1.RolloutPhaseProgressing, "waiting for rollout spec update to be observed"
	}
	if ro.Status.ControllerPause && len(ro.Status.PauseConditions) == 0 && !ro.Spec.Paused &&
		ro.Status.Phase == v1alpha1.RolloutPhasePaused {
		return v1alpha1.RolloutPhaseProgressing, "waiting for rollout to unpause"
	}
	return ro.Status.Phase, ro.Status.Message
}

// GenerationObserved reports whether status.observedGeneration is the Rollout's generation.
// As in Argo, a non-numeric value (a v0.9 hash) counts as observed; unlike Argo, an empty one
// (no controller has written status yet) does not.
func GenerationObserved(ro *v1alpha1.Rollout) bool {
	og := ro.Status.ObservedGeneration
	if og == "" {
		return false
	}
	n, err := strconv.ParseInt(og, 10, 64)
	return err != nil || n >= ro.Generation
}

// Age formats the time since t like kubectl ("45s", "3m", "2d").
func Age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// Build computes the RolloutInfo of a Rollout from its objects.
func Build(in Input) RolloutInfo {
	ro := in.Rollout
	st := &ro.Status
	phase, msg := Phase(ro)
	info := RolloutInfo{
		Name: ro.Name, Namespace: ro.Namespace, Phase: string(phase), Message: msg,
		Age: Age(ro.CreationTimestamp, in.Now),
		Replicas: Replicas{
			Desired: replicasOf(ro), Current: st.Replicas, Updated: st.UpdatedReplicas,
			Ready: st.ReadyReplicas, Available: st.AvailableReplicas,
		},
	}
	if info.Phase == "" {
		info.Phase = "Unknown"
	}
	switch {
	case ro.Spec.Strategy.Canary != nil:
		info.Strategy = "Canary"
	case ro.Spec.Strategy.BlueGreen != nil:
		info.Strategy = "BlueGreen"
	}
	rows := replicaSetRows(in)
	switch {
	case ro.Spec.Strategy.Canary != nil:
		canarySteps(&info, ro, in.Now)
		traffic(&info, ro, rows)
	case ro.Spec.Strategy.BlueGreen != nil:
		blueGreen(&info, ro, rows, in.Now)
	}
	info.Images = images(ro, in.ReplicaSets, rows)
	info.Revisions = addExperiments(addAnalysisRuns(revisions(rows), in.AnalysisRuns, rows, in.Now), in.Experiments, in.Now)
	info.Analysis = analysisStatuses(ro)
	return info
}

func replicasOf(ro *v1alpha1.Rollout) int32 {
	if ro.Spec.Replicas == nil {
		return 1
	}
	return *ro.Spec.Replicas
}

func promoted(ro *v1alpha1.Rollout) bool {
	return ro.Status.StableRS != "" && ro.Status.StableRS == ro.Status.CurrentPodHash
}

// canarySteps fills the step fields: where the steps are, what runs now, what comes next.
func canarySteps(info *RolloutInfo, ro *v1alpha1.Rollout, now time.Time) {
	steps := ro.Spec.Strategy.Canary.Steps
	st := &ro.Status
	n := int32(len(steps))
	var w int32
	switch {
	case st.Abort:
		w = 0
	case promoted(ro):
		w = 100
	default:
		i := int32(0)
		if st.CurrentStepIndex != nil {
			i = *st.CurrentStepIndex
		}
		w = plan.WeightAt(steps, i, 100)
	}
	info.SetWeight = &w
	if n == 0 || st.CurrentStepIndex == nil {
		return
	}
	i := min(max(*st.CurrentStepIndex, 0), n)
	info.Step = fmt.Sprintf("%d/%d", i, n)
	if i >= n || st.Abort {
		return
	}
	step := &steps[i]
	info.CurrentStep = describeStep(step)
	if i+1 < n {
		info.NextStep = describeStep(&steps[i+1])
	} else {
		info.NextStep = "promotion (all steps done)"
	}
	if step.Pause == nil {
		return
	}
	d, timed, _ := plan.PauseDuration(step.Pause)
	for _, pc := range st.PauseConditions {
		if pc.Reason != v1alpha1.PauseReasonCanaryPauseStep {
			continue
		}
		if !timed {
			info.PauseLeft = "until promoted"
			return
		}
		left := max(pc.StartTime.Add(d).Sub(now), 0)
		info.PauseLeft = left.Round(time.Second).String()
	}
}

// routerName names the configured traffic router(s), "" without trafficRouting.
func routerName(tr *v1alpha1.RolloutTrafficRouting) string {
	if tr == nil {
		return ""
	}
	var names []string
	for _, r := range []struct {
		set  bool
		name string
	}{
		{tr.Nginx != nil, "nginx"}, {tr.Istio != nil, "istio"}, {tr.SMI != nil, "smi"}, {tr.ALB != nil, "alb"},
		{tr.Ambassador != nil, "ambassador"}, {tr.AppMesh != nil, "appmesh"}, {tr.Traefik != nil, "traefik"},
		{tr.Apisix != nil, "apisix"},
	} {
		if r.set {
			names = append(names, r.name)
		}
	}
	plugins := make([]string, 0, len(tr.Plugins))
	for p := range tr.Plugins {
		plugins = append(plugins, "plugin "+p)
	}
	slices.Sort(plugins)
	names = append(names, plugins...)
	if len(names) == 0 {
		return "trafficRouting"
	}
	return strings.Join(names, ", ")
}

func pct(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + " %" }

// traffic fills the effective share: the router's weights when a router is configured, the
// share of available pods otherwise, overall and per ReplicaSet.
func traffic(info *RolloutInfo, ro *v1alpha1.Rollout, rows []ReplicaSetRow) {
	tr := ro.Spec.Strategy.Canary.TrafficRouting
	st := &ro.Status
	if tr == nil {
		info.Traffic.Source = "pods"
		info.Traffic.Why = "no trafficRouting: a Service spreads requests over the available pods"
		var total, canary int32
		for i := range rows {
			total += rows[i].Available
			if rows[i].Hash == st.CurrentPodHash {
				canary = rows[i].Available
			}
		}
		for i := range rows {
			rows[i].Traffic = plan.SharePercent(rows[i].Available, total)
			rows[i].TrafficFrom = "pods"
		}
		share := plan.SharePercent(canary, total)
		info.ActualWeight = &share
		switch {
		case total == 0:
			info.Traffic.Summary = "no available pods: the Service has no endpoints"
		case promoted(ro):
			info.Traffic.Summary = fmt.Sprintf("all requests to the stable revision (%d available pods)", total)
		default:
			s := fmt.Sprintf("canary %s of requests (%d of %d available pods)", pct(share), canary, total)
			if info.SetWeight != nil && share != float64(*info.SetWeight) {
				s += fmt.Sprintf(", not the %d %% requested", *info.SetWeight)
			}
			info.Traffic.Summary = s
		}
		return
	}
	info.Traffic.Source = "router"
	info.Traffic.Router = routerName(tr)
	info.Traffic.Why = "weights set on the router: " + info.Traffic.Router + " (status.canary.weights)"
	maxW := int32(100)
	if tr.MaxTrafficWeight != nil && *tr.MaxTrafficWeight > 0 {
		maxW = *tr.MaxTrafficWeight
	}
	toPct := func(w int32) float64 { return math.Round(float64(w)*1000/float64(maxW)) / 10 }
	wts := st.Canary.Weights
	for i := range rows {
		rows[i].TrafficFrom = "router"
	}
	if wts == nil {
		zero := 0.0
		info.ActualWeight = &zero
		info.Traffic.Summary = "no weight set on the router yet"
		return
	}
	share := toPct(wts.Canary.Weight)
	info.ActualWeight = &share
	for i := range rows {
		switch rows[i].Hash {
		case wts.Canary.PodTemplateHash:
			rows[i].Traffic += toPct(wts.Canary.Weight)
		case wts.Stable.PodTemplateHash:
			rows[i].Traffic += toPct(wts.Stable.Weight)
		}
		for _, a := range wts.Additional {
			if a.PodTemplateHash == rows[i].Hash {
				rows[i].Traffic += toPct(a.Weight)
			}
		}
	}
	s := fmt.Sprintf("canary %s of requests (weight %d of %d)", pct(share), wts.Canary.Weight, maxW)
	if wts.Verified != nil && !*wts.Verified {
		s += ", not verified yet"
	}
	info.Traffic.Summary = s
}

// images lists the container images with the roles of the ReplicaSets that run them (stable,
// canary; stable, active, preview for blue-green), leaving out scaled-down ReplicaSets without
// a role.
func images(ro *v1alpha1.Rollout, rss []appsv1.ReplicaSet, rows []ReplicaSetRow) []Image {
	tags := map[string][]string{}
	var order []string
	add := func(img, tag string) {
		if _, ok := tags[img]; !ok {
			order = append(order, img)
		}
		if tag != "" && !slices.Contains(tags[img], tag) {
			tags[img] = append(tags[img], tag)
		}
	}
	for i := range rss {
		rs := &rss[i]
		var roles []string
		if j := slices.IndexFunc(rows, func(r ReplicaSetRow) bool { return r.Name == rs.Name }); j >= 0 {
			roles = rows[j].Tags
		}
		if len(roles) == 0 && rs.Status.Replicas == 0 {
			continue
		}
		for _, c := range rs.Spec.Template.Spec.Containers {
			if len(roles) == 0 {
				add(c.Image, "")
			}
			for _, t := range roles {
				add(c.Image, t)
			}
		}
	}
	if len(order) == 0 {
		for _, c := range ro.Spec.Template.Spec.Containers {
			add(c.Image, "")
		}
	}
	out := make([]Image, 0, len(order))
	for _, img := range order {
		t := tags[img]
		slices.Sort(t)
		out = append(out, Image{Image: img, Tags: t})
	}
	slices.SortFunc(out, func(a, b Image) int { return strings.Compare(a.Image, b.Image) })
	return out
}

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	v, _ := strconv.ParseInt(rs.Annotations[v1alpha1.AnnotationRevision], 10, 64)
	return v
}

func replicaSetRows(in Input) []ReplicaSetRow {
	ro := in.Rollout
	rows := make([]ReplicaSetRow, 0, len(in.ReplicaSets))
	for i := range in.ReplicaSets {
		rs := &in.ReplicaSets[i]
		h := rs.Labels[v1alpha1.LabelPodTemplateHash]
		row := ReplicaSetRow{
			Name: rs.Name, Hash: h, Age: Age(rs.CreationTimestamp, in.Now), revision: revisionOf(rs),
			Current: rs.Status.Replicas, Ready: rs.Status.ReadyReplicas, Available: rs.Status.AvailableReplicas,
		}
		row.Desired = 1
		if rs.Spec.Replicas != nil {
			row.Desired = *rs.Spec.Replicas
		}
		switch {
		case row.Desired == 0 && row.Current == 0:
			row.Status = "ScaledDown"
		case row.Available < row.Desired || row.Current != row.Desired:
			row.Status = "Progressing"
		default:
			row.Status = "Healthy"
		}
		if h != "" && h == ro.Status.StableRS {
			row.Tags = append(row.Tags, "stable")
		}
		switch bg := ro.Status.BlueGreen; {
		case ro.Spec.Strategy.BlueGreen != nil:
			// As Argo's plugin: active, else preview.
			if h != "" && h == bg.ActiveSelector {
				row.Tags = append(row.Tags, "active")
			} else if h != "" && h == bg.PreviewSelector {
				row.Tags = append(row.Tags, "preview")
			}
		case h != "" && h == ro.Status.CurrentPodHash && h != ro.Status.StableRS:
			row.Tags = append(row.Tags, "canary")
		}
		if v, ok := rs.Annotations[v1alpha1.AnnotationScaleDownDeadline]; ok && row.Desired > 0 {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				row.ScaleDownDelay = "passed"
				if t.After(in.Now) {
					row.ScaleDownDelay = duration.HumanDuration(t.Sub(in.Now))
				}
			}
		}
		for j := range in.Pods {
			p := &in.Pods[j]
			if owner := metav1.GetControllerOf(p); owner != nil && owner.UID == rs.UID {
				row.Pods = append(row.Pods, podRow(p, in.Now))
			}
		}
		slices.SortFunc(row.Pods, func(a, b PodRow) int { return strings.Compare(a.Name, b.Name) })
		rows = append(rows, row)
	}
	return rows
}

func revisions(rows []ReplicaSetRow) []Revision {
	byRev := map[int64]*Revision{}
	var nums []int64
	for _, r := range rows {
		n := r.revision
		if byRev[n] == nil {
			byRev[n] = &Revision{Number: n}
			nums = append(nums, n)
		}
		byRev[n].ReplicaSets = append(byRev[n].ReplicaSets, r)
	}
	slices.SortFunc(nums, func(a, b int64) int { return cmp.Compare(b, a) })
	out := make([]Revision, 0, len(nums))
	for _, n := range nums {
		out = append(out, *byRev[n])
	}
	return out
}

func podRow(p *corev1.Pod, now time.Time) PodRow {
	row := PodRow{Name: p.Name, Status: string(p.Status.Phase), Age: Age(p.CreationTimestamp, now)}
	var ready, total int
	for _, c := range p.Spec.Containers {
		total++
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name != c.Name {
				continue
			}
			if cs.Ready {
				ready++
			}
			row.Restarts += cs.RestartCount
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				row.Status = w.Reason
			}
		}
	}
	row.Ready = fmt.Sprintf("%d/%d", ready, total)
	if p.Status.Phase == corev1.PodRunning && ready < total && row.Status == string(corev1.PodRunning) {
		row.Status = "Running"
	}
	if p.DeletionTimestamp != nil {
		row.Status = "Terminating"
	}
	if row.Status == "" {
		row.Status = "Pending"
	}
	return row
}
