package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/deadline"
)

// TestNetworkTimeoutFlag checks that --network-timeout and
// SLIPWAY_NETWORK_TIMEOUT are checked before any work, as usage errors.
func TestNetworkTimeoutFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want int
	}{
		{"bad flag", []string{"slipway", "--network-timeout", "soon", "config", "check"}, "", ExitUsage},
		{"bad flag after the command", []string{"slipway", "config", "check", "--network-timeout", "idle=x"}, "", ExitUsage},
		{"bad variable", []string{"slipway", "config", "check"}, "forever", ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(deadline.EnvVar, tt.env)
			var out, errOut bytes.Buffer
			args := append(tt.args, "-C", t.TempDir(), "--no-color")
			code := Main(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut})
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.want, errOut.String())
			}
			if !strings.Contains(errOut.String(), "network timeout") {
				t.Errorf("stderr %q does not explain the network timeout", errOut.String())
			}
		})
	}
}

// TestNetworkTimeoutInContext checks that a valid --network-timeout
// reaches the context of the command.
func TestNetworkTimeoutInContext(t *testing.T) {
	t.Setenv(deadline.EnvVar, "")
	app := newApp(Stdio{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	var got deadline.Timeouts
	app.Commands[0].Action = action(func(c *command) error {
		got = deadline.FromContext(c.ctx)
		return nil
	})
	name := app.Commands[0].Name
	if err := app.RunContext(context.Background(), []string{"slipway", "--network-timeout", "headers=2m,idle=5m", name, "-C", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if got.Headers.String() != "2m0s" || got.Idle.String() != "5m0s" || got.Connect != 0 {
		t.Errorf("context timeouts %+v", got)
	}
}
