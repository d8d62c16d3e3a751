package config

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

var credentialID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@/-]{0,127}$`)

// reservedTasks are step words a task may not be named after.
var reservedTasks = stepKinds

// Validate checks a decoded ci.yaml; p, when non-nil, is the project whose
// environments and registries the steps may name.
func (c *CI) Validate(p *Project) error {
	v := &validator{src: c.Source}
	if c.APIVersion != APIVersion {
		v.add("apiVersion", "%s", notValid(c.APIVersion, []string{APIVersion}))
	}
	v.tasksAndCredentials(c)
	for i, m := range c.Modules {
		switch {
		case path.IsAbs(m) || strings.HasPrefix(path.Clean(m), ".."):
			v.add(fmt.Sprintf("modules[%d]", i), "%q must be a directory inside the project", m)
		case DirProblem(m) != "":
			v.add(fmt.Sprintf("modules[%d]", i), "%s", DirProblem(m))
		}
	}
	v.agent(c.Agent)
	for i, b := range c.Triggers.Branches {
		if msg := BranchProblem(b); msg != "" {
			v.add(fmt.Sprintf("triggers.branches[%d]", i), "%s", msg)
		}
	}
	v.credentialClashes(c)
	reserved := setBySlipway(c)
	v.envVars("env", c.Env, reserved)
	for _, t := range c.Tasks {
		v.envVars("tasks."+t.Name+".env", t.Env, reserved)
	}
	if len(c.Pipeline) == 0 && len(c.Modules) == 0 {
		v.add("pipeline", "the pipeline has no steps; list them, e.g. pipeline: [ciBuild, release, build, {push: dev}, {deploy: dev}]")
	}
	pv := pipelineValidator{validator: v, ci: c, project: p, reserved: reserved, deployed: map[string]bool{}, filled: map[string]bool{}}
	for _, s := range c.Pipeline {
		if s.Kind == StepBuild {
			pv.builds = true
		}
	}
	for i, s := range c.Pipeline {
		pv.step(s, fmt.Sprintf("pipeline[%d]", i), false)
	}
	v.generatedSize(c)
	if p != nil {
		for _, pr := range checkTasks(p, c) {
			v.probs.push(pr)
		}
	}
	return v.probs.orNil()
}

// tasksAndCredentials checks the names and commands of c's tasks and its
// credentials' purposes and IDs.
func (v *validator) tasksAndCredentials(c *CI) {
	for _, t := range c.Tasks {
		at := "tasks." + t.Name
		if !taskName.MatchString(t.Name) {
			v.add(at, "task name %q must start with a letter and hold only letters, digits, '-' and '_'", t.Name)
		}
		if slices.Contains(reservedTasks, t.Name) {
			v.add(at, "%q is a built-in step; name the task something else, e.g. ci%s", t.Name, strings.ToUpper(t.Name[:1])+t.Name[1:])
		}
		if strings.TrimSpace(t.Run) == "" {
			v.add(at, "the task has no command to run")
		}
	}
	for k, id := range c.Credentials {
		if !credentialPurpose.MatchString(k) {
			v.add("credentials."+k, "credential purpose %q must start with a letter and hold only letters, digits, '-' and '_' (e.g. registry-dev, kubeconfig, sonar-token)", k)
		}
		if !credentialID.MatchString(id) {
			v.add("credentials."+k, "this must be the ID of a credential stored in the CI system (letters, digits, '.', '_', '-', '@', '/'), never the secret itself")
		}
	}
}

// generatedSize reports c, at the field adding the most, when the files
// generated from it would hold more than MaxCIOutput.
func (v *validator) generatedSize(c *CI) {
	if o := c.outputSize(); o.total > MaxCIOutput {
		v.add(o.field, "the generated CI files would hold about %s, more than the %s Slipway writes for one ci.yaml: %s (about %s); %s",
			bytesText(int(o.total)), bytesText(MaxCIOutput), o.why, bytesText(int(o.most)), o.fix)
	}
}

// pipelineValidator walks the steps in order, remembering what earlier steps
// did so later ones can be checked against it.
type pipelineValidator struct {
	*validator
	ci       *CI
	project  *Project
	reserved map[string]string // setBySlipway, found once rather than for every step
	builds   bool              // the pipeline builds its image
	deployed map[string]bool   // environments deployed by earlier steps
	filled   map[string]bool   // registries pushed or promoted to by earlier steps
}

func (pv *pipelineValidator) step(s Step, at string, inParallel bool) {
	pv.stepNames(s, at)
	switch s.Kind {
	case StepTask:
		if _, ok := pv.ci.Tasks.Get(s.Task); !ok {
			pv.add(at, "%s; define it under tasks: or use a built-in step (%s)", unknown("task", s.Task, pv.ci.Tasks.Names()), choices(stepKinds[1:6]))
		}
	case StepPush:
		if env, ok := pv.env(s.Push, at+".push"); ok {
			pv.filled[env.Registry] = true
		}
	case StepDeploy:
		env, ok := pv.env(s.Deploy, at+".deploy")
		if !ok {
			break
		}
		if env.Requires != nil && !pv.deployed[env.Requires.Env] {
			pv.add(at+".deploy", "%s requires %s, so deploy %s in an earlier step", env.Name, env.Requires.Env, env.Requires.Env)
		}
		if pv.builds && !pv.filled[env.Registry] {
			pv.add(at+".deploy", "%s pulls from registry %s, but no earlier step pushes or promotes to it; add {push: %s} or {promote: {from: ..., to: %s}} before it", env.Name, env.Registry, env.Name, env.Registry)
		}
		pv.deployed[env.Name] = true
	case StepPromote:
		if s.Promote == nil {
			break
		}
		pv.side(s.Promote.From, at+".promote.from")
		to := pv.side(s.Promote.To, at+".promote.to")
		if s.Promote.From == s.Promote.To {
			pv.add(at+".promote", "from and to are the same (%s)", s.Promote.From)
		}
		pv.filled[to] = true
	case StepParallel:
		if inParallel {
			pv.add(at, "parallel groups cannot nest")
		}
		if len(s.Parallel) < 2 {
			pv.add(at+".parallel", "a parallel group needs two or more steps")
		}
		for i, sub := range s.Parallel {
			pv.step(sub, fmt.Sprintf("%s.parallel[%d]", at, i), true)
		}
	}
	if s.Approve && inParallel {
		pv.add(at+".approve", "approve the whole parallel group, not a step inside it")
	}
	if s.When != nil && len(s.When.Branch) == 0 && !s.When.Tag {
		pv.add(at+".when", "when needs branch: [...] or tag: true")
	}
	if s.WaitLock != nil && s.Kind != StepDeploy {
		pv.add(at+".waitLock", "only a deploy step takes the deploy lock; write waitLock on the deploy steps")
	}
}

// env resolves an environment name, reporting it when unknown.
func (pv *pipelineValidator) env(name, at string) (Environment, bool) {
	if pv.project == nil {
		return Environment{Name: name}, false
	}
	env, err := pv.project.Environment(name)
	if err != nil {
		pv.add(at, "%v", err)
		return env, false
	}
	return env, true
}

// side resolves a promotion side (a registry or an environment name) to a
// registry name.
func (pv *pipelineValidator) side(name, at string) string {
	if pv.project == nil {
		return name
	}
	r, err := pv.project.ResolveRegistry(name)
	if err != nil {
		pv.add(at, "%v", err)
		return name
	}
	return r.Name
}

// agent checks what ci.yaml says about the CI executor: its image is an
// image reference without credentials, its label a label expression, and
// the command that runs Slipway one line.
func (v *validator) agent(a Agent) {
	switch im := a.Image; {
	case im == "":
	case URLCredentials(im):
		v.add("agent.image", "the image must not hold credentials; store them in the CI system (ci.yaml credentials: registry-NAME)")
	case strings.Contains(im, "://"):
		v.add("agent.image", "write the image %q without a scheme, e.g. registry.example.com/ci/slipway:1.4", clipName(im))
	case !imageRef.MatchString(im):
		v.add("agent.image", "%q is not an image reference; write e.g. golang:1.26 or registry.example.com/ci/slipway:1.4", clipName(im))
	}
	switch im := a.SlipwayImage; {
	case im == "":
	case URLCredentials(im):
		v.add("agent.slipwayImage", "the repository must not hold credentials")
	case !imageRepository.MatchString(im):
		v.add("agent.slipwayImage", "%q is not an image repository without a tag; write e.g. registry.example.com/ci/slipway (generated files add the Slipway version as its tag)", clipName(im))
	}
	if a.Label != "" && !agentLabel.MatchString(a.Label) {
		v.add("agent.label", "%q is not an agent label; use letters, digits, '_', '.', ':', '/', '-', spaces and the label operators &&, ||, !, -> and parentheses", clipName(a.Label))
	}
	if v.src.Has("agent.slipway") {
		switch {
		case strings.TrimSpace(a.Slipway) == "":
			v.add("agent.slipway", "the command that runs Slipway is empty; leave agent.slipway out to run slipway from PATH")
		case lineProblem(a.Slipway) != "":
			v.add("agent.slipway", "the command that runs Slipway %s", lineProblem(a.Slipway))
		}
	}
}

// envVars checks the names of environment variables (POSIX names) and that the
// values can be in an environment at all.
func (v *validator) envVars(at string, env map[string]string, reserved map[string]string) {
	for k, val := range env {
		if !envVarName.MatchString(k) {
			v.add(at+"."+k, "environment variable name %q must start with a letter or '_' and hold only letters, digits and '_'", clipName(k))
		}
		if why, ok := reserved[k]; ok {
			v.add(at+"."+k, "Slipway sets %s in generated CI (%s); name the variable something else", k, why)
		}
		switch {
		case strings.ContainsRune(val, 0):
			v.add(at+"."+k, "an environment variable cannot hold a NUL character")
		case strings.ContainsRune(val, '\ufeff'):
			// yaml.v3 escapes every character of a string that starts
			// with one, which hides '$' from Drone's substitution.
			v.add(at+"."+k, "the value holds a byte-order mark (U+FEFF), which YAML tools mishandle; remove it")
		}
	}
}

// stepNames checks the names a step passes to generated CI files: its
// display name, branch conditions, environment variables and, without a
// project to resolve them against, the environments and registries it names.
func (pv *pipelineValidator) stepNames(s Step, at string) {
	if pv.src.Has(at + ".name") {
		switch {
		case strings.TrimSpace(s.Name) == "":
			pv.add(at+".name", "the display name is empty; leave name out to use the step's own")
		case len([]rune(s.Name)) > maxDisplayName:
			pv.add(at+".name", "the display name is longer than %d characters", maxDisplayName)
		case lineProblem(s.Name) != "":
			pv.add(at+".name", "the display name %s", lineProblem(s.Name))
		}
	}
	if s.When != nil {
		for i, b := range s.When.Branch {
			at := fmt.Sprintf("%s.when.branch[%d]", at, i)
			if msg := BranchProblem(b); msg != "" {
				pv.add(at, "%s", msg)
			} else if strings.Contains(strings.TrimRight(b, "*"), "*") {
				pv.add(at, "%q: a step's when can name a branch or a prefix ending in *, as GitHub Actions conditions test no other patterns (e.g. release/*)", b)
			}
		}
	}
	pv.envVars(at+".env", s.Env, pv.reserved)
	if pv.project != nil {
		return
	}
	named := map[string]string{"push": s.Push, "deploy": s.Deploy}
	if s.Promote != nil {
		named["promote.from"], named["promote.to"] = s.Promote.From, s.Promote.To
	}
	for field, name := range named {
		if name != "" && !dnsLabel.MatchString(name) {
			pv.add(at+"."+field, "%q must name an environment or registry (a DNS label: lower-case letters, digits, '-')", clipName(name))
		}
	}
}

// clipName shortens a refused value for a message, so a hostile one cannot
// flood the terminal.
func clipName(s string) string {
	const most = 64
	if r := []rune(s); len(r) > most {
		return string(r[:most]) + "..."
	}
	return s
}

// setBySlipway names the environment variables generated CI sets itself,
// each with the reason: the variables credentials fill, and GIT_DEPTH.
func setBySlipway(c *CI) map[string]string {
	out := map[string]string{"GIT_DEPTH": "so GitLab fetches the tags release needs"}
	for purpose := range c.Credentials {
		for _, v := range credentialVars(purpose) {
			out[v] = "from credentials." + purpose
		}
	}
	return out
}

// credentialVars names the variables the credential for purpose fills, as
// generated CI names them.
func credentialVars(purpose string) []string {
	switch {
	case purpose == "kubeconfig":
		return []string{"KUBECONFIG", "KUBECONFIG_DATA"}
	case strings.HasPrefix(purpose, "registry-") && len(purpose) > len("registry-"):
		user, pass := RegistryEnvVars(strings.TrimPrefix(purpose, "registry-"))
		return []string{user, pass}
	}
	return []string{EnvName(purpose)}
}

// credentialClashes reports credentials that would fill the same variable
// (sonar-token and sonar_token both fill SONAR_TOKEN), or GIT_DEPTH.
func (v *validator) credentialClashes(c *CI) {
	purposes := make([]string, 0, len(c.Credentials))
	for p := range c.Credentials {
		purposes = append(purposes, p)
	}
	// Kubeconfig and registry credentials first, so a clash is reported
	// on the other purpose.
	builtin := func(p string) bool { return p == "kubeconfig" || strings.HasPrefix(p, "registry-") }
	slices.SortFunc(purposes, func(a, b string) int {
		if ba, bb := builtin(a), builtin(b); ba != bb {
			if ba {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	seen := map[string]string{"GIT_DEPTH": "GitLab's GIT_DEPTH"}
	for _, p := range purposes {
		for _, name := range credentialVars(p) {
			if other, ok := seen[name]; ok {
				v.add("credentials."+p, "this credential fills %s, as %s does; name the purpose something else", name, other)
				continue
			}
			seen[name] = "credentials." + p
		}
	}
}

// MaxCIOutput is the most generated CI one ci.yaml may make, as
// OutputEstimate counts it. Generated files repeat values (a task's env in
// every step that runs it, credentials in every step, a parallel group's
// names in what each step of the next one waits for), so a ci.yaml inside
// every input limit, aliases included, once made a 600 MB .drone.yml, and
// pipeline check needed gigabytes to compare it. Real pipelines make tens of
// KiB.
const MaxCIOutput = 4 << 20

// What OutputEstimate counts besides the values' own bytes: a step's keys,
// command and install script; the keys, quotes and indent around a
// variable, a credential or a name in a list of what a step waits for; and
// how often a step's names are written (display name, id, command, stage).
const (
	stepCost    = 1 << 10
	varCost     = 16
	credCost    = 64
	depCost     = 16
	nameRepeats = 4
)

// OutputEstimate is how many bytes, before escaping, the files generated
// from c take for any target, at most: found from the sizes of its values
// alone, so it costs nothing however much the values repeat. ci.yaml env
// counts once for each part of the pipeline an approval starts (Drone
// writes each part as a pipeline of its own); what a step gets counts once
// for each step.
func (c *CI) OutputEstimate() int64 { return c.outputSize().total }

// outputSize is OutputEstimate, with the part of ci.yaml that adds the most.
type outputSize struct {
	total    int64
	most     int64  // what field adds
	field    string // the field adding the most
	why, fix string // how it adds that much, and what to do about it
}

// add counts n bytes that field adds.
func (o *outputSize) add(n int64, field, why, fix string) {
	o.total += n
	o.note(n, field, why, fix)
}

// note remembers field as adding the most when its n bytes are the most yet.
func (o *outputSize) note(n int64, field, why, fix string) {
	if n > o.most {
		o.most, o.field, o.why, o.fix = n, field, why, fix
	}
}

// outputSize walks the pipeline once. No product overflows: the decoder
// expands at most 200,000 values, so each sum of sizes is below 2^36 and
// each count below 2^18.
func (c *CI) outputSize() outputSize {
	var o outputSize
	uses := map[string]int64{}
	var steps, approvals, prevNames, all, biggest int64
	at := 0
	for i, s := range c.Pipeline {
		group, groupEnv, groupWhen := []Step{s}, int64(0), int64(0)
		if s.Kind == StepParallel {
			group, groupEnv, groupWhen = s.Parallel, envSize(s.Env), whenSize(s.When)
		}
		if s.Approve {
			approvals++
		}
		var own, names int64
		for _, sub := range group {
			if sub.Kind == StepTask {
				uses[sub.Task]++
			}
			n := nameSize(sub)
			names += n + depCost
			own += stepCost + nameRepeats*n + envSize(sub.Env) + groupEnv + whenSize(sub.When) + groupWhen + prevNames
		}
		steps += int64(len(group))
		prevNames = names
		all += own
		if own > biggest {
			biggest, at = own, i
		}
	}
	o.total += all
	if biggest*2 > all {
		o.note(biggest, fmt.Sprintf("pipeline[%d]", at), "this entry's steps carry their names, their env and the names of the steps each waits for",
			"shorten the names and env, or split the parallel group")
	} else {
		o.note(all, "pipeline", fmt.Sprintf("each of the %d steps adds its keys, command and names", steps), "use fewer steps")
	}
	o.add(envSize(c.Env)*(1+approvals), "env", fmt.Sprintf("ci.yaml env is written once, and again after each of the %d approvals for Drone", approvals),
		"keep large values in a file the tasks read")
	for _, t := range c.Tasks {
		if n := uses[t.Name]; n > 0 {
			o.add(envSize(t.Env)*n, "tasks."+t.Name+".env", fmt.Sprintf("the task's env is written into each of the %d steps that run it", n),
				"keep large values in a file the task reads, or run it in fewer steps")
		}
	}
	var creds int64
	for purpose, id := range c.Credentials {
		creds += 2*int64(len(purpose)+len(id)) + credCost
	}
	o.add(creds*steps, "credentials", fmt.Sprintf("each of the %d steps may name every credential", steps), "use fewer credentials or fewer steps")
	a := c.Agent
	agent := int64(len(a.Image) + len(a.Label) + len(a.Slipway) + len(a.SlipwayImage))
	o.add(agent*steps, "agent", fmt.Sprintf("each of the %d steps names the agent", steps), "shorten the agent's fields")
	return o
}

// envSize is what env adds to each place it is written.
func envSize(env map[string]string) int64 {
	var n int64
	for k, v := range env {
		n += int64(len(k)+len(v)) + varCost
	}
	return n
}

// whenSize is what a step's condition adds to it.
func whenSize(w *When) int64 {
	if w == nil {
		return 0
	}
	n := int64(varCost)
	for _, b := range w.Branch {
		n += int64(len(b)) + varCost
	}
	return n
}

// nameSize is how long a step's names are, whichever it is called by: its
// display name, or the task, environments or registries it names, with
// room for words around them and a number that makes the name unique.
func nameSize(s Step) int64 {
	n := len(s.Name) + len(s.Task) + len(s.Push) + len(s.Deploy) + 24
	if s.Promote != nil {
		n += len(s.Promote.From) + len(s.Promote.To)
	}
	return int64(n)
}
