package plan

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// StepsHash is Argo's status.currentStepHash: fnv-32a over the JSON of the steps, as a safely
// encoded decimal string. A change of only the steps restarts the update from step 0.
func StepsHash(steps []v1alpha1.CanaryStep) string {
	b, err := json.Marshal(steps)
	if err != nil {
		return ""
	}
	h := fnv.New32a()
	_, _ = h.Write(b)
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// StepKind names the kind of a step, as written in YAML ("setWeight", "pause", …), or "" when
// the step sets none.
func StepKind(s *v1alpha1.CanaryStep) string {
	kinds := stepKinds(s)
	if len(kinds) == 0 {
		return ""
	}
	return kinds[0]
}

func stepKinds(s *v1alpha1.CanaryStep) []string {
	var k []string
	if s.SetWeight != nil {
		k = append(k, "setWeight")
	}
	if s.Pause != nil {
		k = append(k, "pause")
	}
	if s.SetCanaryScale != nil {
		k = append(k, "setCanaryScale")
	}
	if s.Analysis != nil {
		k = append(k, "analysis")
	}
	if s.Experiment != nil {
		k = append(k, "experiment")
	}
	if s.SetHeaderRoute != nil {
		k = append(k, "setHeaderRoute")
	}
	if s.SetMirrorRoute != nil {
		k = append(k, "setMirrorRoute")
	}
	if s.Plugin != nil {
		k = append(k, "plugin")
	}
	return k
}

// DescribeStep renders a step for humans and events: "setWeight: 20", "pause: {duration: 20s}",
// "pause: {}".
func DescribeStep(s *v1alpha1.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight: %d", *s.SetWeight)
	case s.Pause != nil:
		if s.Pause.Duration == nil {
			return "pause: {}"
		}
		return "pause: {duration: " + s.Pause.Duration.String() + "}"
	case s.SetCanaryScale != nil:
		c := s.SetCanaryScale
		switch {
		case c.Replicas != nil:
			return fmt.Sprintf("setCanaryScale: {replicas: %d}", *c.Replicas)
		case c.Weight != nil:
			return fmt.Sprintf("setCanaryScale: {weight: %d}", *c.Weight)
		default:
			return "setCanaryScale: {matchTrafficWeight: true}"
		}
	}
	if k := StepKind(s); k != "" {
		return k
	}
	return "empty step"
}

// PauseDuration parses a pause step's duration: an integer is seconds, a string is a Go
// duration ("30s", "1h"), and a unit-less numeric string is seconds. ok is false for an
// indefinite pause (no duration).
func PauseDuration(p *v1alpha1.RolloutPause) (d time.Duration, ok bool, err error) {
	if p == nil || p.Duration == nil {
		return 0, false, nil
	}
	return parseDuration(*p.Duration)
}

func parseDuration(v intstr.IntOrString) (time.Duration, bool, error) {
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return 0, true, fmt.Errorf("negative duration %d", v.IntVal)
		}
		return time.Duration(v.IntVal) * time.Second, true, nil
	}
	s := strings.TrimSpace(v.StrVal)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, true, fmt.Errorf("negative duration %q", s)
		}
		return time.Duration(n) * time.Second, true, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, true, fmt.Errorf("invalid duration %q: use seconds (30) or a Go duration (30s, 5m, 1h)", s)
	}
	if d < 0 {
		return 0, true, fmt.Errorf("negative duration %q", s)
	}
	return d, true, nil
}

// WeightAt is the setWeight in force at step index i: the last setWeight at or before i, 0 if
// there is none, maxWeight once every step is done (i >= len(steps)).
func WeightAt(steps []v1alpha1.CanaryStep, i int32, maxWeight int32) int32 {
	if int(i) >= len(steps) {
		return maxWeight
	}
	for j := i; j >= 0; j-- {
		if steps[j].SetWeight != nil {
			return *steps[j].SetWeight
		}
	}
	return 0
}

// CanaryScaleAt is the setCanaryScale in force at step i: the last one at or before i, unless
// it (or a later one up to i) says matchTrafficWeight. nil means "follow the traffic weight".
func CanaryScaleAt(steps []v1alpha1.CanaryStep, i int32) *v1alpha1.SetCanaryScale {
	if int(i) >= len(steps) {
		return nil
	}
	for j := i; j >= 0; j-- {
		if c := steps[j].SetCanaryScale; c != nil {
			if c.MatchTrafficWeight {
				return nil
			}
			return c
		}
	}
	return nil
}
