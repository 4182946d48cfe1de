package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

type setImageOptions struct {
	rolloutVerb
	container, image string
}

func (o *setImageOptions) Complete(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("expected NAME CONTAINER=IMAGE, got %d arguments", len(args))
	}
	c, img, ok := strings.Cut(args[1], "=")
	if !ok {
		return fmt.Errorf("expected CONTAINER=IMAGE, got %q", args[1])
	}
	o.container, o.image = c, img
	return o.rolloutVerb.Complete(args[:1])
}

func (o *setImageOptions) Validate() error {
	if o.container == "" || o.image == "" {
		return fmt.Errorf("expected CONTAINER=IMAGE with both parts set, got %q", o.container+"="+o.image)
	}
	return nil
}

func newSetCommand() *cobra.Command {
	set := &cobra.Command{
		Use:   "set",
		Short: "Set a field of a rollout (image)",
	}
	o := &setImageOptions{}
	img := &cobra.Command{
		Use:   "image NAME CONTAINER=IMAGE",
		Short: "Change the image of a container of a rollout",
		Long: `set image changes the image of the named container ('*' for all) in spec.template's
containers, initContainers and ephemeralContainers, exactly as 'kubectl argo rollouts set image'
does (read, change, update, retried on conflict). A new template starts a new update.`,
		Example: `  sluice set image my-rollout my-app=nginx:1.26`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if err := SetImage(cmd.Context(), o.kube.client, o.key(), o.container, o.image); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "rollout \"%s\" image updated\n", o.name)
			return err
		},
	}
	img.ValidArgsFunction = completeRollouts(&o.kube)
	o.kube.addFlags(img)
	set.AddCommand(img)
	return set
}

// SetImage sets the image of container (or of every container, for "*") in the Rollout's pod
// template: containers, initContainers and ephemeralContainers, as Argo's plugin does. It
// updates the object read as unstructured, so fields this version of sluice does not know
// are kept. A Rollout with spec.workloadRef takes its template from a Deployment: the image is
// set there, and the controller sees the change through its watch.
func SetImage(ctx context.Context, c client.Client, key types.NamespacedName, container, image string) error {
	target, what := key, "rollout"
	gvk := v1alpha1.GroupVersion.WithKind("Rollout")
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := c.Get(ctx, target, u); err != nil {
			return err
		}
		if ref, ok, _ := unstructured.NestedMap(u.Object, "spec", "workloadRef"); ok && gvk.Kind == "Rollout" {
			kind, _ := ref["kind"].(string)
			name, _ := ref["name"].(string)
			if kind != "Deployment" || name == "" {
				return fmt.Errorf("rollout %q takes its template from a %s %q: sluice sets images on referenced Deployments only", key.Name, kind, name)
			}
			gvk = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
			target, what = types.NamespacedName{Namespace: key.Namespace, Name: name}, "deployment"
			u = &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			if err := c.Get(ctx, target, u); err != nil {
				return err
			}
		}
		if !setImages(u, container, image) {
			return fmt.Errorf("%s %q has no container named %q", what, target.Name, container)
		}
		return c.Update(ctx, u)
	})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s %q not found in namespace %q", what, target.Name, key.Namespace)
	case err != nil:
		return fmt.Errorf("setting the image of %s %q: %w", what, target.Name, err)
	}
	return nil
}

// setImages sets the image of the named container (all for "*") in spec.template.spec.
func setImages(u *unstructured.Unstructured, container, image string) bool {
	found := false
	for _, field := range []string{"containers", "initContainers", "ephemeralContainers"} {
		list, ok, err := unstructured.NestedSlice(u.Object, "spec", "template", "spec", field)
		if err != nil || !ok {
			continue
		}
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if name, _ := m["name"].(string); name == container || container == "*" {
				m["image"] = image
				found = true
			}
		}
		_ = unstructured.SetNestedSlice(u.Object, list, "spec", "template", "spec", field)
	}
	return found
}
