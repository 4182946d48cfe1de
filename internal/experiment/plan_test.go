package experiment

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newExperiment(mod func(*v1alpha1.Experiment)) *v1alpha1.Experiment {
	tmpl := func(name string) v1alpha1.TemplateSpec {
		return v1alpha1.TemplateSpec{
			Name: name, Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: v1alpha1.PodTemplateSpec{
				PodTemplateMetadata: v1alpha1.PodTemplateMetadata{Labels: map[string]string{"app": name}},
				Spec:                corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
			},
		}
	}
	ex := &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Name: "ex", Namespace: "ns"},
		Spec: v1alpha1.ExperimentSpec{
			Templates: []v1alpha1.TemplateSpec{tmpl("baseline"), tmpl("canary")},
			Duration:  "1m",
		},
	}
	if mod != nil {
		mod(ex)
	}
	return ex
}

// world answers the plans: ReplicaSets are created and scaled as asked, and their pods are
// available at once unless stuck; AnalysisRuns end with the phase a test gives them.
type world struct {
	t     *testing.T
	ex    *v1alpha1.Experiment
	rs    map[string]ReplicaSet
	svc   map[string]string
	runs  map[string]Run
	stuck map[string]bool
	now   time.Time
}

func newWorld(t *testing.T, ex *v1alpha1.Experiment) *world {
	t.Helper()
	return &world{t: t, ex: ex, rs: map[string]ReplicaSet{}, svc: map[string]string{}, runs: map[string]Run{}, stuck: map[string]bool{}, now: t0}
}

// step runs one pass after d and applies the plan.
func (w *world) step(d time.Duration) Plan {
	w.t.Helper()
	w.now = w.now.Add(d)
	for name, rs := range w.rs {
		rs.Replicas = rs.Spec
		if w.stuck[name] {
			rs.Ready, rs.Available = 0, 0
		} else {
			rs.Ready, rs.Available = rs.Spec, rs.Spec
		}
		w.rs[name] = rs
	}
	p := Compute(Input{Experiment: w.ex, ReplicaSets: w.rs, Services: w.svc, Runs: w.runs, Now: w.now})
	for _, name := range p.CreateReplicaSets {
		w.rs[name] = ReplicaSet{Name: "ex-" + name, Hash: "h-" + name, Spec: p.Replicas[name]}
	}
	for name, n := range p.Replicas {
		rs := w.rs[name]
		rs.Spec = n
		w.rs[name] = rs
	}
	for name, at := range p.SetScaleDownDeadline {
		rs := w.rs[name]
		rs.ScaleDownDeadline = &at
		w.rs[name] = rs
	}
	for _, name := range p.CreateServices {
		w.svc[name] = "ex-" + name
	}
	for _, name := range p.DeleteServices {
		delete(w.svc, name)
	}
	for _, a := range p.CreateRuns {
		w.runs[RunName(w.ex.Name, a)] = Run{Name: RunName(w.ex.Name, a), Phase: v1alpha1.AnalysisPhaseRunning}
	}
	for _, name := range p.TerminateRuns {
		r := w.runs[name]
		r.Terminated, r.Phase, r.Message = true, v1alpha1.AnalysisPhaseSuccessful, "Run Terminated"
		w.runs[name] = r
	}
	w.ex = w.ex.DeepCopy()
	w.ex.Status = p.Status
	return p
}

func (w *world) template(name string) v1alpha1.TemplateStatus {
	return *templateStatus(&w.ex.Status, name)
}

