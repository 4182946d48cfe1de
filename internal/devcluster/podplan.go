package devcluster

import (
	"encoding/json"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// ExitAnnotation is the annotation the cluster puts on a pod whose containers it plays out
// (see the package documentation): JSON of the form
//
//	{"afterSeconds":5,"phase":"Failed","exitCodes":{"main":1}}
//
// kwok's sluice-pod-exit stage ends the pod afterSeconds after its status.startTime, with that
// phase and those exit codes. It is informative: the cluster writes it, users read it.
const ExitAnnotation = "devcluster.sluice.dev/exit"

// exitPlan is the content of ExitAnnotation.
type exitPlan struct {
	AfterSeconds float64          `json:"afterSeconds"`
	Phase        corev1.PodPhase  `json:"phase"`
	ExitCodes    map[string]int32 `json:"exitCodes"`
}

// containerRun is how one container's command plays out.
type containerRun struct {
	forever  bool          // runs until the pod is deleted (sleep infinity)
	after    time.Duration // when it exits, from the container's start
	exitCode int32
}

// planPod decides how a pod's containers play out. It returns nil when the pod runs until it
// is deleted: pods with restartPolicy Always (their containers would restart, which is not
// played), pods with a container that never ends (sleep infinity), and pods outside a Job
// whose commands are not understood. A container of a Job pod whose command is not understood
// exits 0 at once (what every Job pod did before this convention existed).
func planPod(pod *corev1.Pod) *exitPlan {
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" {
		return nil
	}
	job := ownedByJob(pod)
	plan := &exitPlan{Phase: corev1.PodSucceeded, ExitCodes: make(map[string]int32, len(pod.Spec.Containers))}
	var last time.Duration
	for _, c := range pod.Spec.Containers {
		run, ok := planContainer(c)
		if !ok {
			if !job {
				return nil
			}
			run = containerRun{}
		}
		if run.forever {
			return nil
		}
		last = max(last, run.after)
		plan.ExitCodes[c.Name] = run.exitCode
		if run.exitCode != 0 {
			plan.Phase = corev1.PodFailed
		}
	}
	if len(plan.ExitCodes) == 0 {
		return nil
	}
	plan.AfterSeconds = math.Round(last.Seconds()*1000) / 1000
	return plan
}

func ownedByJob(pod *corev1.Pod) bool {
	for _, o := range pod.OwnerReferences {
		if o.Kind == "Job" && strings.HasPrefix(o.APIVersion, "batch/") {
			return true
		}
	}
	return false
}

func (p *exitPlan) annotation() string {
	b, _ := json.Marshal(p) // a struct of strings and numbers always marshals
	return string(b)
}

// planContainer interprets a container's command (command followed by args; args alone when
// there is no command, as for an image whose entrypoint is a shell or empty). ok is false
// when the command is not one the convention understands.
func planContainer(c corev1.Container) (run containerRun, ok bool) {
	words := append(append([]string(nil), c.Command...), c.Args...)
	if len(words) == 0 {
		return containerRun{}, false
	}
	switch path.Base(words[0]) {
	case "sh", "bash", "ash", "dash":
		if len(words) < 3 || words[1] != "-c" {
			return containerRun{}, false
		}
		return planScript(words[2]) // further words are $0, $1, …: unused by the forms understood
	default:
		cmd, ok := parseSimple(append([]string{path.Base(words[0])}, words[1:]...))
		if !ok || cmd.kind == cmdExit { // exit is a shell builtin, not an executable
			return containerRun{}, false
		}
		return runCommands([][]simpleCmd{{cmd}}), true
	}
}

type cmdKind int

const (
	cmdSleep cmdKind = iota
	cmdExit
	cmdStatus // true, false, :
)

type simpleCmd struct {
	kind     cmdKind
	sleep    time.Duration
	forever  bool
	code     int32
	lastCode bool // exit without a number: exits with the last command's status
}

// planScript interprets a `sh -c` script: simple commands joined by && into lists, lists
// separated by ; or newlines.
func planScript(script string) (containerRun, bool) {
	var lists [][]simpleCmd
	for _, list := range strings.FieldsFunc(script, func(r rune) bool { return r == ';' || r == '\n' }) {
		if strings.TrimSpace(list) == "" {
			continue
		}
		var chain []simpleCmd
		for part := range strings.SplitSeq(list, "&&") {
			cmd, ok := parseSimple(strings.Fields(part))
			if !ok {
				return containerRun{}, false
			}
			chain = append(chain, cmd)
		}
		lists = append(lists, chain)
	}
	if len(lists) == 0 {
		return containerRun{}, false
	}
	return runCommands(lists), true
}

// runCommands plays lists of &&-chains as a shell would: a chain stops at its first command
// that fails; exit ends everything; the status of the last command run is the exit code.
func runCommands(lists [][]simpleCmd) containerRun {
	var (
		t      time.Duration
		status int32
	)
	for _, chain := range lists {
		for i, cmd := range chain {
			if i > 0 && status != 0 {
				break
			}
			switch cmd.kind {
			case cmdSleep:
				if cmd.forever {
					return containerRun{forever: true}
				}
				t += cmd.sleep
				status = 0
			case cmdStatus:
				status = cmd.code
			case cmdExit:
				if !cmd.lastCode {
					status = cmd.code
				}
				return containerRun{after: t, exitCode: status}
			}
		}
	}
	return containerRun{after: t, exitCode: status}
}

// parseSimple understands `sleep N` (N a non-negative number with an optional s, m, h or d
// suffix, or infinity), `exit`, `exit N`, `true`, `:` and `false`.
func parseSimple(f []string) (simpleCmd, bool) {
	if len(f) == 0 {
		return simpleCmd{}, false
	}
	switch {
	case f[0] == "sleep" && len(f) == 2:
		if f[1] == "infinity" {
			return simpleCmd{kind: cmdSleep, forever: true}, true
		}
		d, ok := parseSleep(f[1])
		return simpleCmd{kind: cmdSleep, sleep: d}, ok
	case f[0] == "exit" && len(f) == 1:
		return simpleCmd{kind: cmdExit, lastCode: true}, true
	case f[0] == "exit" && len(f) == 2:
		n, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return simpleCmd{}, false
		}
		return simpleCmd{kind: cmdExit, code: int32(n % 256)}, true
	case (f[0] == "true" || f[0] == ":") && len(f) == 1:
		return simpleCmd{kind: cmdStatus}, true
	case f[0] == "false" && len(f) == 1:
		return simpleCmd{kind: cmdStatus, code: 1}, true
	}
	return simpleCmd{}, false
}

func parseSleep(s string) (time.Duration, bool) {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = strings.TrimSuffix(s, "s")
	case strings.HasSuffix(s, "m"):
		s, unit = strings.TrimSuffix(s, "m"), time.Minute
	case strings.HasSuffix(s, "h"):
		s, unit = strings.TrimSuffix(s, "h"), time.Hour
	case strings.HasSuffix(s, "d"):
		s, unit = strings.TrimSuffix(s, "d"), 24*time.Hour
	}
	v, err := strconv.ParseFloat(s, 64)
	d := v * float64(unit)
	if err != nil || math.IsNaN(v) || d < 0 || d > float64(100*365*24*time.Hour) {
		return 0, false
	}
	return time.Duration(d), true
}
