package plan

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// bgWorld remembers, per version, when the active Service last selected it.
type bgWorld struct {
	activeUntil map[string]time.Time
}

func blueGreenRollout(replicas int32, mod func(*v1alpha1.BlueGreenStrategy)) *v1alpha1.Rollout {
	ro := rollout(replicas)
	bg := &v1alpha1.BlueGreenStrategy{ActiveService: "active", PreviewService: "preview"}
	if mod != nil {
		mod(bg)
	}
	ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: bg}
	return ro
}

// switchBlueGreen points the active and preview Services as the controller does, and records
// which version the active Service serves.
func (w *world) switchBlueGreen(p *Plan) {
	if w.activeUntil == nil {
		w.activeUntil = map[string]time.Time{}
	}
	before := w.svc.Stable
	w.switchService(&w.svc.Stable, p.StableServiceHash)
	w.switchService(&w.svc.Canary, p.CanaryServiceHash)
	if w.svc.Stable != before {
		rs := w.find(w.svc.Stable)
		if rs.Available < *w.ro.Spec.Replicas {
			w.t.Fatalf("pass %d: the active Service switched to %s with %d of %d pods available\n%s", w.pass, rs.Hash, rs.Available, *w.ro.Spec.Replicas, w.log.String())
		}
		w.logf("active Service: %s -> %s", before, w.svc.Stable)
	}
	if w.svc.Stable != "" {
		w.activeUntil[w.svc.Stable] = w.now
	}
	if before != "" && before != w.svc.Stable {
		w.activeUntil[before] = w.now
	}
}

// checkBlueGreen: the active version is never shrunk, a replaced one keeps its pods for
// scaleDownDelaySeconds after the active Service left it, and Healthy is only true when it is.
func (w *world) checkBlueGreen(p Plan, before map[string]ReplicaSet) {
	r := *w.ro.Spec.Replicas
	bg := w.ro.Spec.Strategy.BlueGreen
	delay := 30 * time.Second // Argo's default, not the planner's constant
	if bg.ScaleDownDelaySeconds != nil {
		delay = time.Duration(*bg.ScaleDownDelaySeconds) * time.Second
	}
	for _, rs := range w.rss {
		b := before[rs.Name]
		if rs.Spec < 0 {
			w.t.Fatalf("pass %d: negative replicas", w.pass)
		}
		if rs.Spec >= b.Spec {
			continue
		}
		if rs.Hash == w.svc.Stable && rs.Spec < r {
			w.t.Fatalf("pass %d: the active version %s shrinks to %d: %s\n%s", w.pass, rs.Hash, rs.Spec, w.snapshot(), w.log.String())
		}
		// (Scaling to a new spec.replicas is the user's call; going below it is the delay's.)
		if last, ok := w.activeUntil[rs.Hash]; ok && rs.Hash != w.svc.Stable && rs.Spec < r && w.now.Sub(last) < delay && bg.ScaleDownDelayRevisionLimit == nil {
			w.t.Fatalf("pass %d: %s scaled down %s after the active Service left it (scaleDownDelaySeconds %s): %s\n%s", w.pass, rs.Hash, w.now.Sub(last), delay, w.snapshot(), w.log.String())
		}
	}
	if st := w.ro.Status; st.Phase == v1alpha1.RolloutPhaseHealthy && st.ObservedGeneration == "0" {
		n := w.find(st.CurrentPodHash)
		if n == nil || n.Spec != r || n.Available < r || st.StableRS != n.Hash || w.svc.Stable != n.Hash {
			w.t.Fatalf("pass %d: Healthy but the active Service does not serve the current version at full size: %s\n%s", w.pass, w.snapshot(), w.log.String())
		}
	}
}

func (w *world) bgState() string {
	st := w.ro.Status
	return strings.Join([]string{"active=" + w.svc.Stable, "preview=" + w.svc.Canary, "stable=" + st.StableRS, string(st.Phase), st.Message}, " ")
}

func TestBlueGreenAutoPromotion(t *testing.T) {
	w := newWorld(t, blueGreenRollout(3, nil))
	w.run(time.Minute)
	if w.svc.Stable != w.hash() || w.ro.Status.BlueGreen.ActiveSelector != w.hash() || w.ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
		t.Fatalf("first deploy: %s", w.bgState())
	}
	old := w.hash()
	w.update("v2")
	w.run(10 * time.Minute)
	if w.svc.Stable != w.hash() || w.svc.Canary != w.hash() || !w.healthyOnCurrent() || w.find(old).Spec != 0 {
		t.Fatalf("after the update: %s\n%s", w.bgState(), w.log.String())
	}
	if !strings.Contains(w.log.String(), "Active service switched") {
		t.Errorf("no completion event")
	}
}

