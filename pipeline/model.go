package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
)

// plan is one pipeline to write, independent of the CI system: the project
// (or one module of it) as levels of steps that run one after the other.
type plan struct {
	name    string   // job or pipeline name
	folder  string   // Jenkins folder
	repo    string   // git URL, may be empty
	dir     string   // slipway -C dir; "" for the repository root
	module  string   // module directory, "" for the root project
	root    string   // the root project's name
	rootDir string   // the root project's directory
	slipway string   // the command that runs Slipway
	install *Install // how jobs install Slipway; nil when they need not
	version string   // the generating Slipway's version, without the v; "" when unknown
	image   string   // Slipway's image, tagged with its version, for steps that need nothing else; "" without agent.slipwayImage or a version
	agent   config.Agent
	trigger trigger
	env     []envVar             // ci.yaml env, for every step
	creds   []credential         // every credential, by purpose
	gitops  map[string]gitopsEnv // the GitOps environments, by name
	levels  []*level
}

// trigger says what starts a pipeline.
type trigger struct {
	branches     []string // branch names or globs
	tags         string   // tag glob, "" when tags do not start the pipeline
	pullRequests bool
}

// level is one entry of ci.yaml's pipeline: a step, or a parallel group.
type level struct {
	id       string // unique among levels: a slug of name
	name     string // display name
	approve  bool
	gate     string // what an approval is for: an environment, or the level's id
	when     *config.When
	parallel bool
	steps    []*step // one step, or the steps of a parallel group
}

// step is one slipway command.
type step struct {
	id         string // unique among steps: a slug of name
	name       string // display name, unique among steps
	kind       config.StepKind
	args       []string // slipway arguments
	env        []envVar // the task's env, then the step's
	when       *config.When
	creds      []credential // the credentials this step gets
	deploy     string       // the environment a deploy step deploys to
	registries []string     // the registries a push, deploy or promote uses
}

// sets reports whether st's variables or credentials fill variable v.
func (st *step) sets(v string) bool {
	for _, e := range st.env {
		if e.name == v {
			return true
		}
	}
	for _, c := range st.creds {
		if slices.Contains(c.vars, v) {
			return true
		}
	}
	return false
}

// setsGitVar reports whether st's variables or credentials fill one of the
// variables Slipway's git push reads: then the release step's fallback
// credentials (the CI system's own token) must not replace them.
func (st *step) setsGitVar() bool {
	return st.sets(gitTokenVar) || st.sets(gitUsernameVar) || st.sets(gitPasswordVar)
}

// envVar is one environment variable with a literal value.
type envVar struct{ name, value string }

// credKind is the kind of credential a CI system stores.
type credKind int

const (
	credSecret   credKind = iota // a secret text in one variable
	credUserPass                 // a username and password in two variables
	credFile                     // a file whose path is in one variable
	credGit                      // what the release step pushes its tag with
	credSigning                  // a secret text push steps sign images with
	credVerify                   // a public key deploy steps verify images with
	credGitOps                   // a token deploy steps push to an environment repository with
	credNotify                   // a secret deploy steps tell a notify target the verdict with
)

// gitPurpose is the ci.yaml credentials purpose of the git credential:
// a token (GitHub, GitLab, Drone) or a username and password (Jenkins)
// that may push tags to the repository, which only release steps get.
const gitPurpose = "git"

// The variables Slipway's git push reads (as gitremote.EnvGitToken and
// friends name them; pipeline imports no git library).
const (
	gitTokenVar    = "SLIPWAY_GIT_TOKEN"
	gitUsernameVar = "SLIPWAY_GIT_USERNAME"
	gitPasswordVar = "SLIPWAY_GIT_PASSWORD"
)

