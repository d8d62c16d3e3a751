package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
)

// Exit codes. They are part of Slipway's interface: scripts and CI rely on
// them, so they only ever gain members.
const (
	ExitOK          = 0   // success, including an up-to-date no-op
	ExitFailure     = 1   // the command failed; the message says why
	ExitUsage       = 2   // bad flags or arguments, or invalid slipway.yaml / ci.yaml
	ExitRefused     = 3   // a safety gate refused: dirty tree, immutable tag, deploy gate, deploy lock, unverified signature, a GitOps push that lost the race
	ExitAuth        = 4   // authentication or permission failure (registry, git remote, cluster)
	ExitDeployFail  = 5   // a deploy failed its rollout (and was rolled back unless --no-rollback)
	ExitSuperseded  = 6   // a GitOps deploy's commit was superseded by a newer one before the engine applied it
	ExitNotPickedUp = 7   // a GitOps deploy's commit was not picked up by the engine in time
	ExitInterrupted = 130 // interrupted (Ctrl-C or SIGTERM); nothing is left half done
)

// exitCodes documents the codes for `slipway help exit-codes` and the README.
var exitCodes = []struct {
	Code int
	Name string
	Text string
}{
	{ExitOK, "ok", "success, including a step that was already up to date"},
	{ExitFailure, "failure", "the command failed; the message says why and what to do next"},
	{ExitUsage, "usage", "bad flags or arguments, or an invalid slipway.yaml, ci.yaml or pod.yml (a layer source outside the project included), or a file Slipway reads or writes that is a symlink, a FIFO, a device or too large"},
	{ExitRefused, "refused", "a safety gate refused: dirty working tree, immutable tag, deploy gate, an image that would not start under runAsNonRoot, another run holding the environment's deploy lock, an existing signing key, an image without a valid signature by the environment's verify key, or without the attestations or the promotion it requires, or a GitOps commit whose push lost the race twice or met someone else's edit of the file Slipway writes"},
	{ExitAuth, "auth", "authentication or permission failure at a registry, git remote or cluster"},
	{ExitDeployFail, "deploy-failed", "a rollout failed (and was rolled back unless --no-rollback); in a GitOps environment, also the engine's failure to apply the commit, which is reverted"},
	{ExitSuperseded, "superseded", "a GitOps deploy's commit was superseded: a newer commit landed on the environment before the engine applied ours (the message names it and who made it); the environment is the newer commit's"},
	{ExitNotPickedUp, "not-picked-up", "a GitOps deploy's commit was not picked up: the engine did not attempt it in time (the message quotes the engine's or the source's error); the commit stays, and `slipway status ENV` gives the verdict once the engine applies it"},
	{ExitInterrupted, "interrupted", "interrupted by Ctrl-C or SIGTERM; nothing is left half done (a rollout under way continues in the cluster, and the message says so); a second one exits at once"},
}

// classCodes are the exit codes of the classes of failure flow tells apart.
var classCodes = map[flow.Class]int{
	flow.ClassUsage:         ExitUsage,
	flow.ClassInterrupted:   ExitInterrupted,
	flow.ClassAuth:          ExitAuth,
	flow.ClassRefused:       ExitRefused,
	flow.ClassRolloutFailed: ExitDeployFail,
	flow.ClassSuperseded:    ExitSuperseded,
	flow.ClassNotPickedUp:   ExitNotPickedUp,
}

func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	if code, ok := classCodes[flow.Classify(err)]; ok {
		return code
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if strings.HasPrefix(err.Error(), "flag provided but not defined") {
		return ExitUsage
	}
	return ExitFailure
}

func exitCodesText() string {
	var b strings.Builder
	b.WriteString("Slipway exits with one of these codes:\n\n")
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "%-5d%-15s%s\n", c.Code, c.Name, c.Text)
	}
	return b.String()
}

func exitCodesCommand() *cli.Command {
	return &cli.Command{
		Name:        "exit-codes",
		Usage:       "list the exit codes and what they mean",
		Description: exitCodesText(),
		Action: action(func(c *command) error {
			if c.json {
				return c.printJSON(exitCodes)
			}
			return c.ui.Print(exitCodesText())
		}),
	}
}
