package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the command line and returns the process exit code. SIGINT and SIGTERM cancel the
// command's context, so long-running commands (dev, demo) clean up before returning.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	_, _ = fmt.Fprintln(stderr, "Error: "+err.Error())
	return 1
}

// NewRootCommand builds the command tree. Invoked as kubectl-sluice it names itself so.
func NewRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	use := "sluice"
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-") {
		use = "kubectl sluice"
	}
	root := &cobra.Command{
		Use:   use,
		Short: "Progressive delivery for Kubernetes, compatible with Argo Rollouts",
		Long: `sluice rolls out new versions of a workload in steps (setWeight, pause, ...) and sends an
exact percentage of requests to the new version through a traffic router, or, without one,
tells you the share the pod ratio really gives. It speaks Argo Rollouts' argoproj.io/v1alpha1 API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCommand(), newDevCommand(), newDemoCommand(), newControllerCommand())
	return root
}
