package pipeline

import (
	"fmt"
	"path"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
	"gopkg.in/yaml.v3"
)

// droneSegment is a run of levels Drone runs as one pipeline: the levels
// before the first approval, then each approved level and those after it,
// up to the next approval, started by promoting a build.
type droneSegment struct {
	name   string
	target string // promotion target, "" for the first segment
	levels []*level
}

// drone writes .drone.yml: for each plan a pipeline started by pushes, tags
// and pull requests, and one more per approval, started by `drone build
// promote` with the approval's target. Drone runs steps in one workspace,
// so files pass from step to step within a pipeline.
func drone(plans []*plan) ([]File, error) {
	first := plans[0]
	var docs []*yaml.Node
	var targets []string
	names := newNamer()
	for _, p := range plans {
		for _, seg := range droneSegments(p) {
			name := names.id(seg.name)
			doc, err := dronePipeline(p, seg, name)
			if err != nil {
				return nil, err
			}
			docs = append(docs, doc)
			if seg.target != "" {
				targets = append(targets, seg.target)
			}
		}
	}
	head := droneHeader(plans, targets)
	b, err := encodeYAML(head, docs...)
	if err != nil {
		return nil, err
	}
	return []File{{Path: path.Join(first.rootDir, ".drone.yml"), Content: b}}, nil
}

// droneHeader is the header comment of .drone.yml for plans, whose
// approvals are the promotion targets: what Drone must provide.
func droneHeader(plans []*plan, targets []string) []string {
	first := plans[0]
	head := header(Drone, &plan{root: first.root, rootDir: first.rootDir, install: first.install, slipway: first.slipway, agent: first.agent})
	var needs, notes []string
	seen := map[string]bool{}
	noGit := false
	for _, p := range plans {
		for _, c := range p.usedCreds() {
			line := "  " + strings.Join(droneSecrets(c), ", ") + ": " + c.what()
			if !seen[line] {
				seen[line] = true
				needs = append(needs, line)
			}
		}
		for _, line := range gitopsNotes(p, Drone) {
			switch {
			case line == "" && len(notes) > 0 && notes[len(notes)-1] == "":
			case line == "" || !seen[line]:
				seen[line] = true
				notes = append(notes, line)
			}
		}
		if _, ok := p.gitCred(); !ok && p.hasRelease() {
			noGit = true
		}
	}
	if len(needs) > 0 {
		head = append(head, "", "Drone secrets it reads (names from ci.yaml credentials; a kubeconfig secret",
			"holds the file's content):")
		head = append(head, needs...)
	}
	if n := len(notes); n > 0 && notes[n-1] == "" {
		notes = notes[:n-1]
	}
	head = append(head, notes...)
	if noGit {
		head = append(head, "", "Without credentials.git in ci.yaml the release step pushes its tag with the",
			"netrc credentials Drone gives each step (DRONE_NETRC_USERNAME and _PASSWORD,",
			"the token of the user who activated the repository): for a public",
			"repository the server needs DRONE_GIT_ALWAYS_AUTH=true to give them.")
	}
	if len(targets) > 0 {
		head = append(head, "", "Approvals: promote a finished build to run the steps after an approval, e.g.",
			fmt.Sprintf("  drone build promote OWNER/REPO BUILD %s", targets[0]),
			"Targets: "+strings.Join(targets, ", "))
	}
	return head
}

func droneSegments(p *plan) []droneSegment {
	segs := []droneSegment{{name: p.name}}
	for _, l := range p.levels {
		if l.approve {
			target := l.gate
			if p.module != "" {
				target = p.module + "/" + l.gate
			}
			segs = append(segs, droneSegment{name: p.name + "-" + l.gate, target: target})
		}
		s := &segs[len(segs)-1]
		s.levels = append(s.levels, l)
	}
	if len(segs[0].levels) == 0 {
		segs = segs[1:]
	}
	return segs
}

// droneSecrets names the Drone secrets a credential reads.
func droneSecrets(c credential) []string {
	if c.kind == credUserPass {
		return []string{c.id + "_username", c.id + "_password"}
	}
	return []string{c.id}
}

