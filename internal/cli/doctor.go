package cli

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/deploy"
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
			"Exits 1 when a check fails.",
		Flags: clusterFlags(),
		Action: action(func(e *env) error {
			a, p, err := e.projectArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			rep, err := runner(p).Doctor(e.ctx, a[0], flow.DoctorOptions{Options: e.shipOptions(), Cluster: e.clusterOptions()})
			if err != nil {
				return err
			}
			if e.json {
				if err := e.printJSON(rep); err != nil {
					return err
				}
			} else {
				for _, c := range rep.Checks {
					msg := fmt.Sprintf("%s: %s", c.Name, c.Detail)
					switch c.Status {
					case deploy.CheckOK:
						e.ui.Report(progress.Event{Kind: progress.Finish, Step: "doctor", Msg: msg})
					case deploy.CheckWarn:
						e.ui.Report(progress.Event{Kind: progress.Warn, Step: "doctor", Msg: msg})
					default:
						e.ui.Failure(fmt.Sprintf("%-8s %s", "doctor", msg))
					}
					if c.Hint != "" && c.Status != deploy.CheckOK {
						e.ui.Hint("         " + c.Hint)
					}
				}
			}
			if rep.Failed() {
				return errDoctor
			}
			return nil
		}),
	}
}

// errDoctor is a failed check, already reported check by check.
var errDoctor = errors.New("a check failed")
