package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/ui"
)

// Stdio is where a run reads and writes.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

func init() {
	// -v is --verbose here; --version prints Slipway's own version.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print Slipway's version and exit"}
}

// Main runs the slipway command line with args (args[0] is the program name)
// and returns the process exit code.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	app := newApp(stdio)
	notFound := false
	app.CommandNotFound = func(c *cli.Context, name string) {
		notFound = true
		fmt.Fprintf(stdio.Err, "slipway: unknown command %q; run `slipway help` for the list\n", name)
	}
	err := app.RunContext(ctx, intersperse(app, routeTasks(app, args)))
	if notFound {
		return ExitUsage
	}
	if err == nil {
		return ExitOK
	}
	return report(stdio, args, err)
}

func newApp(stdio Stdio) *cli.App {
	app := &cli.App{
		Name:                 "slipway",
		Usage:                "ship containers to Kubernetes: release, build, push, promote, deploy",
		Version:              buildVersion(),
		Reader:               stdio.In,
		Writer:               stdio.Out,
		ErrWriter:            stdio.Err,
		Flags:                globalFlags(),
		EnableBashCompletion: true,
		HideHelpCommand:      false,
		Suggest:              true,
		// Errors are reported and mapped to exit codes by Main, never by
		// os.Exit inside the library.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Commands: []*cli.Command{
			initCommand(),
			configCommand(),
			schemaCommand(),
			versionCommand(),
			releaseCommand(),
			buildCommand(),
			pushCommand(),
			promoteCommand(),
			keysCommand(),
			deployCommand(),
			statusCommand(),
			serveCommand(),
			historyCommand(),
			rollbackCommand(),
			doctorCommand(),
			gitOpsCommand(),
			ciCommand(),
			pipelineCommand(),
			tasksCommand(),
			runCommand(),
			exitCodesCommand(),
		},
	}
	for _, c := range app.Commands {
		c.Flags = append(c.Flags, globalFlags()...)
		c.OnUsageError = app.OnUsageError
		for _, sub := range c.Subcommands {
			sub.Flags = append(sub.Flags, globalFlags()...)
			sub.OnUsageError = app.OnUsageError
		}
	}
	return app
}

// usageError is a mistake in how slipway was called.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// usagef returns a usage error.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globalFlags are accepted before or after the command.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dir", Aliases: []string{"C"}, Usage: "run as if started in `DIR`"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "result format: text or json", Value: "text"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "say more about each step"},
		&cli.BoolFlag{Name: "no-color", Usage: "no colour or progress bars (as does NO_COLOR)", EnvVars: []string{"NO_COLOR"}},
		&cli.StringFlag{Name: "network-timeout",
			Usage: "bound each registry and cluster request (or set SLIPWAY_NETWORK_TIMEOUT): one `DURATION` for every wait, or KEY=DURATION pairs of connect, tls, headers, idle (a body that stops moving), document (the whole of a manifest, tag list or token) and retries; default connect=10s,tls=10s,headers=30s,idle=1m,document=30s,retries=2m"},
	}
}

// command is what a command's action gets: its flags and arguments, the
// project's directory, how to print, and the context its work runs in
// (with --network-timeout).
type command struct {
	flags *cli.Context
	dir   string
	json  bool
	ui    *ui.UI
	ctx   context.Context
}

// lookup returns the value of a global flag, set after the command or
// before it.
func lookup[T any](c *cli.Context, name string, get func(*cli.Context, string) T) T {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return get(cc, name)
		}
	}
	return get(c, name)
}

func newCommand(c *cli.Context) (*command, error) {
	dir := lookup(c, "dir", (*cli.Context).String)
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving -C %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, usagef("-C %s: not a directory", dir)
	}
	out := lookup(c, "output", (*cli.Context).String)
	if out != "text" && out != "json" {
		return nil, usagef("-o %s: valid formats are text and json", out)
	}
	// The registry and cluster clients read SLIPWAY_NETWORK_TIMEOUT
	// themselves; the flag wins over it through the context.
	if _, err := deadline.FromEnv(); err != nil {
		return nil, usageError{err}
	}
	ctx := c.Context
	if v := lookup(c, "network-timeout", (*cli.Context).String); v != "" {
		t, err := deadline.Parse(v)
		if err != nil {
			return nil, usagef("--network-timeout: %w", err)
		}
		ctx = deadline.WithContext(ctx, t)
	}
	u := ui.New(c.App.Writer, c.App.ErrWriter, ui.Options{
		NoColor: lookup(c, "no-color", (*cli.Context).Bool),
		Verbose: lookup(c, "verbose", (*cli.Context).Bool),
	})
	return &command{flags: c, dir: abs, json: out == "json", ui: u, ctx: ctx}, nil
}

