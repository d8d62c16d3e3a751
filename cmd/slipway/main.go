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
	ctx, stop := interrupts(os.Exit)
	code := cli.Main(ctx, os.Args, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

// interrupts returns a context that the first Ctrl-C or SIGTERM cancels:
// the command stops, leaves things consistent and says what it left. A
// second one calls exit(130) at once. stop stops listening.
func interrupts(exit func(int)) (ctx context.Context, stop func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
		case <-done:
			return
		}
		cancel()
		select {
		case <-sig:
			exit(cli.ExitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sig)
		close(done)
		cancel()
	}
}
