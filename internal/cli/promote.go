package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/short"
	"github.com/slipwayhq/slipway/internal/ui"
)

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:      "promote",
		Usage:     "copy the image by digest from one registry to another",
		ArgsUsage: "FROM TO",
		Description: "FROM and TO are registry names from slipway.yaml, or environment names meaning their\n" +
			"registries. The version at HEAD (or --version, or --digest) is resolved to a digest once\n" +
			"in FROM, then the manifest or whole index, every blob and the referrers (signatures,\n" +
			"SBOMs, attestations) are copied so the digest in TO is byte-identical; the version tag\n" +
			"is written last. Blobs TO has are skipped, the rest copied --jobs at a time, largest\n" +
			"first; within one registry they are mounted, which carries no bytes, up to --jobs + 8 at\n" +
			"once. Re-running copies only what is missing, including signatures and other artifacts\n" +
			"attached in FROM since. A promotion record (from, to,\n" +
			"version, commit, who, when) is attached to the digest in TO, once the image and every\n" +
			"referrer are there, unless --no-record. With signing.promote in slipway.yaml, or --sign,\n" +
			"the digest is signed in TO with signing.key (unless that key's signature came along) and\n" +
			"the promotion record is attested: signed as an in-toto statement in TO's sha256-HEX.att\n" +
			"(predicate type https://github.com/slipwayhq/slipway/promotion/v1), which\n" +
			"environments.NAME.verify.promotedFrom checks at deploy.",
		Flags: []cli.Flag{
			noDepsFlag(),
			&cli.StringFlag{Name: "version", Usage: "promote this `VERSION` instead of the one at HEAD"},
			&cli.StringFlag{Name: "digest", Usage: "promote exactly this `sha256:...`"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "blobs whose bytes are copied at once (default 4)"},
			&cli.BoolFlag{Name: "force", Usage: "move a version tag in TO that points at another digest"},
			&cli.BoolFlag{Name: "no-record", Usage: "write no promotion record (nor its attestation)"},
			&cli.BoolFlag{Name: "sign", Usage: "sign in TO and attest the promotion with signing.key, as signing.promote does"},
		},
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(2, 2, "FROM TO")
			if err != nil {
				return err
			}
			ran, err := r.PromoteGoal(c.ctx, a[0], a[1], flow.PromoteOptions{
				Options: c.options(), Version: c.flags.String("version"), Digest: c.flags.String("digest"),
				Force: c.flags.Bool("force"), NoRecord: c.flags.Bool("no-record"), Sign: c.flags.Bool("sign"),
			})
			c.stepTable(ran.Steps)
			if err != nil {
				return err
			}
			res := ran.Result
			if res.UpToDate {
				c.ui.Report(progress.Event{Kind: progress.Skip, Step: "promote", Msg: fmt.Sprintf("already promoted from %s to %s", a[0], a[1])})
			} else {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "promote", Msg: fmt.Sprintf(
					"promoted %s from %s to %s (%d blobs copied, %d mounted, %d already there, %d referrers; %s in %.1fs)",
					short.Digest(res.Digest), a[0], a[1], res.BlobsCopied, res.BlobsMounted, res.BlobsSkipped, res.Referrers,
					ui.Amount(res.Bytes, "B"), res.Seconds)})
			}
			return c.result(res, res.Target)
		}),
	}
}
