package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/slipwayhq/slipway/internal/config"
)

// TaskCommand returns the command that runs the ci.yaml task called name
// the way a CI job runs it: `sh -c RUN` in the task's directory, with
// ci.yaml's env, then the task's env, over the current environment.
func TaskCommand(ctx context.Context, c *config.CI, name string) (*exec.Cmd, error) {
	t, ok := c.Tasks.Get(name)
	if !ok {
		return nil, &config.NameError{Kind: "task", Name: name, Valid: c.Tasks.Names(), Hint: "tasks are defined in " + config.CIFile}
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", t.Run)
	cmd.Dir = filepath.Join(c.Dir, t.Dir)
	cmd.Env = append(os.Environ(), "SLIPWAY_TASK="+name)
	for _, env := range []map[string]string{c.Env, t.Env} {
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cmd.Env = append(cmd.Env, k+"="+env[k])
		}
	}
	return cmd, nil
}

// TaskError is a task whose command failed; it carries the command's exit
// code so slipway can exit with it.
type TaskError struct {
	Task string
	Code int
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("running task %s: exit status %d", e.Task, e.Code)
}

// ExitCode is the task command's exit code.
func (e *TaskError) ExitCode() int { return e.Code }

// Stdio is where a task reads and writes.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// RunTask runs the ci.yaml task called name of the project as a CI job
// runs it (see TaskCommand), its input and output through stdio as they
// are: the task is the team's own program. A task that exits non-zero
// returns a *TaskError with its exit code.
func RunTask(ctx context.Context, p *config.Project, name string, stdio Stdio) error {
	c, err := config.LoadCI(p.Dir, p)
	if err != nil {
		return err
	}
	cmd, err := TaskCommand(ctx, c, name)
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &TaskError{Task: name, Code: ee.ExitCode()}
	}
	return err
}
