package view

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// DefaultBlueGreenDelay is what scaleDownDelaySeconds and abortScaleDownDelaySeconds are when
// unset (30 s, as in Argo Rollouts and the planner).
const DefaultBlueGreenDelay = 30 * time.Second

// bgKind is a stage of a blue-green update, in the order the controller goes through them.
type bgKind int

const (
	bgPreview bgKind = iota
	bgPreAnalysis
	bgPause
	bgScaleUp
	bgCutOver
	bgPostAnalysis
	bgPromoted
	bgScaleDown
)

// bgStage is one stage of a blue-green update: what happens, the pods of the new and the old
// version once it is done, and the version each Service selects ("old", "new"; "" without a
// preview Service).
type bgStage struct {
	kind            bgKind
	action          string
	newPods, old    int32
	active, preview string
}

// previewCount is the new version's size before promotion: previewReplicaCount (at most
// replicas) or replicas.
func previewCount(bg *v1alpha1.BlueGreenStrategy, replicas int32) int32 {
	if n := bg.PreviewReplicaCount; n != nil {
		return min(max(*n, 0), replicas)
	}
	return replicas
}

// pauseOf says how the update pauses before the cut-over: manual (autoPromotionEnabled:
// false), timed (autoPromotionSeconds) or not at all.
func pauseOf(bg *v1alpha1.BlueGreenStrategy) (manual bool, timed time.Duration) {
	if bg.AutoPromotionEnabled != nil && !*bg.AutoPromotionEnabled {
		return true, 0
	}
	return false, time.Duration(max(bg.AutoPromotionSeconds, 0)) * time.Second
}

func delayOf(v *int32) time.Duration {
	if v == nil {
		return DefaultBlueGreenDelay
	}
	return time.Duration(max(*v, 0)) * time.Second
}

func pods(n int32) string {
	if n == 1 {
		return "1 pod"
	}
	return strconv.Itoa(int(n)) + " pods"
}

func arePods(n int32) string {
	if n == 1 {
		return "pod is"
	}
	return strconv.Itoa(int(n)) + " pods are"
}

// andList joins "a", "b" and "c" as "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// blueGreenStages are the stages of an update of a blue-green Rollout, as the planner
// (internal/plan/bluegreen.go) runs them.
func blueGreenStages(bg *v1alpha1.BlueGreenStrategy, replicas int32) []bgStage {
	p := previewCount(bg, replicas)
	preview := ""
	if bg.PreviewService != "" {
		preview = "new"
	}
	var out []bgStage
	add := func(k bgKind, action string, newPods, old int32, active string) {
		out = append(out, bgStage{kind: k, action: action, newPods: newPods, old: old, active: active, preview: preview})
	}
	what := "preview: the new version, " + pods(p)
	if p < replicas {
		what = fmt.Sprintf("preview: %d of %d new pods (previewReplicaCount)", p, replicas)
	}
	if bg.PreviewService != "" {
		what += ", behind " + bg.PreviewService
	} else {
		what += ", no previewService"
	}
	add(bgPreview, what, p, replicas, "old")
	if a := bg.PrePromotionAnalysis; a != nil {
		add(bgPreAnalysis, "pre-promotion analysis: "+TemplateNames(a), p, replicas, "old")
	}
	switch manual, timed := pauseOf(bg); {
	case manual:
		add(bgPause, "pause (until promoted)", p, replicas, "old")
	case timed > 0:
		add(bgPause, fmt.Sprintf("pause: %s (autoPromotionSeconds)", timed), p, replicas, "old")
	}
	if p < replicas {
		add(bgScaleUp, "scale-up: the new version to "+pods(replicas), replicas, replicas, "old")
	}
	add(bgCutOver, fmt.Sprintf("cut-over: %s → new version, once all %s are available", bg.ActiveService, pods(replicas)), replicas, replicas, "new")
	if a := bg.PostPromotionAnalysis; a != nil {
		add(bgPostAnalysis, "post-promotion analysis: "+TemplateNames(a), replicas, replicas, "new")
	}
	add(bgPromoted, "promoted: the new version is stable", replicas, replicas, "new")
	d := delayOf(bg.ScaleDownDelaySeconds)
	down := fmt.Sprintf("scale-down: the old version, %s after the promotion (scaleDownDelaySeconds)", d)
	if d == 0 {
		down = "scale-down: the old version at once (scaleDownDelaySeconds: 0)"
	}
	add(bgScaleDown, down, replicas, 0, "new")
	return out
}

// BlueGreenPlanInput is one blue-green Rollout's dry run for `sluice plan`.
type BlueGreenPlanInput struct {
	Name      string
	Replicas  int32
	BlueGreen *v1alpha1.BlueGreenStrategy
}

