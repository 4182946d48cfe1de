package rollout

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sluicehq/sluice/api/v1alpha1"
	"github.com/sluicehq/sluice/internal/analysis"
)

// TemplateReader reads the analysis templates a Rollout or an Experiment names:
// AnalysisTemplates in the object's namespace through Namespaced, ClusterAnalysisTemplates
// through Cluster (Namespaced when nil). A controller limited to one namespace (--namespace,
// the namespaced install) reads ClusterAnalysisTemplates straight from the API server: its
// Role cannot list a cluster-scoped kind, so a cache of them would never fill and every pass
// would wait for it until it timed out; a direct read is refused at once (403), with a message
// on the object, or works where an admin granted get on them.
type TemplateReader struct {
	Namespaced client.Reader
	Cluster    client.Reader
}

// Template returns the spec ref names, or an error that says which template and why.
func (t TemplateReader) Template(ctx context.Context, ns string, ref analysis.TemplateRef) (*v1alpha1.AnalysisTemplateSpec, error) {
	var err error
	if ref.Cluster {
		c := t.Cluster
		if c == nil {
			c = t.Namespaced
		}
		ct := &v1alpha1.ClusterAnalysisTemplate{}
		if err = c.Get(ctx, types.NamespacedName{Name: ref.Name}, ct); err == nil {
			return &ct.Spec, nil
		}
	} else {
		at := &v1alpha1.AnalysisTemplate{}
		if err = t.Namespaced.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, at); err == nil {
			return &at.Spec, nil
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s not found", ref)
	}
	return nil, fmt.Errorf("reading %s: %w", ref, err)
}