func TestTwoTemplatesRunTheirDurationAndScaleDown(t *testing.T) {
	w := newWorld(t, newExperiment(func(ex *v1alpha1.Experiment) {
		ex.Spec.Templates[0].Service = &v1alpha1.TemplateService{}
	}))
	p := w.step(0)
	if len(p.CreateReplicaSets) != 2 || p.Replicas["baseline"] != 2 || w.ex.Status.Phase != v1alpha1.AnalysisPhasePending {
		t.Fatalf("first pass: create %v replicas %v phase %s", p.CreateReplicaSets, p.Replicas, w.ex.Status.Phase)
	}
	p = w.step(time.Second) // pods available: Running
	if w.ex.Status.Phase != v1alpha1.AnalysisPhaseRunning || w.ex.Status.AvailableAt == nil || !w.ex.Status.AvailableAt.Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("phase %s availableAt %v", w.ex.Status.Phase, w.ex.Status.AvailableAt)
	}
	if got := w.template("baseline"); got.Status != v1alpha1.TemplateStatusRunning || got.AvailableReplicas != 2 || got.ServiceName != "ex-baseline" || got.PodTemplateHash != "h-baseline" {
		t.Fatalf("baseline status %+v", got)
	}
	if got := w.template("canary"); got.ServiceName != "" {
		t.Errorf("canary without service: %+v", got)
	}
	if p.RequeueAfter <= 59*time.Second || p.RequeueAfter > 61*time.Second {
		t.Errorf("requeue %v, want the end of the 1m duration", p.RequeueAfter)
	}
	cond := getCondition(&w.ex.Status, v1alpha1.ExperimentProgressing)
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != ReasonReplicaSetUpdated {
		t.Errorf("condition %+v", cond)
	}
	w.step(10 * time.Second)
	if cond := getCondition(&w.ex.Status, v1alpha1.ExperimentProgressing); cond.Reason != ReasonNewReplicaSetAvailable || cond.Message != `Experiment "ex" is running.` {
		t.Errorf("condition while running %+v", cond)
	}
	w.step(51 * time.Second) // 61 s after availableAt
	if w.ex.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || w.template("canary").Status != v1alpha1.TemplateStatusSuccessful {
		t.Fatalf("after the duration: phase %s, canary %s", w.ex.Status.Phase, w.template("canary").Status)
	}
	if cond := getCondition(&w.ex.Status, v1alpha1.ExperimentProgressing); cond.Status != corev1.ConditionFalse || cond.Reason != ReasonExperimentCompleted {
		t.Errorf("completed condition %+v", cond)
	}
	p = w.step(time.Second) // finished: deadlines of now + 30 s, still 2 pods
	if len(p.SetScaleDownDeadline) != 2 || w.rs["canary"].Spec != 2 || p.RequeueAfter != 30*time.Second {
		t.Fatalf("deadlines %v, canary at %d, requeue %v", p.SetScaleDownDeadline, w.rs["canary"].Spec, p.RequeueAfter)
	}
	w.step(29 * time.Second)
	if w.rs["canary"].Spec != 2 {
		t.Fatal("scaled down before scaleDownDelaySeconds")
	}
	w.step(2 * time.Second)
	if w.rs["canary"].Spec != 0 || w.rs["baseline"].Spec != 0 {
		t.Fatalf("not scaled down after the delay: %+v", w.rs)
	}
	w.step(time.Second) // pods gone: the Service goes
	if _, ok := w.svc["baseline"]; ok || w.template("baseline").ServiceName != "" {
		t.Errorf("service of a scaled-down template kept: %v %+v", w.svc, w.template("baseline"))
	}
	if w.ex.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || w.template("baseline").Status != v1alpha1.TemplateStatusSuccessful {
		t.Errorf("final phase %s", w.ex.Status.Phase)
	}
}

