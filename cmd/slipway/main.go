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
	// The first Ctrl-C or SIGTERM cancels ctx: the command stops, leaves
	// things consistent and says what it left. A second exits at once.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sig
		cancel()
		<-sig
		os.Exit(cli.ExitInterrupted)
	}()
	code := cli.Main(ctx, os.Args, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	cancel()
	os.Exit(code)
}
