package flow

import (
	"strings"
	"unicode"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// StepKind is what a step of the task graph does.
type StepKind string

// Step kinds.
const (
	KindBuild   StepKind = "build"
	KindPush    StepKind = "push"
	KindPromote StepKind = "promote"
	KindDeploy  StepKind = "deploy"
)

// Step is one node of the task graph: a command with its argument.
type Step struct {
	Kind StepKind `json:"kind"`
	// Env is the environment of push and deploy.
	Env string `json:"env,omitempty"`
	// From and To are the registries of promote.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Name is the step's Gradle-style task name: buildImage, pushImageToDev,
// promoteFromDevToRc, deployToShowcase.
func (s Step) Name() string {
	switch s.Kind {
	case KindBuild:
		return "buildImage"
	case KindPush:
		return "pushImageTo" + title(s.Env)
	case KindPromote:
		return "promoteFrom" + title(s.From) + "To" + title(s.To)
	}
	return "deployTo" + title(s.Env)
}

// Command is the slipway command line that runs just this step: the
// step's command line as ci.yaml's step of the same kind writes it (see
// config.Step.Args), with --no-deps but for a build, which needs no step
// before it.
func (s Step) Command() string {
	// The kinds are ci.yaml's; each kind reads only its own operands.
	step := config.Step{Kind: config.StepKind(s.Kind), Push: s.Env, Deploy: s.Env, Promote: &config.Promotion{From: s.From, To: s.To}}
	args := step.Args()
	if s.Kind != KindBuild {
		args = append(args, "--no-deps")
	}
	return "slipway " + strings.Join(args, " ")
}

// title turns "dev" or "show-case" into "Dev" or "ShowCase".
func title(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '-' || r == '_' || r == '.' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
		up = false
	}
	return b.String()
}

// home is the registry images are pushed to: the first one slipway.yaml
// lists. Every other registry gets images by promotion from it.
func home(p *config.Project) string {
	if len(p.Registries) == 0 {
		return ""
	}
	return p.Registries[0].Name
}

// pusher is the environment a push to registry reg goes through: the first
// environment pulling from it.
func pusher(p *config.Project, reg string) string {
	for _, e := range p.Environments {
		if e.Registry == reg {
			return e.Name
		}
	}
	return reg
}

// Needs lists the steps s needs done first: deploy needs the image in its
// environment's registry (pushed there when it is the home registry, else
// promoted from it), push needs a build, promote needs the image in its
// source registry.
func Needs(p *config.Project, s Step) []Step {
	into := func(reg string) []Step {
		if reg == home(p) {
			return []Step{{Kind: KindPush, Env: pusher(p, reg)}}
		}
		return []Step{{Kind: KindPromote, From: home(p), To: reg}}
	}
	switch s.Kind {
	case KindPush:
		return []Step{{Kind: KindBuild}}
	case KindPromote:
		return into(s.From)
	case KindDeploy:
		env, ok := p.Environments.Get(s.Env)
		if !ok {
			return nil
		}
		return into(env.Registry)
	}
	return nil
}

// Plan orders the goals and everything they need, each step once, every
// step after the steps it needs.
func Plan(p *config.Project, goals []Step) []Step {
	var out []Step
	seen := map[Step]bool{}
	var visit func(s Step)
	visit = func(s Step) {
		if seen[s] {
			return
		}
		seen[s] = true
		for _, n := range Needs(p, s) {
			visit(n)
		}
		out = append(out, s)
	}
	for _, g := range goals {
		visit(g)
	}
	return out
}

// Tasks lists every step of the project by its task name, in a useful
// order: build, pushes, promotions, deploys.
func Tasks(p *config.Project) []Step {
	steps := []Step{{Kind: KindBuild}}
	seen := map[Step]bool{}
	add := func(s Step) {
		if !seen[s] {
			seen[s] = true
			steps = append(steps, s)
		}
	}
	add(Step{Kind: KindPush, Env: pusher(p, home(p))})
	for _, e := range p.Environments {
		if e.Registry != home(p) {
			add(Step{Kind: KindPromote, From: home(p), To: e.Registry})
		}
	}
	for _, e := range p.Environments {
		add(Step{Kind: KindDeploy, Env: e.Name})
	}
	return steps
}

// ParseTask finds the step a Gradle-style task name stands for.
func ParseTask(p *config.Project, name string) (Step, error) {
	var names []string
	for _, s := range Tasks(p) {
		if strings.EqualFold(s.Name(), name) {
			return s, nil
		}
		names = append(names, s.Name())
	}
	return Step{}, &config.NameError{Kind: "task", Name: name, Valid: names, Next: remedy.Remedy{Kind: remedy.ListTasks}}
}
