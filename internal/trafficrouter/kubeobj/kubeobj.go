package kubeobj

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the field manager of every write the routers make.
const FieldOwner = client.FieldOwner("sluice")

// EqualJSON reports whether a and b serialize to the same JSON (so int64(5) and float64(5),
// or nil and absent map keys written the same way, compare equal).
func EqualJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// New returns an empty unstructured object of the given kind, to Get into.
func New(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// Get reads an unstructured object. found is false (and err nil) when it does not exist.
func Get(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key types.NamespacedName) (u *unstructured.Unstructured, found bool, err error) {
	u = New(gvk)
	if err := c.Get(ctx, key, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return u, true, nil
}

// Mutate reads the object named key, lets mutate change a copy, and updates the object only if
// the copy differs; on a conflict it starts again from a fresh read. It returns whether it
// wrote. mutate's errors are returned as they are (not retried). A missing object is returned
// as the API's NotFound error.
func Mutate(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key types.NamespacedName,
	mutate func(cur *unstructured.Unstructured) (*unstructured.Unstructured, error)) (bool, error) {
	wrote := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		wrote = false
		cur := New(gvk)
		if err := c.Get(ctx, key, cur); err != nil {
			return err
		}
		want, err := mutate(cur.DeepCopy())
		if err != nil {
			return err
		}
		if EqualJSON(cur.Object, want.Object) {
			return nil
		}
		want.SetResourceVersion(cur.GetResourceVersion())
		if err := c.Update(ctx, want, FieldOwner); err != nil {
			return err
		}
		wrote = true
		return nil
	})
	return wrote, err
}

// SplitName splits Argo's "name.namespace" reference: exactly one dot separates the two parts
// (a name without a dot, or with more than one, is taken whole in defaultNamespace).
func SplitName(ref, defaultNamespace string) types.NamespacedName {
	if parts := strings.Split(ref, "."); len(parts) == 2 && parts[0] != "" && parts[1] != "" {
		return types.NamespacedName{Namespace: parts[1], Name: parts[0]}
	}
	return types.NamespacedName{Namespace: defaultNamespace, Name: ref}
}

// Map returns v as a JSON object, or nil.
func Map(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// Slice returns v as a JSON array, or nil.
func Slice(v any) []any {
	s, _ := v.([]any)
	return s
}

// String returns m[key] as a string, or "".
func String(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// Int64 reads a JSON number (or a decimal string, for int-or-string fields).
func Int64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// Nested walks maps by keys and returns the value found, or nil.
func Nested(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm := Map(v)
		if mm == nil {
			return nil
		}
		v = mm[k]
	}
	return v
}

// SetNested sets m[keys...] = v, creating intermediate maps.
func SetNested(m map[string]any, v any, keys ...string) {
	for _, k := range keys[:len(keys)-1] {
		next := Map(m[k])
		if next == nil {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

// DeepCopy copies a JSON value (maps, slices, scalars).
func DeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = DeepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = DeepCopy(e)
		}
		return out
	}
	return v
}
