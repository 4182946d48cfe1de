package devcluster

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	sluicecrd "github.com/sluicehq/sluice/config/crd"
	"github.com/sluicehq/sluice/internal/yamldocs"
)

// CRDSet names a group of CustomResourceDefinitions the cluster can install.
type CRDSet string

// The CRD sets. Third-party sets come from the Go module cache at pinned versions, fetched with
// `go mod download` (the Go module proxy or a warm cache is enough).
const (
	// CRDsSluice are sluice's own argoproj.io CRDs (config/crd, embedded in the binary).
	CRDsSluice CRDSet = "sluice"
	// CRDsIstio are Istio's CRDs from istio.io/api (VirtualService, DestinationRule, …).
	CRDsIstio CRDSet = "istio"
	// CRDsGatewayAPI are the Gateway API standard-channel CRDs (HTTPRoute, GRPCRoute,
	// TCPRoute, TLSRoute, …).
	CRDsGatewayAPI CRDSet = "gateway-api"
	// CRDsSMI is the SMI TrafficSplit CRD (sluice's own schema, all three versions).
	CRDsSMI CRDSet = "smi"
)

// Pinned third-party modules the CRDs come from. IstioAPIModule is the istio.io/api version
// istio.io/client-go v1.32.0 requires.
const (
	IstioAPIModule   = "istio.io/api@v1.32.0-alpha.0.0.20261021173038-97748e4cb005"
	GatewayAPIModule = "sigs.k8s.io/gateway-api@v1.6.3"
)

//go:embed smi-trafficsplit-crd.yaml
var smiCRD []byte

// ParseCRDSet maps a name (as on the `sluice dev --crds` flag) to a set.
func ParseCRDSet(s string) (CRDSet, error) {
	switch set := CRDSet(s); set {
	case CRDsSluice, CRDsIstio, CRDsGatewayAPI, CRDsSMI:
		return set, nil
	}
	return "", fmt.Errorf("unknown CRD set %q (known: %s, %s, %s, %s)", s, CRDsSluice, CRDsIstio, CRDsGatewayAPI, CRDsSMI)
}

// CRDDocuments returns the YAML documents of a set.
func CRDDocuments(ctx context.Context, set CRDSet) ([][]byte, error) {
	switch set {
	case CRDsSluice:
		return globFS(sluicecrd.FS, "*.yaml")
	case CRDsSMI:
		return [][]byte{smiCRD}, nil
	case CRDsIstio:
		dir, err := moduleDir(ctx, IstioAPIModule)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(dir, "kubernetes", "customresourcedefinitions.gen.yaml"))
		if err != nil {
			return nil, err
		}
		return [][]byte{b}, nil
	case CRDsGatewayAPI:
		dir, err := moduleDir(ctx, GatewayAPIModule)
		if err != nil {
			return nil, err
		}
		return globFS(os.DirFS(filepath.Join(dir, "config", "crd", "standard")), "*.yaml")
	}
	return nil, fmt.Errorf("unknown CRD set %q", set)
}

// InstallCRDs applies the sets' CRDs server-side (the Rollout CRD is larger than the 256 KiB a
// client-side apply annotation allows) and waits until every one is Established.
func (c *Cluster) InstallCRDs(ctx context.Context, sets ...CRDSet) error {
	dyn, err := dynamic.NewForConfig(c.config)
	if err != nil {
		return err
	}
	ext, err := apiextensionsclient.NewForConfig(c.config)
	if err != nil {
		return err
	}
	crdGVR := apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	var names []string
	seen := map[string]bool{}
	for _, set := range sets {
		docs, err := CRDDocuments(ctx, set)
		if err != nil {
			return fmt.Errorf("reading %s CRDs: %w", set, err)
		}
		for _, doc := range docs {
			objs, err := yamldocs.Decode(doc)
			if err != nil {
				return fmt.Errorf("parsing %s CRDs: %w", set, err)
			}
			for _, o := range objs {
				if o.GetKind() != "CustomResourceDefinition" || seen[o.GetName()] {
					continue
				}
				seen[o.GetName()] = true
				body, err := json.Marshal(o.Object)
				if err != nil {
					return err
				}
				force := true
				if _, err := dyn.Resource(crdGVR).Patch(ctx, o.GetName(), types.ApplyPatchType, body,
					metav1.PatchOptions{FieldManager: "sluice-dev", Force: &force}); err != nil {
					return fmt.Errorf("applying CRD %s: %w", o.GetName(), err)
				}
				names = append(names, o.GetName())
			}
		}
	}
	slices.Sort(names)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, n := range names {
		if err := waitFor(wctx, "CRD "+n+" to be Established", c.procs, func(ctx context.Context) bool {
			crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true
				}
			}
			return false
		}); err != nil {
			return err
		}
	}
	return nil
}

func globFS(fsys fs.FS, pattern string) ([][]byte, error) {
	files, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no files match %s", pattern)
	}
	slices.Sort(files)
	docs := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return docs, nil
}

// moduleDir downloads (or finds in the module cache) a module and returns its directory.
func moduleDir(ctx context.Context, modAtVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", modAtVersion)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.Dir = os.TempDir() // outside any module: a plain cache lookup
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", modAtVersion, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modAtVersion, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory reported", modAtVersion)
	}
	return info.Dir, nil
}
