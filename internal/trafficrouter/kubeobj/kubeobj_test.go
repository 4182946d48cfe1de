package kubeobj

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestSplitName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]types.NamespacedName{
		"vs":         {Namespace: "def", Name: "vs"},
		"vs.other":   {Namespace: "other", Name: "vs"},
		"a.b.c":      {Namespace: "def", Name: "a.b.c"},
		".bad":       {Namespace: "def", Name: ".bad"},
		"trailing.":  {Namespace: "def", Name: "trailing."},
		"my-vs.prod": {Namespace: "prod", Name: "my-vs"},
	} {
		if got := SplitName(in, "def"); got != want {
			t.Errorf("SplitName(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	for _, v := range []any{int64(5), 5, int32(5), float64(5), "5"} {
		if n, ok := Int64(v); !ok || n != 5 {
			t.Errorf("Int64(%#v) = %d, %v", v, n, ok)
		}
	}
	if _, ok := Int64(5.5); ok {
		t.Error("5.5 is not an integer")
	}
	if !EqualJSON(map[string]any{"w": int64(5)}, map[string]any{"w": float64(5)}) {
		t.Error("EqualJSON compares the JSON")
	}
	m := map[string]any{}
	SetNested(m, "x", "a", "b")
	if Nested(m, "a", "b") != "x" || Nested(m, "a", "c") != nil || Nested(m, "z", "y") != nil {
		t.Errorf("Nested %v", m)
	}
	c := DeepCopy(map[string]any{"l": []any{map[string]any{"k": "v"}}}).(map[string]any)
	c["l"].([]any)[0].(map[string]any)["k"] = "changed"
	if Slice(c["l"]) == nil || Map(c["l"].([]any)[0])["k"] != "changed" || String(Map(c["l"].([]any)[0]), "k") != "changed" {
		t.Error("accessors")
	}
}