// action adapts a command body to urfave/cli.
func action(run func(c *command) error) cli.ActionFunc {
	return func(cc *cli.Context) error {
		c, err := newCommand(cc)
		if err != nil {
			return err
		}
		err = run(c)
		c.ui.Done()
		return err
	}
}

// project loads slipway.yaml from the project directory.
func (c *command) project() (*config.Project, error) { return config.LoadProject(c.dir) }

// projectArgs checks the positional arguments and loads slipway.yaml.
func (c *command) projectArgs(min, max int, usage string) ([]string, *config.Project, error) {
	a, err := c.args(min, max, usage)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.project()
	return a, p, err
}

// runnerArgs checks the positional arguments and returns the flow's
// runner for the project.
func (c *command) runnerArgs(min, max int, usage string) ([]string, *flow.Runner, error) {
	a, p, err := c.projectArgs(min, max, usage)
	if err != nil {
		return nil, nil, err
	}
	return a, runner(p), nil
}

// args checks the number of positional arguments.
func (c *command) args(min, max int, usage string) ([]string, error) {
	a := c.flags.Args().Slice()
	if len(a) < min || (max >= 0 && len(a) > max) {
		return nil, usagef("usage: slipway %s %s", c.flags.Command.FullName(), usage)
	}
	return a, nil
}

// runner runs the flow's steps for p, with production clients; next steps
// in its reports are worded as the command line words them.
func runner(p *config.Project) *flow.Runner { return flow.NewRunner(p, flow.Factory{Words: words}) }

// options are the options of every step: --jobs and --no-deps where the
// command has them, progress on the terminal.
func (c *command) options() flow.Options {
	return flow.Options{UserAgent: UserAgent(), Jobs: c.flags.Int("jobs"), Progress: c.ui, NoDeps: c.flags.Bool("no-deps"), TaskOutput: c.ui.Err}
}

// maxErrorLines is the most lines of an error's message after its first
// that report prints.
const maxErrorLines = 40

// report prints err on stderr (or as JSON on stdout with -o json) and
// returns its exit code.
func report(stdio Stdio, args []string, err error) int {
	code := exitCode(err)
	err = nextStep(err)
	if wantsJSON(args) {
		writeJSON(stdio.Out, errorJSON(err, code))
		return code
	}
	u := ui.New(stdio.Out, stdio.Err, ui.Options{NoColor: hasFlag(args, "--no-color")})
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			u.Failure(p.Error())
		}
		u.Hint(fmt.Sprintf("%d problem(s); `slipway schema` describes every field", len(ps)))
		return code
	}
	msg := message(err)
	first, rest, _ := strings.Cut(msg, "\n")
	u.Failure(first)
	if rest != "" {
		lines := strings.Split(rest, "\n")
		for _, l := range lines[:min(len(lines), maxErrorLines)] {
			u.Hint(l)
		}
		// An error can quote a peer's whole reply (an HTML error
		// page, say): lines beyond a screenful are counted, not shown.
		if n := len(lines) - maxErrorLines; n > 0 {
			u.Hint(fmt.Sprintf("… %d more lines (-o json has the whole message)", n))
		}
	}
	return code
}

// nextStep is err with a next step when it has none and is an interrupt:
// run the command again. Interrupts that left work under way say what to
// do themselves.
func nextStep(err error) error {
	if _, ok := remedy.Of(err); !ok && errors.Is(err, context.Canceled) {
		return remedy.With(err, remedy.Remedy{Kind: remedy.RunAgain})
	}
	return err
}

// wantsJSON scans the raw arguments for -o json, since a failed parse
// leaves no flags to read.
func wantsJSON(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case (a == "-o" || a == "--output") && i+1 < len(args):
			if args[i+1] == "json" {
				return true
			}
		case a == "-o=json" || a == "--output=json" || a == "-ojson":
			return true
		}
	}
	return false
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == flag {
			return true
		}
	}
	return false
}

// routeTasks turns `slipway deployToDev ...` into `slipway run deployToDev ...`.
func routeTasks(app *cli.App, args []string) []string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if isFlag(a) {
			if takesValue(app.Flags, a) && !strings.Contains(a, "=") {
				i++
			}
			continue
		}
		if findCommand(app.Commands, a) == nil && isTask(a) {
			out := append([]string{}, args[:i]...)
			return append(append(out, "run"), args[i:]...)
		}
		return args
	}
	return args
}
