package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "manage the key pair that signs pushed images",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "write a cosign-compatible signing key pair",
			ArgsUsage: " ",
			Description: "Writes PREFIX.key (mode 0600) and PREFIX.pub, as `cosign generate-key-pair`\n" +
				"does: an ECDSA P-256 key whose private half is encrypted with the password in\n" +
				flow.PasswordEnv + " or else " + flow.CosignPasswordEnv + " (an empty value\n" +
				"means the empty password). A pair made by cosign works the same way. Point\n" +
				"signing.key in slipway.yaml at the private key, or at env://NAME to read it\n" +
				"from a variable in CI, and give cosign.pub to whoever verifies: cosign verify\n" +
				"--key cosign.pub, or environments.NAME.verify.key. Keep the .key file out of\n" +
				"git. Prints the public key's path.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "prefix", Value: "cosign", Usage: "write `PREFIX`.key and PREFIX.pub"},
				&cli.BoolFlag{Name: "force", Usage: "replace an existing key pair"},
			},
			Action: action(func(c *command) error {
				if _, err := c.args(0, 0, ""); err != nil {
					return err
				}
				res, err := flow.GenerateKeys(c.dir, c.flags.String("prefix"), c.flags.Bool("force"))
				if err != nil {
					return err
				}
				if res.EmptyPassword {
					c.ui.Report(progress.Event{Kind: progress.Warn, Step: "keys", Msg: "the private key's password is empty: anyone with the file can sign"})
				}
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "keys", Msg: "wrote " + res.Private + " (secret) and " + res.Public})
				return c.result(res, res.Public)
			}),
		}},
	}
}
