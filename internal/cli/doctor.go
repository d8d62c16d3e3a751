package cli

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "check that an environment can be deployed to",
		ArgsUsage: "ENV",
		Description: "Checks the kubeconfig context, that the cluster answers, that its user has every\n" +
			"permission deploy needs (RBAC), that the environment's registry has the image and\n" +
			"the pull secret can be made, and warns when the kubeconfig's client certificate or\n" +
			"the API server's serving certificate expires within 30 days. With signing or verify\n" +
			"in slipway.yaml it checks the keys, never printing them: signing.key decrypts with the\n" +
			"password from the environment (a .pub beside it is its public half), the environment's\n" +
			"verify.key is a public key, and the public half of signing.key when both are set.\n" +
			"For a GitOps environment it also checks that the environment repository answers\n" +
			"and has the branch, that the engine's object (Flux Kustomization or Argo CD\n" +
			"Application) applies its path, that the credentials may read and nudge it, and\n" +
			"warns when kustomize-controller runs without CancelHealthCheckOnNewRevision=true.\n" +
			"For an environment with checks it checks that the credentials may run them: get\n" +
			"pods/proxy (HTTP checks), create pods/portforward (task checks' SLIPWAY_URL), and\n" +
			"create, get and delete jobs.batch and get pods/log (Job checks).\n" +
			"Exits 1 when a check fails.",
		Flags: clusterFlags(),
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			rep, err := r.Doctor(c.ctx, a[0], flow.DoctorOptions{Options: c.options(), Cluster: c.clusterOptions()})
			if err != nil {
				return err
			}
			if c.json {
				if err := c.printJSON(rep); err != nil {
					return err
				}
			} else {
				c.checks(rep)
			}
			if rep.Failed() {
				return errDoctor
			}
			return nil
		}),
	}
}

// checks prints each check of rep on a line, with its hint when it did
// not pass.
func (c *command) checks(rep flow.DoctorReport) {
	for _, ch := range rep.Checks {
		msg := fmt.Sprintf("%s: %s", ch.Name, ch.Detail)
		switch ch.Status {
		case flow.CheckOK:
			c.ui.Report(progress.Event{Kind: progress.Finish, Step: "doctor", Msg: msg})
		case flow.CheckWarn:
			c.ui.Report(progress.Event{Kind: progress.Warn, Step: "doctor", Msg: msg})
		default:
			c.ui.Failure(fmt.Sprintf("%-8s %s", "doctor", msg))
		}
		if ch.Hint != "" && ch.Status != flow.CheckOK {
			c.ui.Hint("         " + ch.Hint)
		}
	}
}

// errDoctor is a failed check, already reported check by check.
var errDoctor = errors.New("a check failed")
