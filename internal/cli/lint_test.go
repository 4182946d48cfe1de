package cli

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/rolloutspec"
)

// validateLines are the lint lines plan.ValidateAll gives for the Rollouts of docs.
func validateLines(t *testing.T, docs []manifest) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		if d.Kind != "Rollout" {
			continue
		}
		ro := &v1alpha1.Rollout{}
		if err := yaml.Unmarshal(d.Raw, ro); err != nil {
			t.Fatal(err)
		}
		for _, msg := range rolloutspec.Problems(ro) {
			out = append(out, fmt.Sprintf("%s: Rollout %s: %s", d.Where, d.Name, msg))
		}
	}
	return out
}

func TestLint(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"testdata/lint/nginx-as-suggested.yaml", []string{
			`testdata/lint/nginx-as-suggested.yaml: Rollout my-rollout: Ingress "my-app-ingress" is the stable Ingress but carries nginx.ingress.kubernetes.io/canary, nginx.ingress.kubernetes.io/canary-weight: the controller creates its own canary Ingress and sets the weight there; remove these annotations`,
		}},
		{"testdata/lint/references.yaml", []string{
			`testdata/lint/references.yaml (document 2): Rollout broken: error unmarshaling JSON: while decoding JSON: json: unknown field "stepz"`,
			`testdata/lint/references.yaml (document 2): Rollout broken: Service "wrong-selector" (canaryService) selects tier=web, which the pod template's labels do not have`,
			`testdata/lint/references.yaml (document 2): Rollout broken: Service "missing" (stableService) is not in the given files (lint checks references against the objects given with -f)`,
			`testdata/lint/references.yaml (document 2): Rollout broken: Ingress "other" has no rule with a backend for the stable Service "missing": the canary Ingress is made from those rules`,
			`testdata/lint/references.yaml (document 2): Rollout broken: DestinationRule "dr" has no subset "canary"`,
			`testdata/lint/references.yaml (document 2): Rollout broken: VirtualService "vs" has no HTTP route named "nope"`,
			`testdata/lint/references.yaml (document 2): Rollout broken: VirtualService "vs" route "primary" has no destination for the subset "canary"`,
			`testdata/lint/references.yaml (document 2): Rollout broken: HTTPRoute "route" has no rule with backendRefs to both "wrong-selector" and "missing": the plugin sets their weights`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			docs, err := readManifests([]string{tc.file}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, n := Lint(docs)
			if n == 0 {
				t.Fatal("no Rollout found")
			}
			// What rolloutspec says is reported as is (its wording belongs to the planner and
			// the routers).
			for _, v := range validateLines(t, docs) {
				i := slices.Index(got, v)
				if i < 0 {
					t.Errorf("rolloutspec's problem not reported: %s", v)
					continue
				}
				got = slices.Delete(got, i, i+1)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLintAndPlanCommands(t *testing.T) {
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Run(t.Context(), args, strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
	if out, errs, code := run("lint", "-f", "../../examples/rollout-basic.yaml"); code != 0 || out != "1 Rollout(s) checked, no problems\n" {
		t.Errorf("lint of the example: exit %d, %q %q", code, out, errs)
	}
	docs, err := readManifests([]string{"testdata/lint/nginx-as-suggested.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 1 + len(validateLines(t, docs)) // the stable Ingress's canary annotations, then the spec's problems
	out, errs, code := run("lint", "-f", "testdata/lint/nginx-as-suggested.yaml")
	if code != 1 || strings.Count(out, "\n") != n || errs != fmt.Sprintf("Error: %d problem(s) in testdata/lint/nginx-as-suggested.yaml\n", n) {
		t.Errorf("lint of the suggested NGINX manifest: exit %d\n%s%s", code, out, errs)
	}
	// A canary-weight in canaryIngressAnnotations is ignored by sluice (Argo lets it freeze the
	// weight): a warning, not a problem.
	out, errs, code = run("lint", "-f", "testdata/lint/nginx-weight-annotations.yaml")
	if want := `testdata/lint/nginx-weight-annotations.yaml (document 4): Rollout my-rollout: warning: spec.strategy.canary.trafficRouting.nginx.canaryIngressAnnotations sets nginx.ingress.kubernetes.io/canary-weight: "0", which sluice ignores: it writes nginx.ingress.kubernetes.io/canary-weight itself at every step (Argo Rollouts lets canaryIngressAnnotations override it, which freezes the canary's traffic); remove it and set the weight with setWeight steps
1 Rollout(s) checked, no problems
`; code != 0 || out != want {
		t.Errorf("lint of canaryIngressAnnotations with canary-weight: exit %d, %s\n%s\nwant\n%s", code, errs, out, want)
	}
	if _, errs, code := run("lint", "-f", "testdata/lint/nope.yaml"); code != 1 || strings.Count(errs, "\n") != 1 {
		t.Errorf("lint of a missing file: exit %d, %q", code, errs)
	}

	// The motivating case: 1 canary / 3 stable = 25 % without a router, 20 % with one, and 5
	// replicas suggested.
	out, errs, code = run("plan", "-f", "../../examples/rollout-basic.yaml")
	if code != 0 {
		t.Fatalf("plan: exit %d, %s", code, errs)
	}
	var step1 string
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "1 ") {
			step1 = strings.Join(strings.Fields(l), " ")
		}
	}
	if step1 != "1 setWeight: 20 20 1 3 4 25 % 1 3 4 20 %" {
		t.Errorf("plan step 1 = %q\n%s", step1, out)
	}
	for _, want := range []string{
		"warning: step 1: setWeight 20 → 25 % of pods (1 canary of 4): add trafficRouting, or use 5 replicas for an exact 20 %\n",
		"suggestion: replicas: 5 is the smallest count",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = run("plan", "-f", "../../examples/rollout-basic.yaml", "--replicas", "5")
	if code != 0 || strings.Contains(out, "warning:") || !strings.Contains(out, "Every setWeight step is exact") {
		t.Errorf("plan --replicas 5: exit %d\n%s", code, out)
	}
	out, _, code = run("plan", "-f", "testdata/lint/nginx-as-suggested.yaml")
	refused := len(validateLines(t, docs)) > 0
	if code != 0 || !strings.Contains(out, "trafficRouting (nginx)") || strings.Contains(out, "note: the sluice controller refuses this Rollout today") != refused {
		t.Errorf("plan of a routed Rollout: exit %d\n%s", code, out)
	}
}

// A blue-green Rollout: its Services are checked as a canary's are (present in the files,
// selecting the pods), its pre- and post-promotion analyses as analysis steps are (an interval
// without count never ends: the active Service would never move).
func TestLintBlueGreen(t *testing.T) {
	const f = "testdata/lint/bluegreen.yaml"
	docs, err := readManifests([]string{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	problems, _, n := LintWithWarnings(docs)
	if n != 1 {
		t.Fatalf("%d Rollouts", n)
	}
	want := []string{
		f + `: Rollout bg: spec.strategy.blueGreen.prePromotionAnalysis: metric "errors" has an interval and no count: it measures until the run is terminated, so the pre-promotion analysis would never finish and the active Service would never move to the new version; set count`,
		f + `: Rollout bg: spec.strategy.blueGreen.postPromotionAnalysis: AnalysisTemplate "success-rate" is not in the given files (lint checks references against the objects given with -f)`,
		f + `: Rollout bg: Service "my-app-active" (activeService) is not in the given files (lint checks references against the objects given with -f)`,
		f + `: Rollout bg: Service "my-app-preview" (previewService) selects app=other-app, which the pod template's labels do not have`,
	}
	if got := strings.Join(problems, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	var out, errb bytes.Buffer
	if code := Run(t.Context(), []string{"lint", "-f", "../../examples/bluegreen/rollout.yaml"}, strings.NewReader(""), &out, &errb); code != 0 || out.String() != "1 Rollout(s) checked, no problems\n" {
		t.Errorf("lint of examples/bluegreen: exit %d, %q %q", code, out.String(), errb.String())
	}
}

// plan of a blue-green Rollout shows its stages, not the canary table.
func TestPlanBlueGreen(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(t.Context(), []string{"plan", "-f", "../../examples/bluegreen/rollout.yaml", "--replicas", "4"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{
		"Rollout my-app: 4 replicas, blue-green: active Service my-app-active, preview Service my-app-preview",
		"pause (until promoted)",
		"cut-over: my-app-active → new version, once all 4 pods are available",
		"Abort: 'sluice abort'",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("plan lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "SETWEIGHT") || strings.Contains(s, "not a canary") || strings.Contains(s, "note: the sluice controller refuses") {
		t.Errorf("plan of a blue-green Rollout:\n%s", s)
	}
}
