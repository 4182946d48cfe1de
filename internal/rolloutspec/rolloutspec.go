package rolloutspec

import (
	"context"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/experiment"
	"github.com/sluicehq/sluice/internal/plan"
	"github.com/sluicehq/sluice/internal/trafficrouter"
)

// Problems lists every reason the spec of ro cannot run, in the order they are checked (empty
// when it can).
func Problems(ro *v1alpha1.Rollout) []string {
	return append(append(plan.ValidateAll(ro), trafficrouter.ValidateAll(ro)...), experiment.RolloutStepProblems(ro)...)
}

// Message is the InvalidSpec message for problems: all of them, in one sentence each.
func Message(problems []string) string {
	return strings.Join(problems, "; ")
}

// Diagnose is Problems with what the objects the routers refer to tell (read through c): the
// NGINX stable Ingresses explain which Services to create and which of their annotations to
// remove. The controller reports this list; lint, which has only files, reports Problems.
func Diagnose(ctx context.Context, c client.Reader, ro *v1alpha1.Rollout) ([]string, error) {
	routers, err := trafficrouter.DiagnoseAll(ctx, c, ro)
	if err != nil {
		return Problems(ro), err
	}
	return append(append(plan.ValidateAll(ro), routers...), experiment.RolloutStepProblems(ro)...), nil
}
