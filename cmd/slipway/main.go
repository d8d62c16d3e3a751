// Command slipway ships containers to Kubernetes: release, build, push, promote, deploy.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipwayhq/slipway/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
