package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// An Experiment its controller refused (InvalidSpec, no phase) aborts the update with its
// message, and is terminated, instead of holding the Rollout at the step.
func TestRefusedExperimentAbortsTheUpdate(t *testing.T) {
	w := newWorld(t, routedRollout(4, setWeight(25), experimentStep(), setWeight(50)))
	w.run(time.Minute)
	w.exInvalid = "spec.templates[0].service needs a port"
	w.update("v2")
	w.run(2 * time.Minute)
	st := w.ro.Status
	name := "ro-" + w.hash() + "-2-1"
	if !st.Abort || st.Phase != v1alpha1.RolloutPhaseDegraded ||
		!strings.Contains(st.Message, "Experiment "+name+" was refused (InvalidSpec): spec.templates[0].service needs a port") {
		t.Fatalf("abort=%v phase %s %q\n%s", st.Abort, st.Phase, st.Message, w.log.String())
	}
	if !slices.Contains(w.terminated, name) || len(w.exCreated) != 1 || !w.canaryGone() {
		t.Fatalf("created %v, terminated %v\n%s", w.exCreated, w.terminated, w.log.String())
	}
}

// A step's Experiment name held by an Experiment the Rollout does not own is skipped (the next
// -<n> name), with a Warning event; the step then runs as usual.
func TestForeignExperimentNameSkipped(t *testing.T) {
	w := newWorld(t, rollout(4, setWeight(25), experimentStep(), setWeight(50)))
	w.run(time.Minute)
	w.update("v2")
	taken := "ro-" + w.hash() + "-2-1"
	w.exForeign = []string{taken, taken + "-1"}
	w.exVerdict = exPhase(v1alpha1.AnalysisPhaseRunning)
	w.run(2 * time.Minute)
	if len(w.exCreated) != 1 || w.exCreated[0] != taken+"-2" || w.ro.Status.Canary.CurrentExperiment != taken+"-2" {
		t.Fatalf("experiments %v, current %q\n%s", w.exCreated, w.ro.Status.Canary.CurrentExperiment, w.log.String())
	}
	if !strings.Contains(w.log.String(), ReasonExperimentNameTaken) {
		t.Errorf("no %s event\n%s", ReasonExperimentNameTaken, w.log.String())
	}
	w.exVerdict = nil
	w.run(2 * time.Minute)
	if !w.healthyOnCurrent() {
		t.Fatalf("phase %s %q\n%s", w.ro.Status.Phase, w.ro.Status.Message, w.log.String())
	}
}
