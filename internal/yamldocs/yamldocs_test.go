package yamldocs_test

import (
	"testing"

	"github.com/sluicehq/sluice/internal/yamldocs"
)

func TestDecode(t *testing.T) {
	objs, err := yamldocs.Decode([]byte("# comment only\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n---\n{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetKind() != "Service" || objs[1].GetName() != "b" {
		t.Fatalf("got %d objects: %+v", len(objs), objs)
	}
	if _, err := yamldocs.Decode([]byte("kind: [unclosed")); err == nil {
		t.Fatal("want an error for broken YAML")
	}
}
