package plan

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"strconv"

	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

// PodTemplateHash is the rollouts-pod-template-hash of a Rollout's template, computed like Argo
// Rollouts (argo-compat.md §2.7): fnv-32a over the JSON of the template as a core/v1
// PodTemplateSpec, plus the collision count when set, as a safely encoded decimal string. The
// JSON encoding follows the Kubernetes API types sluice is built with, so ReplicaSets created by
// Argo built against other versions may hash differently; the controller then adopts them by
// template equality.
func PodTemplateHash(t *v1alpha1.PodTemplateSpec, collisionCount *int32) string {
	core := t.CorePodTemplateSpec()
	b, err := json.Marshal(&core)
	if err != nil {
		return ""
	}
	h := fnv.New32a()
	_, _ = h.Write(b)
	if collisionCount != nil {
		buf := make([]byte, 8)
		binary.LittleEndian.PutUint32(buf, uint32(*collisionCount))
		_, _ = h.Write(buf)
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}