func TestRequiredAnalysisDecides(t *testing.T) {
	for _, tc := range []struct {
		name      string
		phase     v1alpha1.AnalysisPhase
		want      v1alpha1.AnalysisPhase
		wantInMsg string
	}{
		{"passes", v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseSuccessful, msgRequiredDone},
		{"fails", v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseFailed, "error rate"},
		{"inconclusive", v1alpha1.AnalysisPhaseInconclusive, v1alpha1.AnalysisPhaseInconclusive, "error rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, newExperiment(func(ex *v1alpha1.Experiment) {
				ex.Spec.Duration = ""
				ex.Spec.Analyses = []v1alpha1.ExperimentAnalysisTemplateRef{
					{Name: "compare", TemplateName: "t", RequiredForCompletion: true},
					{Name: "side", TemplateName: "t"},
				}
			}))
			w.step(0)
			p := w.step(time.Second)
			if len(p.CreateRuns) != 0 {
				t.Fatal("analyses started before availableAt was written")
			}
			p = w.step(time.Second)
			if len(p.CreateRuns) != 2 || w.ex.Status.AnalysisRuns[0].AnalysisRun != "ex-compare" {
				t.Fatalf("runs %v status %+v", p.CreateRuns, w.ex.Status.AnalysisRuns)
			}
			w.step(time.Minute)
			if w.ex.Status.Phase != v1alpha1.AnalysisPhaseRunning {
				t.Fatalf("no duration, analyses running: phase %s", w.ex.Status.Phase)
			}
			w.runs["ex-compare"] = Run{Name: "ex-compare", Phase: tc.phase, Message: "error rate 0.2"}
			w.step(time.Second)
			if w.ex.Status.Phase != tc.want || !strings.Contains(w.ex.Status.Message, tc.wantInMsg) {
				t.Fatalf("phase %s %q, want %s", w.ex.Status.Phase, w.ex.Status.Message, tc.want)
			}
			p = w.step(time.Second)
			if len(p.TerminateRuns) != 1 || p.TerminateRuns[0] != "ex-side" {
				t.Errorf("the other run is not stopped: %v", p.TerminateRuns)
			}
		})
	}
}

func TestProgressDeadlineFailsATemplate(t *testing.T) {
	w := newWorld(t, newExperiment(func(ex *v1alpha1.Experiment) { ex.Spec.ProgressDeadlineSeconds = new(int32(30)) }))
	w.stuck["canary"] = true
	w.step(0)
	p := w.step(time.Second)
	if w.template("canary").Status != v1alpha1.TemplateStatusProgressing || p.RequeueAfter > 31*time.Second || p.RequeueAfter < 29*time.Second {
		t.Fatalf("canary %s, requeue %v", w.template("canary").Status, p.RequeueAfter)
	}
	w.step(31 * time.Second)
	want := "Template 'canary' exceeded its progressDeadlineSeconds (30)"
	if w.ex.Status.Phase != v1alpha1.AnalysisPhaseFailed || w.ex.Status.Message != want || w.template("canary").Status != v1alpha1.TemplateStatusFailed {
		t.Fatalf("phase %s %q canary %s", w.ex.Status.Phase, w.ex.Status.Message, w.template("canary").Status)
	}
	if w.template("baseline").Status != v1alpha1.TemplateStatusRunning {
		t.Errorf("baseline %s", w.template("baseline").Status)
	}
	w.step(time.Second)
	if w.template("baseline").Status != v1alpha1.TemplateStatusSuccessful {
		t.Errorf("baseline after the failure %s, want Successful (the experiment stopped)", w.template("baseline").Status)
	}
}

func TestTerminateStopsEarlyWithoutCreatingRuns(t *testing.T) {
	w := newWorld(t, newExperiment(func(ex *v1alpha1.Experiment) {
		ex.Spec.Analyses = []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "a", TemplateName: "t", RequiredForCompletion: true}}
	}))
	w.step(0)
	w.step(time.Second)
	w.step(time.Second)
	w.ex.Spec.Terminate = true
	p := w.step(time.Second)
	if len(p.TerminateRuns) != 1 {
		t.Fatalf("terminate: runs to stop %v", p.TerminateRuns)
	}
	w.step(time.Second)
	if w.ex.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("terminated: phase %s %q", w.ex.Status.Phase, w.ex.Status.Message)
	}

	w = newWorld(t, newExperiment(func(ex *v1alpha1.Experiment) {
		ex.Spec.Terminate = true
		ex.Spec.Analyses = []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "a", TemplateName: "t"}}
	}))
	for range 4 {
		if p := w.step(time.Second); len(p.CreateReplicaSets)+len(p.CreateRuns) > 0 {
			t.Fatalf("a terminated experiment starts %v %v", p.CreateReplicaSets, p.CreateRuns)
		}
	}
}

