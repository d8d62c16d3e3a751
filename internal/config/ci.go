package config

import (
	"path"
	"strings"
)

// CI is ci.yaml: the project's pipeline, from which CI jobs are generated.
type CI struct {
	APIVersion  string            `yaml:"apiVersion" required:"true" doc:"configuration version; must be slipway/v1"`
	Agent       Agent             `yaml:"agent" doc:"where CI runs the steps"`
	Triggers    Triggers          `yaml:"triggers" doc:"what starts the pipeline"`
	Credentials map[string]string `yaml:"credentials" doc:"CI credential IDs by purpose (e.g. registry-dev: jenkins-id); IDs only, never values; purposes are words of letters, digits, - and _"`
	Env         map[string]string `yaml:"env" doc:"environment variables for every step: POSIX names; each value reaches the step as written, never expanded by the CI system"`
	Tasks       Tasks             `yaml:"tasks" doc:"generic task names mapped to the commands the team owns"`
	Pipeline    []Step            `yaml:"pipeline" doc:"ordered steps"`
	Modules     []string          `yaml:"modules" doc:"monorepo: sub-directories (letters, digits, ., _, - and /) with their own slipway.yaml and ci.yaml"`

	// Dir is the directory ci.yaml was loaded from.
	Dir string `yaml:"-"`
	// Source locates fields of the loaded file for later, position-aware errors.
	Source *Source `yaml:"-"`
}

// Agent is the CI executor.
type Agent struct {
	Image   string `yaml:"image" doc:"container image the steps run in: an image reference, never with credentials"`
	Label   string `yaml:"label" doc:"agent label (Jenkins) or runner tag (GitLab): letters, digits, _ . : / - and spaces, with &&, ||, !, -> and parentheses"`
	Slipway string `yaml:"slipway" doc:"command that runs Slipway on the agent, one line (default slipway)"`
	// SlipwayImage names where the team keeps Slipway's own image.
	SlipwayImage string `yaml:"slipwayImage" doc:"repository of Slipway's own image (make image builds it), without a tag: GitHub runs push, promote and deploy steps in it, tagged with the version of the Slipway that generates the workflow; see docs/ci/README.md"`
}

// Triggers say what starts the pipeline.
type Triggers struct {
	Branches     []string `yaml:"branches" doc:"branch names or globs: letters, digits, ., _, - and /, with * within a segment and ** across them (default main)"`
	Tags         bool     `yaml:"tags" doc:"run on tags"`
	PullRequests bool     `yaml:"pullRequests" doc:"run on pull requests"`
}

// Task is a team-owned command behind a generic name.
type Task struct {
	Run string            `yaml:"run" required:"true" doc:"shell command"`
	Env map[string]string `yaml:"env" doc:"environment variables"`
	Dir string            `yaml:"dir" doc:"directory to run in, relative to the project"`
	// Name is the key under tasks.
	Name string `yaml:"-"`
}

// Tasks are the tasks of ci.yaml in file order; a string is shorthand for {run: ...}.
type Tasks []Task

// Get returns the task with that name.
func (ts Tasks) Get(name string) (Task, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return Task{}, false
}

// Names lists the task names in file order.
func (ts Tasks) Names() []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

// Maker returns the name of the task that most likely makes from, a
// layer source (relative to the project), for a missing source's next
// step: of the tasks the pipeline runs before its first build step (all
// the pipeline's tasks when it has no build step, every task when it runs
// none), the first whose command names from's top directory, else the
// first of them; "" when there is no task.
func (c *CI) Maker(from string) string {
	var before []string
	var walk func([]Step) bool
	walk = func(steps []Step) bool {
		for _, s := range steps {
			switch {
			case s.Kind == StepBuild:
				return true
			case s.Kind == StepTask:
				before = append(before, s.Task)
			case walk(s.Parallel):
				return true
			}
		}
		return false
	}
	walk(c.Pipeline)
	if len(before) == 0 {
		before = c.Tasks.Names()
	}
	top, _, _ := strings.Cut(strings.TrimPrefix(path.Clean(from), "./"), "/")
	for _, name := range before {
		if t, ok := c.Tasks.Get(name); ok && top != "." && strings.Contains(t.Run, top) {
			return name
		}
	}
	if len(before) == 0 {
		return ""
	}
	return before[0]
}

// StepKind names what a pipeline step does.
type StepKind string

// The kinds of pipeline step.
const (
	StepTask     StepKind = "task"
	StepRelease  StepKind = "release"
	StepBuild    StepKind = "build"
	StepPush     StepKind = "push"
	StepDeploy   StepKind = "deploy"
	StepPromote  StepKind = "promote"
	StepParallel StepKind = "parallel"
)

// Step is one pipeline step. Written as a bare word (a task name, release or
// build) or a mapping with exactly one of task, release, build, push, deploy,
// promote or parallel, plus options.
type Step struct {
	Kind     StepKind          `yaml:"-"`
	Task     string            `yaml:"task" doc:"run a task from tasks"`
	Release  bool              `yaml:"release" doc:"tag the next version"`
	Build    bool              `yaml:"build" doc:"build the image"`
	Push     string            `yaml:"push" doc:"push the image to this environment's registry"`
	Deploy   string            `yaml:"deploy" doc:"deploy to this environment"`
	Promote  *Promotion        `yaml:"promote" doc:"copy the image between registries"`
	Parallel []Step            `yaml:"parallel" doc:"steps run at the same time"`
	Name     string            `yaml:"name" doc:"display name, one line (default from the step)"`
	Approve  bool              `yaml:"approve" doc:"wait for a person to approve before this step"`
	When     *When             `yaml:"when" doc:"run only when this matches"`
	Env      map[string]string `yaml:"env" doc:"environment variables for this step"`
	WaitLock *Duration         `yaml:"waitLock" doc:"deploy steps: how long to wait for another deploy or rollback of the environment to release its lock (default 5m, so a job re-run after a cancelled one waits for its lock to expire; 0s fails at once)"`

	// Line and Column locate the step in ci.yaml.
	Line, Column int `yaml:"-"`
}

// Promotion names the two sides of a promote step.
type Promotion struct {
	From string `yaml:"from" required:"true" doc:"source registry or environment"`
	To   string `yaml:"to" required:"true" doc:"target registry or environment"`
}

// When restricts a step.
type When struct {
	Branch []string `yaml:"branch" doc:"branch names, or prefixes ending in *, the step runs on"`
	Tag    bool     `yaml:"tag" doc:"run only for tags"`
}

// Args is the slipway command line, after the program's name, that runs
// the step: ci TASK, release, build, push ENV, deploy ENV or promote FROM
// TO; nil for a parallel group. The one place a step becomes a command
// line: generated CI jobs and the task graph both start from it, and add
// their own flags.
func (s Step) Args() []string {
	switch s.Kind {
	case StepTask:
		return []string{"ci", s.Task}
	case StepRelease, StepBuild:
		return []string{string(s.Kind)}
	case StepPush:
		return []string{"push", s.Push}
	case StepDeploy:
		return []string{"deploy", s.Deploy}
	case StepPromote:
		if s.Promote != nil {
			return []string{"promote", s.Promote.From, s.Promote.To}
		}
	}
	return nil
}

// Target returns the step's argument: task, environment or "from->to".
func (s Step) Target() string {
	switch s.Kind {
	case StepTask:
		return s.Task
	case StepPush:
		return s.Push
	case StepDeploy:
		return s.Deploy
	case StepPromote:
		if s.Promote != nil {
			return s.Promote.From + "->" + s.Promote.To
		}
	}
	return ""
}
