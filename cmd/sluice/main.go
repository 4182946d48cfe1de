// Command sluice is the progressive-delivery controller, its kubectl-style CLI and the local
// development cluster, in one binary.
package main

import (
	"os"

	"github.com/sluicehq/sluice/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
