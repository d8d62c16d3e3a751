package flow

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
)

// TestSteps names each kind of step and the command that runs it alone.
func TestSteps(t *testing.T) {
	tests := []struct {
		step          Step
		name, command string
	}{
		{Step{Kind: KindBuild}, "buildImage", "slipway build"},
		{Step{Kind: KindPush, Env: "dev"}, "pushImageToDev", "slipway push dev --no-deps"},
		{Step{Kind: KindPromote, From: "dev", To: "rc"}, "promoteFromDevToRc", "slipway promote dev rc --no-deps"},
		{Step{Kind: KindDeploy, Env: "show-case"}, "deployToShowCase", "slipway deploy show-case --no-deps"},
		{Step{Kind: KindDeploy, Env: "eu_west.prod"}, "deployToEuWestProd", "slipway deploy eu_west.prod --no-deps"},
	}
	for _, tt := range tests {
		if got := tt.step.Name(); got != tt.name {
			t.Errorf("Name(%+v) = %s, want %s", tt.step, got, tt.name)
		}
		if got := tt.step.Command(); got != tt.command {
			t.Errorf("Command(%+v) = %s, want %s", tt.step, got, tt.command)
		}
	}
}

// TestTasksAndNeeds lists the graph project's tasks, what each needs, and
// finds them by name in any case.
func TestTasksAndNeeds(t *testing.T) {
	p, err := config.ParseProject("slipway.yaml", []byte(graphProject))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(Tasks(p)), "buildImage pushImageToDev promoteFromDevToRc deployToDev deployToShowcase deployToCanary deployToProd"; got != want {
		t.Errorf("Tasks = %s, want %s", got, want)
	}
	needs := map[string]string{
		"buildImage": "", "pushImageToDev": "buildImage", "promoteFromDevToRc": "pushImageToDev",
		"deployToDev": "pushImageToDev", "deployToShowcase": "promoteFromDevToRc", "deployToProd": "promoteFromDevToRc",
	}
	for task, want := range needs {
		s, err := ParseTask(p, strings.ToLower(task))
		if err != nil {
			t.Fatalf("ParseTask(%s) = %v", task, err)
		}
		if got := names(Needs(p, s)); got != want {
			t.Errorf("Needs(%s) = %q, want %q", task, got, want)
		}
	}
	if got := Needs(p, Step{Kind: KindDeploy, Env: "nowhere"}); got != nil {
		t.Errorf("Needs of an unknown environment = %v", got)
	}
	_, err = ParseTask(p, "deployToMars")
	var ne *config.NameError
	if !errors.As(err, &ne) || ne.Kind != "task" || !slices.Contains(ne.Valid, "deployToProd") {
		t.Errorf("ParseTask(deployToMars) = %v, want a NameError listing the tasks", err)
	}
}

// TestTaskCommand runs a ci.yaml task as CI would: sh -c in its directory,
// ci.yaml's env and then the task's over the environment.
func TestTaskCommand(t *testing.T) {
	dir := t.TempDir()
	c := &config.CI{Dir: dir, Env: map[string]string{"B": "1", "A": "2"}, Tasks: config.Tasks{
		{Name: "ciBuild", Run: "go build ./...", Dir: "sub", Env: map[string]string{"A": "3"}},
	}}
	cmd, err := TaskCommand(context.Background(), c, "ciBuild")
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Args; !slices.Equal(got, []string{"sh", "-c", "go build ./..."}) {
		t.Errorf("args = %q", got)
	}
	if cmd.Dir != filepath.Join(dir, "sub") {
		t.Errorf("dir = %s", cmd.Dir)
	}
	if got, want := cmd.Env[len(cmd.Env)-4:], []string{"SLIPWAY_TASK=ciBuild", "A=2", "B=1", "A=3"}; !slices.Equal(got, want) {
		t.Errorf("env ends %q, want %q: sorted, the task's last", got, want)
	}
	_, err = TaskCommand(context.Background(), c, "ciTest")
	var ne *config.NameError
	if !errors.As(err, &ne) || ne.Hint != "tasks are defined in "+config.CIFile {
		t.Errorf("TaskCommand(ciTest) = %v, want a NameError", err)
	}
	te := &TaskError{Task: "ciBuild", Code: 2}
	if te.ExitCode() != 2 || te.Error() != "running task ciBuild: exit status 2" {
		t.Errorf("TaskError = %q, %d", te, te.ExitCode())
	}
}