func TestBlueGreenPausesUntilPromoted(t *testing.T) {
	w := newWorld(t, blueGreenRollout(3, func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = new(false)
		bg.PreviewReplicaCount = new(int32(1))
	}))
	w.run(time.Minute)
	old := w.hash()
	w.update("v2")
	w.run(5 * time.Minute)
	st := w.ro.Status
	if st.Phase != v1alpha1.RolloutPhasePaused || len(st.PauseConditions) != 1 || st.PauseConditions[0].Reason != v1alpha1.PauseReasonBlueGreenPause {
		t.Fatalf("not paused: %s %+v", w.bgState(), st.PauseConditions)
	}
	if w.svc.Stable != old || w.svc.Canary != w.hash() || w.find(w.hash()).Spec != 1 || st.BlueGreen.PreviewSelector != w.hash() || st.BlueGreen.ActiveSelector != old {
		t.Fatalf("preview: %s, new RS %+v, status %+v", w.bgState(), w.find(w.hash()).ReplicaSet, st.BlueGreen)
	}
	w.ro.Status.PauseConditions = nil // promote
	w.run(5 * time.Minute)
	if !w.healthyOnCurrent() || w.svc.Stable != w.hash() || !w.ro.Status.BlueGreen.ScaleUpPreviewCheckPoint {
		t.Fatalf("after promote: %s\n%s", w.bgState(), w.log.String())
	}
}

func TestBlueGreenAutoPromotionSeconds(t *testing.T) {
	w := newWorld(t, blueGreenRollout(2, func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionSeconds = 20 }))
	w.run(time.Minute)
	w.update("v2")
	start := w.now
	w.run(10 * time.Minute)
	if !w.healthyOnCurrent() {
		t.Fatalf("never promoted: %s", w.bgState())
	}
	if !strings.Contains(w.log.String(), "RolloutPaused") || w.now.Sub(start) < 20*time.Second {
		t.Errorf("no pause of 20 s:\n%s", w.log.String())
	}
}

func TestBlueGreenAbortSwitchesPreviewBack(t *testing.T) {
	w := newWorld(t, blueGreenRollout(3, func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = new(false) }))
	w.run(time.Minute)
	old := w.hash()
	w.update("v2")
	w.run(5 * time.Minute)
	w.ro.Status.Abort = true
	w.run(10 * time.Minute)
	if w.svc.Stable != old || w.svc.Canary != old || w.find(w.hash()).Spec != 0 || w.ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
		t.Fatalf("after abort: %s, new RS %+v\n%s", w.bgState(), w.find(w.hash()).ReplicaSet, w.log.String())
	}
}

func TestBlueGreenAnalysis(t *testing.T) {
	tpl := &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "t"}}}
	for _, tc := range []struct {
		name       string
		pre, post  v1alpha1.AnalysisPhase
		wantActive func(old, cur string) string
		healthy    bool
	}{
		{"both pass", v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseSuccessful, func(_, cur string) string { return cur }, true},
		{"pre-promotion fails", v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseSuccessful, func(old, _ string) string { return old }, false},
		{"post-promotion fails: active switches back", v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, func(old, _ string) string { return old }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, blueGreenRollout(3, func(bg *v1alpha1.BlueGreenStrategy) {
				bg.PrePromotionAnalysis, bg.PostPromotionAnalysis = tpl, tpl
			}))
			w.run(time.Minute)
			old := w.hash()
			w.verdict = phases(map[string]v1alpha1.AnalysisPhase{AnalysisTypePrePromotion: tc.pre, AnalysisTypePostPromotion: tc.post})
			w.update("v2")
			w.run(10 * time.Minute)
			if got := w.svc.Stable; got != tc.wantActive(old, w.hash()) || w.healthyOnCurrent() != tc.healthy {
				t.Fatalf("active %s, healthy %v: %s\n%s", got, w.healthyOnCurrent(), w.bgState(), w.log.String())
			}
			if !tc.healthy && (!w.ro.Status.Abort || w.find(w.hash()).Spec != 0) {
				t.Fatalf("not aborted and scaled down: %s\n%s", w.bgState(), w.log.String())
			}
			if tc.post == v1alpha1.AnalysisPhaseFailed && !strings.Contains(w.log.String(), "active Service: "+w.hash()+" -> "+old) {
				t.Errorf("the active Service never served the new version before the post-promotion analysis:\n%s", w.log.String())
			}
		})
	}
}

func TestBlueGreenPromoteFullAndHPA(t *testing.T) {
	w := newWorld(t, blueGreenRollout(3, func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = new(false) }))
	w.run(time.Minute)
	w.update("v2")
	w.run(5 * time.Minute)
	if st := w.ro.Status; st.HPAReplicas != 3 || !strings.HasSuffix(st.Selector, v1alpha1.LabelPodTemplateHash+"="+st.StableRS) {
		t.Errorf("HPA reads the active ReplicaSet only: HPAReplicas %d selector %q", st.HPAReplicas, st.Selector)
	}
	w.ro.Status.PromoteFull = true
	w.run(5 * time.Minute)
	if !w.healthyOnCurrent() || w.ro.Status.PromoteFull {
		t.Fatalf("promote --full: %s\n%s", w.bgState(), w.log.String())
	}
	_ = metav1.Now
}
