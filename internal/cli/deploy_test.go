package cli

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/deploy"
)

// TestWaitLockFlag checks --wait-lock bare, with a duration, and absent,
// before and after the environment, and that a bare one never takes the
// next argument for its value.
func TestWaitLockFlag(t *testing.T) {
	tests := []struct {
		args     string
		want     time.Duration
		wantArgs string
		reason   string
		bad      bool
	}{
		{"deploy dev", 0, "dev", "", false},
		{"deploy dev --wait-lock", deploy.WaitForever, "dev", "", false},
		{"deploy --wait-lock dev", deploy.WaitForever, "dev", "", false},
		{"deploy dev --wait-lock --reason x", deploy.WaitForever, "dev", "x", false},
		{"deploy dev --wait-lock=90s", 90 * time.Second, "dev", "", false},
		{"deploy --wait-lock=5m dev --reason x", 5 * time.Minute, "dev", "x", false},
		{"deploy dev --wait-lock=soon", 0, "", "", true},
		{"deploy dev --wait-lock=-1s", 0, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var got time.Duration
			var gotArgs, reason string
			app := &cli.App{Name: "slipway", ExitErrHandler: func(*cli.Context, error) {}, Writer: io.Discard, ErrWriter: io.Discard,
				Commands: []*cli.Command{{Name: "deploy", Flags: append(lockFlags(), &cli.StringFlag{Name: "reason"}),
					Action: func(c *cli.Context) error {
						got = waitLock(&command{flags: c})
						gotArgs, reason = strings.Join(c.Args().Slice(), " "), c.String("reason")
						return nil
					}}}}
			err := app.Run(intersperse(app, append([]string{"slipway"}, strings.Fields(tt.args)...)))
			if tt.bad {
				if err == nil {
					t.Error("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || gotArgs != tt.wantArgs || reason != tt.reason {
				t.Errorf("wait %s, args %q, reason %q; want %s, %q, %q", got, gotArgs, reason, tt.want, tt.wantArgs, tt.reason)
			}
		})
	}
}