// dronePipeline is the pipeline called name that runs the levels of seg,
// after a step that fetches the tags.
func dronePipeline(p *plan, seg droneSegment, name string) (*yaml.Node, error) {
	doc := ymap()
	set(doc, "kind", ystr("pipeline"))
	docker := p.agent.Image != ""
	if docker {
		set(doc, "type", ystr("docker"))
	} else {
		set(doc, "type", ystr("exec"))
	}
	set(doc, "name", ystr(name))
	if !docker {
		set(doc, "platform", set(set(ymap(), "os", ystr("linux")), "arch", ystr("amd64")))
	}
	set(doc, "trigger", droneTrigger(p, seg))
	steps, err := droneSteps(p, seg, docker, &droneEnv{vars: p.env})
	if err != nil {
		return nil, err
	}
	set(doc, "steps", steps)
	return doc, nil
}

// droneTrigger is the trigger of seg's pipeline: the pushes, tags and pull
// requests p runs on for the first segment, else a promotion to seg's
// target.
func droneTrigger(p *plan, seg droneSegment) *yaml.Node {
	trig := ymap()
	if seg.target != "" {
		set(trig, "event", ylist("promote"))
		set(trig, "target", ylist(seg.target))
		return trig
	}
	events := []string{"push"}
	var refs []string
	for _, b := range p.trigger.branches {
		refs = append(refs, "refs/heads/"+b)
	}
	if p.trigger.tags != "" {
		events = append(events, "tag")
		refs = append(refs, "refs/tags/"+p.trigger.tags)
	}
	if p.trigger.pullRequests {
		events = append(events, "pull_request")
		refs = append(refs, "refs/pull/**", "refs/merge-requests/**")
	}
	set(trig, "event", ylist(events...))
	set(trig, "ref", ylist(refs...))
	return trig
}

// droneSteps are the steps of seg's pipeline: the tag fetch, then each
// level's steps, which all get shared. When a level is parallel every step
// depends on those of the level before, the first on the fetch.
func droneSteps(p *plan, seg droneSegment, docker bool, shared *droneEnv) (*yaml.Node, error) {
	graph := false
	for _, l := range seg.levels {
		graph = graph || l.parallel
	}
	fetch := droneFetchName(p)
	steps := yseq()
	fs := ymap()
	set(fs, "name", ystr(fetch))
	if docker {
		set(fs, "image", ystr(p.agent.Image))
	}
	set(fs, "commands", ylist("git fetch --tags --force"))
	steps.Content = append(steps.Content, fs)
	prev := []string{fetch}
	for _, l := range seg.levels {
		var names []string
		for _, st := range l.steps {
			s, err := droneStep(p, l, st, docker, shared)
			if err != nil {
				return nil, err
			}
			if graph {
				deps := make([]string, len(prev))
				for i, d := range prev {
					deps[i] = droneEscape(d)
				}
				set(s, "depends_on", ylist(deps...))
			}
			steps.Content = append(steps.Content, s)
			names = append(names, st.name)
		}
		prev = names
	}
	return steps, nil
}

// droneFetchName is the name of the step that fetches the tags:
// fetch-tags, with a '-' added until no step of p has it.
func droneFetchName(p *plan) string {
	fetch := "fetch-tags"
	for taken := true; taken; {
		taken = false
		for _, st := range p.allSteps() {
			if st.name == fetch {
				fetch, taken = fetch+"-", true
			}
		}
	}
	return fetch
}

func droneStep(p *plan, l *level, st *step, docker bool, shared *droneEnv) (*yaml.Node, error) {
	s := ymap()
	set(s, "name", ystr(droneEscape(st.name)))
	if docker {
		set(s, "image", ystr(p.agent.Image))
	}
	env, commands := droneStepEnv(p, st)
	if env = shared.under(env); env != nil {
		set(s, "environment", env)
	}
	cmds := ylist(append(commands, droneEscape(p.command(st)))...)
	if p.install != nil {
		// Each step may run in a container of its own: each installs.
		cmds.Content = append([]*yaml.Node{yblock(droneEscape(p.install.script()) + "\n")}, cmds.Content...)
	}
	set(s, "commands", cmds)
	switch c := conds(l, st); len(c) {
	case 0:
	case 1:
		var refs []string
		for _, a := range c[0] {
			if a.tag {
				refs = append(refs, "refs/tags/**")
			} else {
				refs = append(refs, "refs/heads/"+a.branch)
			}
		}
		set(s, "when", set(ymap(), "ref", ylist(refs...)))
	default:
		return nil, fmt.Errorf("step %s: Drone cannot combine the when of parallel group %s with the step's own; keep one of them", st.name, l.name)
	}
	return s, nil
}

