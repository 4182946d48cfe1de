package devcluster

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The Makefile builds sluice with the cluster binaries' flags and CGO_ENABLED=0 (as goBuild
// does), so a first `make demo` compiles the packages they share once. Any difference in flags
// or cgo gives every shared package a different build-cache key: nothing fails, the first run
// just gets minutes slower. This test is what notices.
func TestMakeBuildSharesTheClusterBuildFlags(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BUILD_FLAGS := (.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no BUILD_FLAGS := line")
	}
	if got, want := strings.TrimSpace(string(m[1])), strings.Join(buildFlags, " "); got != want {
		t.Errorf("Makefile BUILD_FLAGS = %q, the local cluster builds with %q: keep them equal", got, want)
	}
	recipe := regexp.MustCompile(`(?m)^build:.*\n\t(.*)$`).FindSubmatch(mk)
	if recipe == nil || !strings.Contains(string(recipe[1]), "CGO_ENABLED=0 go build $(BUILD_FLAGS) ") {
		t.Errorf("Makefile: make build must run CGO_ENABLED=0 go build $(BUILD_FLAGS) ..., as goBuild builds the cluster; recipe %q", recipe)
	}
}
