package cli

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

type undoOptions struct {
	rolloutVerb
	toRevision int64
}

func (o *undoOptions) Validate() error {
	if o.toRevision < 0 {
		return fmt.Errorf("--to-revision must not be negative, got %d", o.toRevision)
	}
	return nil
}

func newUndoCommand() *cobra.Command {
	o := &undoOptions{}
	cmd := &cobra.Command{
		Use:   "undo NAME",
		Short: "Roll a rollout back to a previous revision",
		Long: `undo replaces spec.template with the pod template of the ReplicaSet of an earlier revision
(the previous one by default), without its rollouts-pod-template-hash label, with a JSON patch
"replace /spec/template", exactly as 'kubectl argo rollouts undo' does. Going back to the stable
revision skips the steps; going back to any other revision is a normal update.`,
		Example: `  sluice undo my-rollout
  sluice undo my-rollout --to-revision 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			rev, changed, err := Undo(cmd.Context(), o.kube.client, o.key(), o.toRevision)
			if err != nil {
				return err
			}
			if !changed {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "rollout '%s' skipped rollback (current template already matches revision %d)\n", o.name, rev)
				return err
			}
			return printDone(cmd.OutOrStdout(), o.name, fmt.Sprintf("rolled back to revision %d", rev))
		},
	}
	cmd.ValidArgsFunction = completeRollouts(&o.kube)
	o.kube.addFlags(cmd)
	cmd.Flags().Int64Var(&o.toRevision, "to-revision", 0, "the revision to roll back to (default: the previous one)")
	return cmd
}

// UndoPatch is the JSON patch of `undo`: replace /spec/template with the ReplicaSet's template
// minus the pod-template-hash label.
func UndoPatch(rs *appsv1.ReplicaSet) []byte {
	tmpl := rs.Spec.Template.DeepCopy()
	tmpl.Labels = maps.Clone(tmpl.Labels)
	delete(tmpl.Labels, v1alpha1.LabelPodTemplateHash)
	return mustJSON([]map[string]any{{"op": "replace", "path": "/spec/template", "value": tmpl}})
}

// Undo rolls the Rollout back to the template of revision toRevision (0: the previous one, the
// highest revision below the newest). It returns the revision and whether the template changed.
func Undo(ctx context.Context, c client.Client, key types.NamespacedName, toRevision int64) (int64, bool, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return 0, false, err
	}
	var list appsv1.ReplicaSetList
	if err := c.List(ctx, &list, client.InNamespace(key.Namespace)); err != nil {
		return 0, false, fmt.Errorf("listing the ReplicaSets of rollout %q: %w", key.Name, err)
	}
	var owned []*appsv1.ReplicaSet
	for i := range list.Items {
		if ref := metav1.GetControllerOf(&list.Items[i]); ref != nil && ref.UID == ro.UID {
			owned = append(owned, &list.Items[i])
		}
	}
	rev := func(rs *appsv1.ReplicaSet) int64 {
		v, _ := strconv.ParseInt(rs.Annotations[v1alpha1.AnnotationRevision], 10, 64)
		return v
	}
	slices.SortFunc(owned, func(a, b *appsv1.ReplicaSet) int { return cmp.Compare(rev(b), rev(a)) })
	var target *appsv1.ReplicaSet
	if toRevision == 0 {
		if len(owned) < 2 {
			return 0, false, fmt.Errorf("rollout %q has no previous revision to roll back to", key.Name)
		}
		target = owned[1]
	} else {
		for _, rs := range owned {
			if rev(rs) == toRevision {
				target = rs
			}
		}
		if target == nil {
			return 0, false, fmt.Errorf("rollout %q has no revision %d (revisions kept: %v)", key.Name, toRevision, revisions(owned, rev))
		}
	}
	cur := ro.Spec.Template.CorePodTemplateSpec()
	want := target.Spec.Template.DeepCopy()
	delete(want.Labels, v1alpha1.LabelPodTemplateHash)
	sameHash := target.Labels[v1alpha1.LabelPodTemplateHash] == ro.Status.CurrentPodHash &&
		ro.Status.ObservedGeneration == strconv.FormatInt(ro.Generation, 10)
	if sameHash || apiequality.Semantic.DeepEqual(&cur, want) {
		return rev(target), false, nil
	}
	patch := UndoPatch(target)
	obj := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := c.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return 0, false, fmt.Errorf("rolling back rollout %q: %w", key.Name, err)
	}
	return rev(target), true, nil
}

func revisions(rss []*appsv1.ReplicaSet, rev func(*appsv1.ReplicaSet) int64) []int64 {
	out := make([]int64, 0, len(rss))
	for _, rs := range rss {
		out = append(out, rev(rs))
	}
	return out
}