// credential is a CI credential and the variables it fills.
type credential struct {
	purpose  string
	id       string // the CI system's credential ID
	kind     credKind
	vars     []string // one variable, or the username and password variables
	registry string   // the registry a username and password are for
	envs     []string // the environments whose deploy steps get a credVerify, credGitOps or credNotify
	promote  bool     // a credSigning goes to promote steps too (signing.promote)
	about    string   // what a credSigning, credVerify, credGitOps or credNotify holds
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// newPlan builds the plan of one project or module; module is the module's
// directory, "" for the root project.
func newPlan(in Input, module string) (*plan, error) {
	ci, proj := in.ci, in.project
	p := &plan{
		name:    in.Name,
		folder:  in.Folder,
		repo:    in.Repo,
		dir:     in.Dir,
		module:  module,
		root:    in.Name,
		rootDir: in.Dir,
		agent:   ci.Agent,
		trigger: planTrigger(ci, proj, in.Branch),
	}
	p.slipway, p.install = slipwayCommand(ci, in.Slipway)
	if in.Slipway != nil {
		p.version = in.Slipway.Version
	}
	var errs []error
	image, err := slipwayImage(ci, in.Slipway)
	errs = append(errs, err)
	p.image = image
	env, err := envVars(ciFile(ci)+": env", ci.Env)
	errs = append(errs, err)
	p.env = env
	p.creds = credentials(ci.Credentials)
	sc, err := signingCreds(proj, p.creds, p.env)
	errs = append(errs, err)
	p.creds = append(p.creds, sc...)
	p.gitops = gitopsEnvs(proj)
	p.creds = append(p.creds, gitopsCreds(proj, p.creds, p.env)...)
	p.creds = append(p.creds, notifyCreds(proj, p.creds, p.env)...)
	n := newNamer()
	for _, s := range ci.Pipeline {
		l, lerrs := newLevel(p, ci, proj, s, n)
		errs = append(errs, lerrs...)
		p.levels = append(p.levels, l)
	}
	return p, errors.Join(errs...)
}

// slipwayCommand is the command that runs Slipway in the steps: agent.slipway
// when given, else the one install (when it has checksums) puts in place,
// which it returns too, else slipway from the PATH.
func slipwayCommand(ci *config.CI, install *Install) (string, *Install) {
	if s := strings.TrimSpace(ci.Agent.Slipway); s != "" {
		return s, nil
	}
	if install != nil && len(install.Checksums) > 0 {
		return install.command(), install
	}
	return "slipway", nil
}

// slipwayImage is agent.slipwayImage tagged with the version install gives,
// "" when either is missing.
func slipwayImage(ci *config.CI, install *Install) (string, error) {
	repo := ci.Agent.SlipwayImage
	switch {
	case repo == "":
		return "", nil
	case !config.IsImageRepository(repo):
		return "", fmt.Errorf("agent.slipwayImage %q is not an image repository without a tag", repo)
	case install != nil:
		return repo + ":" + install.Version, nil
	}
	return "", nil
}

// planTrigger is what starts the pipeline: pushes to the triggers' branches
// (else to branch), tags with the release's prefix when asked for, and pull
// requests when asked for.
func planTrigger(ci *config.CI, proj *config.Project, branch string) trigger {
	t := trigger{branches: ci.Triggers.Branches, pullRequests: ci.Triggers.PullRequests}
	if len(t.branches) == 0 {
		t.branches = []string{branch}
	}
	if ci.Triggers.Tags {
		t.tags = proj.Release.TagPrefix + "*"
	}
	return t
}

// newLevel builds the level of pipeline entry s: a parallel group, or one
// step; n names its steps and it. It returns every problem found.
func newLevel(p *plan, ci *config.CI, proj *config.Project, s config.Step, n *namer) (*level, []error) {
	l := &level{approve: s.Approve, when: s.When}
	if s.Kind != config.StepParallel {
		l.when = nil
		st, err := newStep(p, ci, proj, s, n)
		l.steps = []*step{st}
		l.id, l.name = st.id, st.name
		l.gate = gateOf(s, st)
		return l, []error{err}
	}
	l.parallel = true
	groupEnv, err := envVars(fmt.Sprintf("%s:%d: env", ciFile(ci), s.Line), s.Env)
	errs := []error{err}
	var names []string
	for _, sub := range s.Parallel {
		st, err := newStep(p, ci, proj, sub, n)
		errs = append(errs, err)
		st.env = mergeEnv(groupEnv, st.env)
		l.steps = append(l.steps, st)
		names = append(names, st.name)
	}
	l.name = s.Name
	if l.name == "" {
		l.name = strings.Join(names, " + ")
	}
	l.name = n.name(l.name)
	l.id = n.id(l.name)
	l.gate = l.id
	return l, errs
}

// gateOf names what approving step s is for: the environment it pushes or
// deploys to, the registry or environment it promotes to, else its id.
func gateOf(s config.Step, st *step) string {
	switch s.Kind {
	case config.StepDeploy:
		return s.Deploy
	case config.StepPush:
		return s.Push
	case config.StepPromote:
		if s.Promote != nil {
			return s.Promote.To
		}
	}
	return st.id
}

// newStep builds a step of p from ci.yaml step s. Every step but a task
// and release runs with --no-deps: CI runs each step as a job of its own,
// after the jobs of the steps it needs.
func newStep(p *plan, ci *config.CI, proj *config.Project, s config.Step, n *namer) (*step, error) {
	st := &step{kind: s.Kind, when: s.When, args: s.Args()}
	var name string
	switch s.Kind {
	case config.StepTask:
		name = s.Task
	case config.StepRelease:
		st.args = append(st.args, "--push")
		name = "release"
	case config.StepBuild:
		st.args = append(st.args, "--no-deps")
		name = "build"
	case config.StepPush:
		st.args = append(st.args, "--no-deps")
		name = "push " + s.Push
		st.registries = []string{registryOf(proj, s.Push)}
	case config.StepDeploy:
		st.args = append(st.args, deployFlags(p, s)...)
		name = "deploy " + s.Deploy
		st.deploy = s.Deploy
		st.registries = []string{registryOf(proj, s.Deploy)}
	case config.StepPromote:
		if s.Promote == nil {
			return st, fmt.Errorf("%s:%d: promote needs from and to", ciFile(ci), s.Line)
		}
		st.args = append(st.args, "--no-deps")
		name = "promote " + s.Promote.From + " to " + s.Promote.To
		st.registries = []string{registryOf(proj, s.Promote.From), registryOf(proj, s.Promote.To)}
	default:
		return st, fmt.Errorf("%s:%d: a %s step cannot go here", ciFile(ci), s.Line, s.Kind)
	}
	if s.Name != "" {
		name = s.Name
	}
	st.name = n.name(name)
	st.id = n.id(st.name)
	env := map[string]string{}
	if s.Kind == config.StepTask {
		if t, ok := ci.Tasks.Get(s.Task); ok {
			for k, v := range t.Env {
				env[k] = v
			}
		}
	}
	for k, v := range s.Env {
		env[k] = v
	}
	vars, err := envVars(fmt.Sprintf("%s:%d: env", ciFile(ci), s.Line), env)
	st.env = vars
	for _, c := range p.creds {
		if c.usedBy(st) {
			st.creds = append(st.creds, c)
		}
	}
	return st, err
}

// deployFlags are the flags of deploy step s after its environment:
// --no-deps; --no-wait for a GitOps environment whose engine gives no
// verdict, which a deploy refuses to wait for; and how long to wait for
// the deploy lock.
func deployFlags(p *plan, s config.Step) []string {
	flags := []string{"--no-deps"}
	if g, ok := p.gitops[s.Deploy]; ok && g.noWait {
		flags = append(flags, "--no-wait")
	}
	if w := waitLock(s); w > 0 {
		flags = append(flags, "--wait-lock="+durationArg(w))
	}
	return flags
}

// defaultWaitLock is how long a generated deploy step waits for another
// run's deploy lock. A cancelled job's deploy leaves its lock until it
// expires, 30s after its last renewal, and a deploy still running holds it
// for as long as its rollout may take (deploy.timeout, 5m by default): a
// re-run job waits that out rather than failing at once.
const defaultWaitLock = 5 * time.Minute

// waitLock is how long deploy step s waits for the lock: its waitLock, else
// defaultWaitLock.
func waitLock(s config.Step) time.Duration {
	if s.WaitLock != nil {
		return s.WaitLock.Duration
	}
	return defaultWaitLock
}

// durationArg writes d as short as Slipway reads it back: 5m rather than
// 5m0s.
func durationArg(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// ciFile names ci's file in messages.
func ciFile(ci *config.CI) string {
	if ci.Source != nil && ci.Source.File != "" {
		return ci.Source.File
	}
	return config.CIFile
}

// registryOf names the registry behind an environment or registry name.
func registryOf(proj *config.Project, name string) string {
	if r, err := proj.ResolveRegistry(name); err == nil {
		return r.Name
	}
	return name
}

// envVars sorts env, checking the names are valid environment variables.
func envVars(at string, env map[string]string) ([]envVar, error) {
	var out []envVar
	var bad []string
	for k, v := range env {
		if !envName.MatchString(k) {
			bad = append(bad, k)
			continue
		}
		out = append(out, envVar{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	if len(bad) > 0 {
		sort.Strings(bad)
		return out, fmt.Errorf("%s: %s: environment variable names hold only letters, digits and '_' and do not start with a digit", at, strings.Join(bad, ", "))
	}
	return out, nil
}

// credentials turns ci.yaml's purpose -> ID map into credentials, sorted by
// purpose: registry-NAME is a username and password in
// SLIPWAY_REGISTRY_NAME_USERNAME and _PASSWORD, kubeconfig a file in
// KUBECONFIG, and anything else a secret text in the purpose upper-cased.
func credentials(m map[string]string) []credential {
	var out []credential
	for purpose, id := range m {
		c := credential{purpose: purpose, id: id}
		switch {
		case purpose == gitPurpose:
			c.kind, c.vars = credGit, []string{gitTokenVar}
		case purpose == "kubeconfig":
			c.kind, c.vars = credFile, []string{"KUBECONFIG"}
		case strings.HasPrefix(purpose, "registry-") && len(purpose) > len("registry-"):
			c.registry = strings.TrimPrefix(purpose, "registry-")
			// As Slipway reads them: SLIPWAY_REGISTRY_<NAME>_USERNAME.
			user, pass := config.RegistryEnvVars(c.registry)
			c.kind, c.vars = credUserPass, []string{user, pass}
		default:
			c.kind, c.vars = credSecret, []string{upperName(purpose)}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].purpose < out[j].purpose })
	return out
}

// usedBy reports whether step st gets the credential: the kubeconfig goes
// to deploy steps only; the git credential to release steps only; a
// registry's username and password to build (the base image may come from
// any registry) and to the push, promote and deploy steps using that
// registry; a public key, a GitOps token or a notify target's secret to
// the deploy steps of its environments; any other credential to every
// step.
func (c credential) usedBy(st *step) bool {
	switch c.kind {
	case credGit:
		return st.kind == config.StepRelease
	case credFile:
		return st.kind == config.StepDeploy
	case credSigning:
		return st.kind == config.StepPush || (c.promote && st.kind == config.StepPromote)
	case credVerify, credGitOps, credNotify:
		for _, e := range c.envs {
			if st.kind == config.StepDeploy && st.deploy == e {
				return true
			}
		}
		return false
	case credUserPass:
		if st.kind == config.StepBuild {
			return true
		}
		for _, r := range st.registries {
			if upperName(r) == upperName(c.registry) {
				return true
			}
		}
		return false
	}
	return true
}

// The variables Slipway reads the signing key's password from (as
// sign.PasswordEnv and sign.CosignPasswordEnv name them); the first wins.
const (
	signingPasswordVar = "SLIPWAY_SIGNING_PASSWORD"
	cosignPasswordVar  = "COSIGN_PASSWORD"
	envKeyPrefix       = "env://"
)

// signingCreds returns the credentials slipway.yaml's keys need in CI, as
// secret texts whose IDs are the variable names: signing.key env://NAME
// gives push steps (and promote steps, with signing.promote) NAME (the
// private key's PEM) and SLIPWAY_SIGNING_PASSWORD from the secret
// NAME_PASSWORD; verify.key env://NAME gives that environment's deploy
// steps NAME. Without signing.promote, promote copies signatures and signs
// nothing, so it gets no key. A variable that ci.yaml's
// credentials or env already fill is left to them. A file key needs nothing
// from CI (it is in the checkout, or put there by a task).
func signingCreds(proj *config.Project, have []credential, env []envVar) ([]credential, error) {
	filled := filledVars(have, env)
	var errs []error
	keyVar := func(at, ref string) string {
		name, ok := strings.CutPrefix(ref, envKeyPrefix)
		if !ok {
			return ""
		}
		if !envName.MatchString(name) {
			errs = append(errs, fmt.Errorf("%s: %q names no environment variable (letters, digits and _)", at, ref))
			return ""
		}
		return name
	}
	var out []credential
	if proj.Signing != nil {
		if name := keyVar("signing.key", proj.Signing.Key); name != "" {
			if !filled[name] {
				out = append(out, credential{purpose: "signing.key", id: name, kind: credSigning, vars: []string{name}, promote: proj.Signing.Promote,
					about: "the signing key's PEM (slipway.yaml signing.key)"})
			}
			if !filled[signingPasswordVar] && !filled[cosignPasswordVar] {
				out = append(out, credential{purpose: "signing.key password", id: name + "_PASSWORD", kind: credSigning, vars: []string{signingPasswordVar}, promote: proj.Signing.Promote,
					about: "the signing key's password"})
			}
		}
	}
	verify := map[string]int{}
	for _, e := range proj.Environments {
		if e.Verify == nil {
			continue
		}
		name := keyVar("environments."+e.Name+".verify.key", e.Verify.Key)
		if name == "" || filled[name] {
			continue
		}
		if i, ok := verify[name]; ok {
			out[i].envs = append(out[i].envs, e.Name)
			continue
		}
		verify[name] = len(out)
		out = append(out, credential{purpose: "verify.key", id: name, kind: credVerify, vars: []string{name}, envs: []string{e.Name},
			about: "the public key images must be signed with"})
	}
	for i := range out {
		sort.Strings(out[i].envs)
	}
	return out, errors.Join(errs...)
}

// filledVars are the variables that credentials have or variables env
// already fill.
func filledVars(have []credential, env []envVar) map[string]bool {
	filled := map[string]bool{}
	for _, c := range have {
		for _, v := range c.vars {
			filled[v] = true
		}
	}
	for _, v := range env {
		filled[v.name] = true
	}
	return filled
}

// kindName describes the credential kind for people setting it up.
func (c credential) kindName() string {
	switch c.kind {
	case credFile:
		return "secret file"
	case credUserPass:
		return "username with password"
	}
	return "secret text"
}

// what says what the credential is and which steps get it, for the
// headers that list what the CI system must provide.
func (c credential) what() string {
	switch c.kind {
	case credFile:
		return "the kubeconfig, for deploy steps"
	case credUserPass:
		return "registry " + c.registry + ", for build and the steps using it"
	case credGit:
		return "pushes release tags to this repository, for the release step"
	case credSigning:
		if c.promote {
			return c.about + ", for push and promote steps"
		}
		return c.about + ", for push steps"
	case credVerify, credGitOps, credNotify:
		return c.about + ", for deploy " + strings.Join(c.envs, ", deploy ")
	}
	return "ci.yaml credential " + c.purpose + ", for every step"
}

// hasRelease reports whether a step of p releases.
func (p *plan) hasRelease() bool {
	for _, st := range p.allSteps() {
		if st.kind == config.StepRelease {
			return true
		}
	}
	return false
}

// gitCred returns the git credential ci.yaml names, if any.
func (p *plan) gitCred() (credential, bool) {
	for _, c := range p.creds {
		if c.kind == credGit {
			return c, true
		}
	}
	return credential{}, false
}

// upperName makes an environment variable name: upper case, with every
// character other than a letter or digit turned into '_'.
func upperName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// command is the shell command a step runs.
func (p *plan) command(st *step) string {
	parts := []string{p.slipway}
	if p.dir != "" {
		parts = append(parts, "-C", shellQuote(p.dir))
	}
	for _, a := range st.args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// allSteps lists the steps of every level in order.
func (p *plan) allSteps() []*step {
	var out []*step
	for _, l := range p.levels {
		out = append(out, l.steps...)
	}
	return out
}

// usedCreds lists the credentials some step uses.
func (p *plan) usedCreds() []credential {
	var out []credential
	for _, c := range p.creds {
		for _, st := range p.allSteps() {
			if c.usedBy(st) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// inImage reports whether step st runs in Slipway's image: push, promote
// and deploy need nothing but Slipway, the repository and variables, unless
// a credential must first be written to a file, which needs a shell the
// image does not have.
func (p *plan) inImage(st *step) bool {
	if p.image == "" {
		return false
	}
	switch st.kind {
	case config.StepPush, config.StepPromote, config.StepDeploy:
	default:
		return false
	}
	for _, c := range st.creds {
		if c.kind == credFile {
			return false
		}
	}
	return true
}

// needsFiles reports whether a step needs the files earlier steps left in
// the workspace: tasks may use them, build packs them and push sends the
// built image. Release, promote and deploy work from git and registries.
func (st *step) needsFiles() bool {
	return st.kind == config.StepTask || st.kind == config.StepBuild || st.kind == config.StepPush
}

// needsFiles reports whether a step of the level needs earlier files.
func (l *level) needsFiles() bool {
	for _, st := range l.steps {
		if st.needsFiles() {
			return true
		}
	}
	return false
}

// producesFiles reports whether a step of the level makes files later
// steps may need: a task or a build.
func (l *level) producesFiles() bool {
	for _, st := range l.steps {
		if st.kind == config.StepTask || st.kind == config.StepBuild {
			return true
		}
	}
	return false
}

// approvals lists what the approvals of p are for, in order, once each.
func (p *plan) approvals() []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range p.levels {
		if l.approve && !seen[l.gate] {
			seen[l.gate] = true
			out = append(out, l.gate)
		}
	}
	return out
}

// namer hands out unique display names and ids.
type namer struct{ ids, names map[string]int }

func newNamer() *namer { return &namer{ids: map[string]int{}, names: map[string]int{}} }

func (n *namer) name(s string) string {
	n.names[s]++
	if c := n.names[s]; c > 1 {
		s = fmt.Sprintf("%s (%d)", s, c)
		n.names[s]++
	}
	return s
}

func (n *namer) id(name string) string {
	s := slug(name)
	n.ids[s]++
	if c := n.ids[s]; c > 1 {
		s = fmt.Sprintf("%s-%d", s, c)
		n.ids[s]++
	}
	return s
}

// slug keeps letters, digits and '_', turning runs of anything else into
// one '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "step"
	}
	return b.String()
}

// whenAlt is one alternative of a when: a branch glob, or any tag.
type whenAlt struct {
	branch string // "" for a tag
	tag    bool
}

// alts lists the alternatives of w: the step runs when any matches.
func alts(w *config.When) []whenAlt {
	if w == nil {
		return nil
	}
	var out []whenAlt
	for _, b := range w.Branch {
		out = append(out, whenAlt{branch: b})
	}
	if w.Tag {
		out = append(out, whenAlt{tag: true})
	}
	return out
}

// conds is the condition a step of level l runs under: every inner list is
// an alternative (any may match), and every outer entry must hold.
func conds(l *level, st *step) [][]whenAlt {
	var out [][]whenAlt
	if a := alts(l.when); len(a) > 0 {
		out = append(out, a)
	}
	if a := alts(st.when); len(a) > 0 {
		out = append(out, a)
	}
	return out
}
