package plan

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// FuzzRolloutScenario drives whole rollouts with random user actions, random pod start-up
// delays, routers that fail or verify late and subset (hash-based) routing, checking on every
// pass the invariants of doc.go (world.checkInvariants: no negative counts, maxSurge and
// maxUnavailable respected, weight in range, no traffic beyond what available pods can carry,
// replaced versions kept for their scale-down delay after their last traffic, Healthy only
// when true) and that the step index only moves forward unless the template or steps changed,
// or an abort or retry happened.
func FuzzRolloutScenario(f *testing.F) {
	f.Add([]byte{1, 0, 0, 6, 6, 6, 6, 0, 0}, uint8(3), uint8(0), uint8(1), uint8(0))
	f.Add([]byte{1, 0, 2, 0, 3, 0, 6, 6, 4, 0, 5, 0}, uint8(5), uint8(1), uint8(0), uint8(0))
	f.Add([]byte{1, 7, 0, 8, 0, 8, 0, 1, 0, 9, 0}, uint8(10), uint8(2), uint8(2), uint8(0))
	f.Add([]byte{1, 0, 0, 6, 6, 2, 0, 6, 6, 6, 6, 6, 6, 3, 0}, uint8(4), uint8(1), uint8(4), uint8(0))
	f.Add([]byte{1, 0, 0, 6, 6, 4, 0, 2, 0, 6, 6, 3, 5, 0}, uint8(6), uint8(0), uint8(12), uint8(0))
	f.Add([]byte{1, 0, 0, 6, 2, 0, 6, 6, 6, 6, 6, 6, 6}, uint8(10), uint8(1), uint8(12), uint8(0x3d))
	f.Add([]byte{1, 0, 0, 6, 6, 1, 0, 0, 6, 5, 0, 6, 6, 6, 6, 6, 6}, uint8(10), uint8(1), uint8(4), uint8(0x26))
	f.Add([]byte{1, 0, 0, 6, 8, 2, 0, 0, 8, 6, 6, 6, 6, 6}, uint8(10), uint8(0), uint8(12), uint8(0x21))
	f.Add([]byte{1, 0, 0, 6, 6, 6, 250, 0, 6, 6, 6, 6}, uint8(4), uint8(1), uint8(0), uint8(0))
	f.Add([]byte{1, 0, 0, 6, 6, 4, 6, 6, 1, 6, 6, 6, 3, 6, 6, 4, 6, 6}, uint8(5), uint8(6), uint8(4), uint8(0x80))
	f.Add([]byte{1, 6, 6, 6, 4, 6, 2, 6, 3, 6, 6, 5, 6}, uint8(4), uint8(9), uint8(12), uint8(0xa1))
	f.Add([]byte{1, 0, 6, 4, 6, 6, 1, 6, 2, 6, 3, 6, 4, 6, 6, 6}, uint8(3), uint8(1), uint8(16+32+64), uint8(0x80))
	f.Add([]byte{1, 6, 6, 6, 7, 6, 6, 5, 6, 1, 6, 6, 9, 6, 6}, uint8(5), uint8(4), uint8(16), uint8(0))
	f.Fuzz(func(t *testing.T, actions []byte, replicas, delay, surgeKind, routerKind uint8) {
		if len(actions) > 40 {
			actions = actions[:40]
		}
		ro := rollout(int32(replicas%12), setWeight(20), pause("5s"), setWeight(60), pause(""), setWeight(100))
		if surgeKind&4 != 0 {
			ro = routedRollout(int32(replicas%12), setWeight(20), pause("5s"), setWeight(60), pause(""), setWeight(100))
			if surgeKind&8 != 0 {
				ro.Spec.Strategy.Canary.DynamicStableScale = true
			}
		}
		switch surgeKind % 3 {
		case 1:
			z := intstr.FromInt32(0)
			ro.Spec.Strategy.Canary.MaxSurge = &z
		case 2:
			s, u := intstr.FromString("50%"), intstr.FromString("50%")
			ro.Spec.Strategy.Canary.MaxSurge, ro.Spec.Strategy.Canary.MaxUnavailable = &s, &u
		}
		if surgeKind&16 != 0 { // blue-green instead (bits 5, 6: manual promotion, a preview of 1 pod)
			ro = blueGreenRollout(int32(replicas%12), func(bg *v1alpha1.BlueGreenStrategy) {
				bg.AutoPromotionEnabled = new(surgeKind&32 == 0)
				if surgeKind&64 != 0 {
					bg.PreviewReplicaCount = new(int32(1))
				}
				if routerKind&128 != 0 {
					a := &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "t"}}}
					bg.PrePromotionAnalysis, bg.PostPromotionAnalysis = a, a
				}
			})
		}
		w := newWorld(t, ro)
		w.readyDelay = int(delay % 3)
		// routerKind: bits 0-1 verification lag in passes, bits 2-4 a failure every n+1
		// passes (0 = never), bit 5 subset (hash-based) routing, bit 6 stale caches.
		w.routerLag = int(routerKind & 3)
		if every := int(routerKind>>2&7) + 1; every > 1 {
			w.routerFails = func(pass int) bool { return pass%every == 0 }
		}
		w.subsets = routerKind&32 != 0
		w.stale = routerKind&64 != 0 // bit 6: stale informer caches
		if routerKind&128 != 0 {     // bit 7: analysis (canary: a step, background and an experiment; blue-green: pre and post)
			if c := w.ro.Spec.Strategy.Canary; c != nil {
				ex := experimentStep()
				if c.TrafficRouting != nil { // (weighted: additional destinations)
					ex.Experiment.Templates[0].Weight, ex.Experiment.Templates[1].Weight = new(int32(5)), new(int32(5))
				}
				c.Steps = slices.Insert(slices.Clone(c.Steps), 3, ex)
				c.Steps = slices.Insert(slices.Clone(c.Steps), 2, analysisStep("t"))
				c.Analysis = &v1alpha1.RolloutAnalysisBackground{
					RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.RolloutAnalysisTemplate{{TemplateName: "t"}}},
				}
			}
			verdicts := []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseRunning,
				v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseInconclusive, v1alpha1.AnalysisPhaseError}
			w.verdict = func(r *AnalysisRun) v1alpha1.AnalysisPhase {
				return verdicts[(len(w.created)+int(delay)/3)%len(verdicts)]
			}
			w.exVerdict = func(*Experiment) v1alpha1.AnalysisPhase {
				return verdicts[(len(w.exCreated)+int(delay)/3+1)%len(verdicts)]
			}
		}
		version := 1
		prevIdx, prevHash, prevPod, prevAborted := int32(-1), "", "", false
		for _, a := range actions {
			reset := false
			if a >= 250 { // restart every pod (spec.restartAt), evicted within maxUnavailable
				at := metav1.NewTime(w.now.Truncate(time.Second))
				w.ro.Spec.RestartAt = &at
				w.logf("user: restart")
				a = 0
			}
			switch a % 10 {
			case 1:
				version++
				w.setImage(fmt.Sprintf("app:v%d", version))
				reset = true
			case 2:
				w.ro.Status.Abort = true
				reset = true
			case 3:
				w.ro.Status.Abort = false
				reset = true
			case 4:
				w.ro.Status.PauseConditions = nil
			case 5:
				w.ro.Status.PromoteFull = true
			case 6:
				w.now = w.now.Add(5 * time.Second)
			case 7:
				n := int32(a) % 11
				w.ro.Spec.Replicas = &n
				w.ro.Generation++
				w.resized = true
			case 8:
				w.ro.Spec.Paused = !w.ro.Spec.Paused
				w.ro.Generation++
			case 9:
				version--
				if version < 1 {
					version = 1
				}
				w.setImage(fmt.Sprintf("app:v%d", version))
				reset = true
			}
			for range 3 {
				w.reconcile()
				w.settle()
				w.now = w.now.Add(time.Second)
				idx := int32(-1)
				if i := w.ro.Status.CurrentStepIndex; i != nil {
					idx = *i
				}
				// (A reset shows as a new currentPodHash: a pass whose router failed writes no status.)
				aborted := w.ro.Status.AbortedAt != nil
				if !reset && w.ro.Status.CurrentStepHash == prevHash && w.ro.Status.CurrentPodHash == prevPod && aborted == prevAborted && idx < prevIdx {
					t.Fatalf("step index went back from %d to %d without a reset (%s)", prevIdx, idx, w.snapshot())
				}
				prevIdx, prevHash, prevPod, prevAborted, reset = idx, w.ro.Status.CurrentStepHash, w.ro.Status.CurrentPodHash, aborted, false
				if p := w.ro.Status.Phase; p == "" {
					t.Fatalf("no phase: %s", w.snapshot())
				}
				if w.ro.Status.StableRS == "" {
					t.Fatalf("no stable ReplicaSet recorded: %s", w.snapshot())
				}
			}
		}
		// Liveness: left alone (unpaused, not aborted, indefinite pauses promoted), every
		// rollout finishes Healthy on the current template.
		w.ro.Spec.Paused = false
		w.ro.Status.Abort = false
		if w.verdict != nil {
			w.verdict = func(*AnalysisRun) v1alpha1.AnalysisPhase { return v1alpha1.AnalysisPhaseSuccessful }
		}
		w.exVerdict = nil
		for i := range 400 {
			if i == 100 {
				// A router that keeps failing on a fixed beat can undo in its failing passes
				// what the others did (a failed pass scales up but writes no status): liveness
				// is only promised once the routers recover.
				w.routerFails = nil
			}
			w.ro.Status.PauseConditions = nil
			w.ro.Status.Abort = false // (an analysis may have aborted it: retry)
			w.reconcile()
			w.settle()
			w.now = w.now.Add(5 * time.Second)
			if st := w.ro.Status; st.Phase == v1alpha1.RolloutPhaseHealthy && st.StableRS == w.hash() {
				return
			}
		}
		t.Fatalf("rollout never became Healthy: %s\n%s", w.snapshot(), w.log.String())
	})
}
