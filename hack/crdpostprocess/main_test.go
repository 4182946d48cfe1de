package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// TestGeneratedCRDsAreProcessed fails when config/crd holds controller-gen's output without this
// command's changes (controller-gen run by hand, or `make generate` lost the step).
func TestGeneratedCRDsAreProcessed(t *testing.T) {
	files, err := filepath.Glob("../../config/crd/argoproj.io_*.yaml")
	if err != nil || len(files) != 5 {
		t.Fatalf("want the 5 CRDs, got %v (%v)", files, err)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := process(in)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if string(out) != string(in) {
			t.Errorf("%s is not post-processed: run `make generate`", f)
		}
	}
}

// controllerGenCRD is a miniature of controller-gen's output: a Rollout whose template has a
// quantity, a container port list keyed by a defaulted protocol, and a default.
const controllerGenCRD = `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  names:
    kind: Rollout
  versions:
  - name: v1alpha1
    schema:
      openAPIV3Schema:
        properties:
          spec:
            properties:
              template:
                properties:
                  spec:
                    properties:
                      containers:
                        items:
                          properties:
                            ports:
                              items:
                                properties:
                                  containerPort:
                                    type: integer
                                  protocol:
                                    default: TCP
                                    type: string
                                required:
                                - containerPort
                                type: object
                              type: array
                              x-kubernetes-list-map-keys:
                              - containerPort
                              - protocol
                              x-kubernetes-list-type: map
                            env:
                              items:
                                properties:
                                  name:
                                    type: string
                                required:
                                - name
                                type: object
                              type: array
                              x-kubernetes-list-map-keys:
                              - name
                              x-kubernetes-list-type: map
                            resources:
                              properties:
                                requests:
                                  additionalProperties:
                                    anyOf:
                                    - type: integer
                                    - type: string
                                    pattern: ` + controllerGenQuantityPattern + `
                                    x-kubernetes-int-or-string: true
                                  type: object
                              type: object
                          type: object
                        type: array
                    type: object
                type: object
            type: object
        type: object
`

func TestProcess(t *testing.T) {
	out, err := process([]byte(controllerGenCRD))
	if err != nil {
		t.Fatal(err)
	}
	again, err := process(out)
	if err != nil || string(again) != string(out) {
		t.Errorf("not idempotent (%v):\n%s", err, again)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(out, &crd); err != nil {
		t.Fatal(err)
	}
	root := get(crd, "spec", "versions").([]any)[0]
	container := get(root, "schema", "openAPIV3Schema", "properties", "spec", "properties", "template",
		"properties", "spec", "properties", "containers", "items", "properties")
	ports := get(container, "ports").(map[string]any)
	if _, ok := get(ports, "items", "properties", "protocol").(map[string]any)["default"]; ok {
		t.Error("the protocol default is still there")
	}
	if ports["x-kubernetes-list-type"] != "atomic" || ports["x-kubernetes-list-map-keys"] != nil {
		t.Errorf("ports: want an atomic list now that protocol has no default, got %v", ports)
	}
	if env := get(container, "env").(map[string]any); env["x-kubernetes-list-type"] != "map" {
		t.Errorf("env (keyed by the required name) must stay a list map: %v", env)
	}
	q := get(container, "resources", "properties", "requests", "additionalProperties").(map[string]any)
	if q["anyOf"] != nil || q["x-kubernetes-int-or-string"] != nil || q["x-kubernetes-preserve-unknown-fields"] != true || q["pattern"] != quantityPattern {
		t.Errorf("quantity schema not rewritten: %v", q)
	}
	if !strings.HasPrefix(string(out), "---\n") {
		t.Error("the document separator was lost")
	}
}

func TestProcessRefusesOtherDefaults(t *testing.T) {
	in := strings.Replace(controllerGenCRD, "          spec:\n            properties:\n",
		"          spec:\n            properties:\n              paused:\n                default: false\n                type: boolean\n", 1)
	_, err := process([]byte(in))
	if err == nil || !strings.Contains(err.Error(), ".spec.paused") {
		t.Errorf("want an error naming the default .spec.paused, got %v", err)
	}
}

// TestQuantityPattern: what the pattern accepts, resource.ParseQuantity (the Go types' JSON
// decoding) accepts too, so a Rollout the API server stores can always be read by the
// controller.
func TestQuantityPattern(t *testing.T) {
	re := regexp.MustCompile(quantityPattern)
	for _, s := range []string{"0", "1", "-1", "+1", "0.5", ".5", "5.", "500m", "1Gi", "1.5Gi", "1e3", "1E3", "12e-3", "1e+18", "1e-999", "1e999", "1E", "1k", "1Ki", "1Ei", "123456789012345678901234567890"} {
		if !re.MatchString(s) {
			t.Errorf("%q does not match", s)
		}
		if _, err := resource.ParseQuantity(s); err != nil {
			t.Errorf("%q matches but does not parse: %v", s, err)
		}
	}
	for _, s := range []string{"", "abc", "1e1.5", "1e1234", "1e999999999999999999", "1 ", " 1", "1m2", "--1", "1ki"} {
		if re.MatchString(s) {
			t.Errorf("%q matches", s)
		}
	}
}

func FuzzQuantityPattern(f *testing.F) {
	for _, s := range []string{"0.5", "1e3", "1e1.5", "500m", "1Gi", ".5", "-0", "1e999999999999999999"} {
		f.Add(s)
	}
	re := regexp.MustCompile(quantityPattern)
	f.Fuzz(func(t *testing.T, s string) {
		if !re.MatchString(s) {
			return
		}
		if _, err := resource.ParseQuantity(s); err != nil {
			t.Errorf("%q matches the CRD pattern but resource.ParseQuantity refuses it: %v", s, err)
		}
	})
}
