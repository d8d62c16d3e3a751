package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

func gitOpsCommand() *cli.Command {
	return &cli.Command{
		Name:        "gitops",
		Usage:       "set up the engine of GitOps environments",
		Subcommands: []*cli.Command{gitOpsBootstrapCommand()},
	}
}

func gitOpsBootstrapCommand() *cli.Command {
	return &cli.Command{
		Name:      "bootstrap",
		Usage:     "print the engine's objects that apply a GitOps environment",
		ArgsUsage: "ENV",
		Description: "Prints, as YAML with comments, the objects of the environment's gitops.engine that\n" +
			"apply its path of its branch: for flux a GitRepository (source.toolkit.fluxcd.io/v1)\n" +
			"and a Kustomization (kustomize.toolkit.fluxcd.io/v1, prune, wait, timeout 5m, no\n" +
			"targetNamespace) in flux-system; for argocd an Application (argoproj.io/v1alpha1,\n" +
			"automated sync with prune and selfHeal) in argocd. They are named after the\n" +
			"environment, or as gitops.object says. No credentials are printed: the comments say\n" +
			"which secret to make. Apply the output with kubectl apply -f, or commit it where the\n" +
			"engine syncs its own objects from. An environment whose engine is none is refused.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "`NAMESPACE` of the objects when gitops.object names none (default flux-system, or argocd)"},
			&cli.StringFlag{Name: "out", Usage: "write to `FILE` of the project instead of stdout"},
		},
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			res, err := r.GitOpsBootstrap(a[0], flow.GitOpsBootstrapOptions{Namespace: c.flags.String("namespace"), Out: c.flags.String("out")})
			switch {
			case err != nil:
				return err
			case c.json:
				return c.printJSON(res)
			case res.File != "":
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "gitops", Msg: "wrote " + res.File})
				return c.ui.Println(res.File)
			}
			return c.ui.Document([]byte(res.YAML))
		}),
	}
}
