package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the command line and returns the process exit code (see ExitError). SIGINT and
// SIGTERM cancel the command's context, so long-running commands (dev, demo) clean up before
// returning.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, stdin, stdout, stderr)
}

// Run runs the command line with a context and returns the process exit code: 0 on success,
// the code of an ExitError, 1 for any other error. The error is printed as one line
// "Error: ..." on stderr.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	_, _ = fmt.Fprintln(stderr, "Error: "+err.Error())
	if ee, ok := errors.AsType[*ExitError](err); ok {
		return ee.Code
	}
	return 1
}

// Exit codes other than 0 (success) and 1 (any error: bad flags, API errors, lint problems).
const (
	// ExitDegraded: `status` saw the Rollout Degraded (aborted, progress deadline exceeded,
	// invalid spec).
	ExitDegraded = 2
	// ExitTimeout: `status` gave up (--timeout) before the Rollout was Healthy, or with
	// --watch=false the Rollout is not Healthy yet.
	ExitTimeout = 3
)

// ExitError is an error with a specific process exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// NewRootCommand builds the command tree. Invoked as kubectl-sluice it names itself so.
func NewRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Progressive delivery for Kubernetes, compatible with Argo Rollouts",
		Long: `sluice rolls out new versions of a workload in steps (setWeight, pause, ...) and sends an
exact percentage of requests to the new version through a traffic router, or, without one,
tells you the share the pod ratio really gives. It speaks Argo Rollouts' argoproj.io/v1alpha1 API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-") {
		// As a kubectl plugin, usage lines and completion read "kubectl sluice ...".
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl sluice"}
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCommand(), newDevCommand(), newDemoCommand(), newControllerCommand(), newBenchCommand())
	root.AddCommand(newGetCommand(), newListCommand(), newPromoteCommand(), newResumeCommand(), newAbortCommand(),
		newRetryCommand(), newPauseCommand(), newRestartCommand(), newSetCommand(), newUndoCommand(), newStatusCommand(),
		newPlanCommand(), newLintCommand())
	return root
}