func TestAnalysisProblemIsAnError(t *testing.T) {
	ex := newExperiment(func(ex *v1alpha1.Experiment) {
		ex.Spec.Analyses = []v1alpha1.ExperimentAnalysisTemplateRef{{Name: "a", TemplateName: "missing"}}
	})
	w := newWorld(t, ex)
	w.step(0)
	p := Compute(Input{Experiment: w.ex, ReplicaSets: w.rs, Runs: w.runs, Now: w.now,
		AnalysisProblems: map[string]string{"a": `AnalysisTemplate "missing" not found`}})
	w.ex.Status = p.Status
	p = Compute(Input{Experiment: w.ex, ReplicaSets: w.rs, Runs: w.runs, Now: w.now})
	if p.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(p.Status.Message, "missing") {
		t.Fatalf("phase %s %q", p.Status.Phase, p.Status.Message)
	}
}

func TestInvalidSpec(t *testing.T) {
	ex := newExperiment(func(ex *v1alpha1.Experiment) {
		ex.Spec.Templates[1].Name = "baseline"
		ex.Spec.Templates[0].Selector = &metav1.LabelSelector{}
		ex.Spec.Duration = "soon"
	})
	p := Compute(Input{Experiment: ex, Now: t0})
	cond := getCondition(&p.Status, v1alpha1.ExperimentInvalidSpec)
	if !p.Invalid || cond == nil || len(p.CreateReplicaSets) > 0 {
		t.Fatalf("invalid %v condition %+v", p.Invalid, cond)
	}
	for _, want := range []string{`spec.templates[1].name "baseline" is used`, "spec.templates[0].selector is required", `spec.duration "soon"`} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
}

func TestResolveArgs(t *testing.T) {
	ex := newExperiment(nil)
	got, err := ResolveArgs(ex, []v1alpha1.Argument{
		{Name: "a", Value: new("{{templates.baseline.podTemplateHash}}")},
		{Name: "b", Value: new("rs={{ templates.canary.replicaset.name }}")},
		{Name: "s", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "x", Key: "y"}}},
	}, map[string]string{"baseline": "abc", "canary": "def"})
	if err != nil || *got[0].Value != "abc" || *got[1].Value != "rs=ex-canary" || got[2].ValueFrom == nil {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ResolveArgs(ex, []v1alpha1.Argument{{Name: "a", Value: new("{{templates.nope.podTemplateHash}}")}}, nil); err == nil {
		t.Error("an unknown template resolved")
	}
}

func TestNewReplicaSetHashesWithoutTheRolloutsHash(t *testing.T) {
	ex := newExperiment(nil)
	tmpl := ex.Spec.Templates[0]
	plain := NewReplicaSet(ex, &tmpl, 2)
	tmpl.Template.Labels = map[string]string{"app": "baseline", v1alpha1.LabelPodTemplateHash: "stale"}
	copied := NewReplicaSet(ex, &tmpl, 2)
	h := plain.Labels[v1alpha1.LabelPodTemplateHash]
	if h == "" || copied.Labels[v1alpha1.LabelPodTemplateHash] != h || copied.Spec.Template.Labels[v1alpha1.LabelPodTemplateHash] != h ||
		copied.Spec.Selector.MatchLabels[v1alpha1.LabelPodTemplateHash] != h || plain.Name != "ex-baseline" ||
		plain.Annotations[v1alpha1.AnnotationExperimentTemplateName] != "baseline" || *plain.Spec.Replicas != 2 {
		t.Fatalf("plain %+v copied %+v", plain.ObjectMeta, copied.ObjectMeta)
	}
	if ex.Spec.Templates[0].Selector.MatchLabels[v1alpha1.LabelPodTemplateHash] != "" {
		t.Error("the spec's selector was modified")
	}
	svc := NewService(ex, &tmpl, plain)
	if svc == nil || svc.Name != "ex-baseline" || svc.Spec.Selector[v1alpha1.LabelPodTemplateHash] != h || svc.Spec.Ports[0].Port != 80 {
		t.Fatalf("service %+v", svc)
	}
}

func TestServiceWithoutPortIsInvalid(t *testing.T) {
	ex := newExperiment(func(ex *v1alpha1.Experiment) {
		ex.Spec.Templates[0].Service = &v1alpha1.TemplateService{}
		ex.Spec.Templates[0].Template.Spec.Containers[0].Ports = nil
	})
	if msg := Validate(ex); !strings.Contains(msg, "spec.templates[0].service needs a port") {
		t.Errorf("message %q", msg)
	}
}