// BlueGreenPlanTable renders `sluice plan` for a blue-green Rollout: every stage of an update
// with the pods of the new and the old version and the version each Service selects; then the
// pause, the analyses, promote and abort in words.
func BlueGreenPlanTable(in BlueGreenPlanInput, o Options) string {
	bg := in.BlueGreen
	r := in.Replicas
	var b strings.Builder
	services := "active Service " + bg.ActiveService
	if bg.PreviewService != "" {
		services += ", preview Service " + bg.PreviewService
	} else {
		services += ", no preview Service"
	}
	fmt.Fprintf(&b, "Rollout %s: %d replicas, blue-green: %s; all users go to the version the active Service selects\n\n", in.Name, r, services)

	svc := func(v string) string {
		if v == "" {
			return "-"
		}
		return v
	}
	startPreview := ""
	if bg.PreviewService != "" {
		startPreview = "old"
	}
	stages := blueGreenStages(bg, r)
	table := make([][]string, 0, 2+len(stages))
	table = append(table,
		[]string{"STAGE", "ACTION", "NEW", "OLD", "TOTAL", "ACTIVE (ALL USERS)", "PREVIEW"},
		[]string{"-", "start", "0", itoa(r), itoa(r), "old", svc(startPreview)},
	)
	for i, s := range stages {
		table = append(table, []string{
			strconv.Itoa(i + 1), s.action, itoa(s.newPods), itoa(s.old), itoa(s.newPods + s.old), s.active, svc(s.preview),
		})
	}
	for _, l := range columns(table) {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n")

	p := previewCount(bg, r)
	switch manual, timed := pauseOf(bg); {
	case manual:
		b.WriteString("Pause: before the cut-over, until 'sluice promote' (autoPromotionEnabled: false).\n")
	case timed > 0:
		fmt.Fprintf(&b, "Pause: %s before the cut-over (autoPromotionSeconds), or until 'sluice promote'.\n", timed)
	default:
		b.WriteString("Pause: none: the cut-over follows as soon as the new pods are available (autoPromotionEnabled).\n")
	}
	if bg.PrePromotionAnalysis != nil || bg.PostPromotionAnalysis != nil {
		b.WriteString("Analysis:\n")
		if a := bg.PrePromotionAnalysis; a != nil {
			fmt.Fprintf(&b, "  pre-promotion: templates %s: starts once the preview's %s available, next to the pause; the cut-over waits for both; Successful goes on, Failed/Error aborts, Inconclusive pauses until promoted\n",
				TemplateNames(a), arePods(p))
		}
		if a := bg.PostPromotionAnalysis; a != nil {
			fmt.Fprintf(&b, "  post-promotion: templates %s: after the cut-over, while the old version keeps its %s; Successful makes the new version stable, Failed/Error aborts and switches %s back to the old version, Inconclusive pauses until promoted\n",
				TemplateNames(a), pods(r), bg.ActiveService)
		}
	}
	manual, timed := pauseOf(bg)
	var skipped []string
	if manual || timed > 0 {
		skipped = append(skipped, "the pause")
	}
	if bg.PrePromotionAnalysis != nil {
		skipped = append(skipped, "the pre-promotion analysis")
	}
	if p < r {
		skipped = append(skipped, "the preview size")
	}
	if bg.PostPromotionAnalysis != nil {
		skipped = append(skipped, "the post-promotion analysis")
	}
	promote := "Promote: "
	if manual || timed > 0 {
		promote += "'sluice promote' ends the pause; "
	}
	if len(skipped) > 0 {
		promote += "'sluice promote --full' skips " + andList(skipped) + ": the new version is scaled to full size and takes the active Service once every pod is available.\n"
	} else {
		promote += "'sluice promote --full' has nothing to skip: without a pause, an analysis or previewReplicaCount the cut-over follows as soon as every new pod is available.\n"
	}
	b.WriteString(promote)
	who := "'sluice abort'"
	if bg.PrePromotionAnalysis != nil || bg.PostPromotionAnalysis != nil {
		who += " (or a failed analysis)"
	}
	abort := fmt.Sprintf("Abort: %s keeps %s on the old version, or switches it back, ", who, bg.ActiveService)
	if bg.PreviewService != "" {
		abort += "points " + bg.PreviewService + " back at it, "
	}
	if d := delayOf(bg.AbortScaleDownDelaySeconds); d == 0 {
		abort += "and leaves the new version's pods up (abortScaleDownDelaySeconds: 0)"
	} else {
		abort += fmt.Sprintf("and scales the new version down %s after no Service selects it (abortScaleDownDelaySeconds)", d)
	}
	abort += "; the old version keeps its pods throughout. The Rollout is Degraded until 'sluice retry' or the template goes back.\n"
	b.WriteString(abort)
	return b.String()
}

// BlueGreenInfo is what `sluice get rollout` shows of a blue-green Rollout's Services: the
// pod-template hash each one selects (status.blueGreen).
type BlueGreenInfo struct {
	ActiveService   string `json:"activeService"`
	ActiveSelector  string `json:"activeSelector,omitempty"`
	PreviewService  string `json:"previewService,omitempty"`
	PreviewSelector string `json:"previewSelector,omitempty"`
}

// blueGreen fills the blue-green fields: the Services and what they select, the stage running
// now and the next one, and the traffic (all users to the active version).
func blueGreen(info *RolloutInfo, ro *v1alpha1.Rollout, rows []ReplicaSetRow, now time.Time) {
	bg := ro.Spec.Strategy.BlueGreen
	st := &ro.Status
	info.BlueGreen = &BlueGreenInfo{
		ActiveService: bg.ActiveService, ActiveSelector: st.BlueGreen.ActiveSelector,
		PreviewService: bg.PreviewService, PreviewSelector: st.BlueGreen.PreviewSelector,
	}
	revOf := func(h string) int64 {
		for _, r := range rows {
			if r.Hash == h {
				return r.revision
			}
		}
		return 0
	}
	info.Traffic.Source = "activeService"
	info.Traffic.Why = "blue-green: the active Service selects one version at a time (status.blueGreen.activeSelector)"
	for i := range rows {
		rows[i].TrafficFrom = "activeService"
		if rows[i].Hash != "" && rows[i].Hash == st.BlueGreen.ActiveSelector {
			rows[i].Traffic = 100
		}
	}
	if a := st.BlueGreen.ActiveSelector; a == "" {
		info.Traffic.Summary = bg.ActiveService + " selects no version yet"
	} else {
		info.Traffic.Summary = fmt.Sprintf("100 %% of users to the active version, revision %d (%s), through %s", revOf(a), a, bg.ActiveService)
		if p := st.BlueGreen.PreviewSelector; bg.PreviewService != "" && p != "" && p != a {
			info.Traffic.Summary += fmt.Sprintf("; %s reaches revision %d (%s)", bg.PreviewService, revOf(p), p)
		}
	}
	if st.Abort || promoted(ro) || !GenerationObserved(ro) {
		return
	}
	stages := blueGreenStages(bg, replicasOf(ro))
	want := currentBlueGreenStage(ro, rows)
	i := 0
	for i < len(stages)-1 && stages[i].kind < want {
		i++
	}
	info.CurrentStep = stages[i].action
	if stages[i].kind == bgPause {
		info.CurrentStep = "pause before the cut-over"
	}
	if i+1 < len(stages) {
		info.NextStep = stages[i+1].action
	}
	if stages[i].kind != bgPause {
		return
	}
	manual, timed := pauseOf(bg)
	for _, pc := range st.PauseConditions {
		if pc.Reason != v1alpha1.PauseReasonBlueGreenPause {
			continue
		}
		if manual || timed == 0 {
			info.PauseLeft = "until promoted"
			return
		}
		info.PauseLeft = max(pc.StartTime.Add(timed).Sub(now), 0).Round(time.Second).String()
	}
}

// currentBlueGreenStage tells from the status where a blue-green update is (not aborted, not
// promoted).
func currentBlueGreenStage(ro *v1alpha1.Rollout, rows []ReplicaSetRow) bgKind {
	st := &ro.Status
	bg := ro.Spec.Strategy.BlueGreen
	if !st.BlueGreen.ScaleUpPreviewCheckPoint {
		for _, pc := range st.PauseConditions {
			if pc.Reason == v1alpha1.PauseReasonBlueGreenPause {
				return bgPause
			}
		}
		if s := st.BlueGreen.PrePromotionAnalysisRunStatus; s != nil && s.Status != v1alpha1.AnalysisPhaseSuccessful {
			return bgPreAnalysis
		}
		return bgPreview
	}
	if st.BlueGreen.ActiveSelector != st.CurrentPodHash {
		var avail int32
		for _, r := range rows {
			if r.Hash == st.CurrentPodHash {
				avail = r.Available
			}
		}
		if r := replicasOf(ro); previewCount(bg, r) < r && avail < r {
			return bgScaleUp
		}
		return bgCutOver
	}
	if bg.PostPromotionAnalysis != nil {
		return bgPostAnalysis
	}
	return bgCutOver
}