// droneEnv is the ci.yaml env of one Drone pipeline. Drone has no
// pipeline-level environment, and writing the env into every step made the
// file as large as the env times the steps: the first step writes it under
// an anchor, and the others merge it in by alias.
type droneEnv struct {
	vars []envVar
	node *yaml.Node // the anchored mapping, once written
}

// droneAnchor names the anchor of a pipeline's env.
const droneAnchor = "env"

// under lays own, a step's own variables, over the shared env (YAML's
// merge key lets own override it): own alone when there is no shared env,
// the env alone when own is empty, nil when both are.
func (d *droneEnv) under(own *yaml.Node) *yaml.Node {
	if len(d.vars) == 0 {
		if len(own.Content) == 0 {
			return nil
		}
		return own
	}
	var ref *yaml.Node
	if d.node == nil {
		d.node = yenv(d.vars, droneEscape)
		d.node.Anchor = droneAnchor
		ref = d.node
	} else {
		ref = &yaml.Node{Kind: yaml.AliasNode, Value: droneAnchor, Alias: d.node}
	}
	if len(own.Content) == 0 {
		return ref
	}
	// Untagged, so the encoder writes a plain << that parsers read as
	// the merge key, not a quoted string.
	merge := &yaml.Node{Kind: yaml.ScalarNode, Value: "<<"}
	own.Content = append([]*yaml.Node{merge, ref}, own.Content...)
	return own
}

// droneStepEnv is st's own environment (its variables and credentials)
// and the commands that must run before Slipway to finish it.
func droneStepEnv(p *plan, st *step) (*yaml.Node, []string) {
	env := ymap()
	for _, v := range st.env {
		set(env, v.name, ystr(droneEscape(v.value)))
	}
	var commands []string
	for _, c := range st.creds {
		switch c.kind {
		case credUserPass:
			set(env, c.vars[0], set(ymap(), "from_secret", ystr(c.id+"_username")))
			set(env, c.vars[1], set(ymap(), "from_secret", ystr(c.id+"_password")))
		case credFile:
			set(env, c.vars[0]+"_DATA", set(ymap(), "from_secret", ystr(c.id)))
			v := "$$" + c.vars[0]
			commands = append(commands,
				fmt.Sprintf(`export %s="$$(mktemp)"`, c.vars[0]),
				fmt.Sprintf(`trap 'rm -f "%s"' EXIT`, v),
				fmt.Sprintf(`printf '%%s\n' "%s_DATA" > "%s"`, v, v))
		default:
			set(env, c.vars[0], set(ymap(), "from_secret", ystr(c.id)))
		}
	}
	if _, ok := p.gitCred(); !ok && st.kind == config.StepRelease && !st.setsGitVar() {
		// Slipway's git push reads no .netrc: hand it the clone's
		// credentials, which Drone puts in every step's environment.
		commands = append(commands,
			`export `+gitUsernameVar+`="$${DRONE_NETRC_USERNAME}"`,
			`export `+gitPasswordVar+`="$${DRONE_NETRC_PASSWORD}"`)
	}
	return env, commands
}

// droneEscape doubles '$', which Drone would otherwise substitute itself:
// it expands ${VAR} and $VAR anywhere in .drone.yml before reading it.
func droneEscape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// mergeEnv lays step variables over pipeline ones, sorted by name.
func mergeEnv(base, over []envVar) []envVar {
	m := map[string]string{}
	for _, v := range base {
		m[v.name] = v.value
	}
	for _, v := range over {
		m[v.name] = v.value
	}
	out, _ := envVars("", m)
	return out
}
