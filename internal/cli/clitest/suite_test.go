package clitest

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/cli"
	"github.com/sluicehq/sluice/internal/controller"
	"github.com/sluicehq/sluice/internal/controller/controllertest"
	"github.com/sluicehq/sluice/internal/devcluster"
	"github.com/sluicehq/sluice/internal/devcluster/devclustertest"
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(devclustertest.Main(m, devcluster.Options{}))
}

// env is one test's namespace, optionally with its own controller scoped to it.
type env struct {
	t  *testing.T
	ns string
	c  client.Client
}

func newEnv(t *testing.T, withController bool) *env {
	t.Helper()
	cfg := devclustertest.Config(t)
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: devclustertest.Namespace(t), c: c}
	if withController {
		controllertest.Start(t, cfg, e.ns)
	}
	return e
}

// sluice runs the command line in-process against the test's namespace and returns its
// stdout, stderr and exit code.
func (e *env) sluice(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	full := append(slices.Clone(args), "--kubeconfig", devclustertest.Cluster(e.t).Kubeconfig(), "-n", e.ns)
	code = cli.Run(e.t.Context(), full, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs a verb and fails the test unless it exits 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, errs, code := e.sluice(args...)
	if code != 0 {
		e.t.Fatalf("sluice %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (e *env) waitFor(timeout time.Duration, cond func() string) {
	e.t.Helper()
	devclustertest.Eventually(e.t, timeout, cond)
}

func (e *env) rollout(name string) *v1alpha1.Rollout {
	e.t.Helper()
	ro := &v1alpha1.Rollout{}
	if err := e.c.Get(e.t.Context(), types.NamespacedName{Namespace: e.ns, Name: name}, ro); err != nil {
		e.t.Fatal(err)
	}
	return ro
}

func loadBasic(t *testing.T) *v1alpha1.Rollout {
	t.Helper()
	b, err := os.ReadFile("../../../examples/rollout-basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	if err := yaml.UnmarshalStrict(b, ro); err != nil {
		t.Fatal(err)
	}
	return ro
}

func setWeight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: &w} }
func pause(d string) v1alpha1.CanaryStep {
	if d == "" {
		return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	}
	v := intstr.FromString(d)
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: &v}}
}

// create creates rollout-basic with another name, replica count and steps.
func (e *env) create(name string, replicas int32, steps ...v1alpha1.CanaryStep) *v1alpha1.Rollout {
	e.t.Helper()
	ro := loadBasic(e.t)
	ro.Name, ro.Namespace = name, e.ns
	ro.Spec.Replicas = &replicas
	if steps != nil {
		ro.Spec.Strategy.Canary.Steps = steps
	}
	if err := e.c.Create(e.t.Context(), ro); err != nil {
		e.t.Fatal(err)
	}
	return ro
}

// running counts the Running, not-terminating pods of the Rollout's ReplicaSets by role.
func (e *env) running(ro *v1alpha1.Rollout) (canary, stable, other int) {
	e.t.Helper()
	var pods corev1.PodList
	if err := e.c.List(e.t.Context(), &pods, client.InNamespace(e.ns), client.MatchingLabels(ro.Spec.Selector.MatchLabels)); err != nil {
		e.t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		switch p.Labels[v1alpha1.LabelPodTemplateHash] {
		case ro.Status.StableRS:
			stable++
		case ro.Status.CurrentPodHash:
			canary++
		default:
			other++
		}
	}
	return canary, stable, other
}

// state is what the tests compare: the Rollout's step machine and its pods.
type state struct {
	Phase           v1alpha1.RolloutPhase
	Message         string
	Step            int32
	Abort           bool
	PauseReasons    string
	Promoted        bool
	Canary, Stable  int
	UserPaused      bool
	ObservedCurrent bool
}

func (s state) String() string {
	return fmt.Sprintf("%s %q step %d abort %v pauses [%s] promoted %v pods %d canary + %d stable, spec.paused %v",
		s.Phase, s.Message, s.Step, s.Abort, s.PauseReasons, s.Promoted, s.Canary, s.Stable, s.UserPaused)
}

func (e *env) state(name string) state {
	e.t.Helper()
	ro := e.rollout(name)
	st := ro.Status
	s := state{
		Phase: st.Phase, Message: st.Message, Step: -1, Abort: st.Abort, UserPaused: ro.Spec.Paused,
		Promoted:        st.StableRS != "" && st.StableRS == st.CurrentPodHash,
		ObservedCurrent: st.ObservedGeneration == fmt.Sprint(ro.Generation),
	}
	if st.CurrentStepIndex != nil {
		s.Step = *st.CurrentStepIndex
	}
	var reasons []string
	for _, pc := range st.PauseConditions {
		reasons = append(reasons, string(pc.Reason))
	}
	s.PauseReasons = strings.Join(reasons, ",")
	c, stb, other := e.running(ro)
	s.Canary, s.Stable = c, stb
	if s.Promoted {
		s.Canary, s.Stable = 0, c+stb
	}
	if other > 0 {
		s.Message += fmt.Sprintf(" (+%d other pods)", other)
	}
	return s
}

// waitState waits until the Rollout is observed at its generation with the given phase, step
// and pods, and returns its state.
func (e *env) waitState(name string, phase v1alpha1.RolloutPhase, step int32, canary, stable int) state {
	e.t.Helper()
	var s state
	e.waitFor(90*time.Second, func() string {
		s = e.state(name)
		if !s.ObservedCurrent || s.Phase != phase || s.Step != step || s.Canary != canary || s.Stable != stable {
			return fmt.Sprintf("rollout %s: want %s step %d with %d canary + %d stable; have %s", name, phase, step, canary, stable, s)
		}
		return ""
	})
	return s
}

// rawStatusPatch and rawSpecPatch send a patch the way Argo's kubectl plugin does, with a plain
// client.
func (e *env) rawStatusPatch(name, patch string) {
	e.t.Helper()
	controllertest.StatusPatch(e.t, e.c, e.ns, name, patch)
}

func (e *env) rawSpecPatch(name, patch string) {
	e.t.Helper()
	controllertest.SpecPatch(e.t, e.c, e.ns, name, patch)
}
