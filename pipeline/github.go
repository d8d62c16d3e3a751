package pipeline

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
	"gopkg.in/yaml.v3"
)

// ghJob is one GitHub Actions job.
type ghJob struct {
	id, name string
	index    int // position in the workflow
	needs    []*ghJob
	gate     string // environment whose protection rules approve the job
	gateOnly bool   // an approval and nothing else
	cond     string // job-level if
	level    *level // set when the job runs one step, whose conditions become the job's
	steps    []ghStep
	// from are the jobs whose workspace this job restores, earliest first,
	// save whether it keeps its own for later jobs.
	from                       []*ghJob
	restore, save              bool
	needsFiles, produces, perm bool
}

type ghStep struct {
	l  *level
	st *step
}

// github writes a workflow per plan. Consecutive steps share one job (and
// so one workspace); an approval becomes a job with the environment whose
// protection rules give it, and a parallel group a job per step. When a
// later job needs the files of earlier ones, the workspace travels between
// jobs as an artifact.
func github(plans []*plan) ([]File, error) {
	var files []File
	for _, p := range plans {
		b, err := githubWorkflow(p)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: workflowPath(p), Content: b})
	}
	return files, nil
}

// githubJobs lays out the jobs of p, in the order they run: consecutive
// plain steps share a job, an approved step gets a job of its own and a
// parallel level a job per step, after an approval job when approved.
func githubJobs(p *plan) ([]*ghJob, error) {
	jl := &ghJobList{ids: newNamer()}
	var prev []*ghJob
	var run *ghJob // the job plain steps join
	for _, l := range p.levels {
		switch {
		case l.parallel:
			run = nil
			branches, err := jl.addParallel(l, prev)
			if err != nil {
				return nil, err
			}
			prev = branches
		case l.approve:
			run = nil
			j, err := jl.addApproved(l, prev)
			if err != nil {
				return nil, err
			}
			prev = []*ghJob{j}
		default:
			if run == nil {
				run = jl.add(&ghJob{id: l.id, name: l.name, needs: prev})
				prev = []*ghJob{run}
			}
			run.join(ghStep{l, l.steps[0]})
		}
	}
	ghPassWorkspaces(jl.jobs)
	return jl.jobs, nil
}

// ghJobList is the jobs of a workflow, in order, with unique IDs.
type ghJobList struct {
	jobs []*ghJob
	ids  *namer
}

// add appends j, making its ID unique and valid and setting its index.
func (jl *ghJobList) add(j *ghJob) *ghJob {
	j.id = jl.ids.id(ghJobID(j.id))
	j.index = len(jl.jobs)
	jl.jobs = append(jl.jobs, j)
	return j
}

// addParallel adds a job for each step of the parallel level l, each
// needing prev, or when l is approved an approval job that needs prev; it
// returns the steps' jobs.
func (jl *ghJobList) addParallel(l *level, prev []*ghJob) ([]*ghJob, error) {
	needs := prev
	if l.approve {
		cond, err := ghCond(alts(l.when))
		if err != nil {
			return nil, err
		}
		g := jl.add(&ghJob{id: "approve-" + l.id, name: "approve " + l.name, needs: prev, gate: l.gate, gateOnly: true, cond: cond})
		needs = []*ghJob{g}
	}
	var branches []*ghJob
	for _, st := range l.steps {
		cond, err := ghConds(conds(l, st))
		if err != nil {
			return nil, err
		}
		branches = append(branches, jl.add(&ghJob{id: st.id, name: st.name, needs: needs, cond: cond, level: l, steps: []ghStep{{l, st}}}))
	}
	return branches, nil
}

// addApproved adds the job, gated by l's environment, that runs the one
// step of the approved level l after prev.
func (jl *ghJobList) addApproved(l *level, prev []*ghJob) (*ghJob, error) {
	st := l.steps[0]
	cond, err := ghCond(alts(st.when))
	if err != nil {
		return nil, err
	}
	return jl.add(&ghJob{id: l.id, name: l.name, needs: prev, gate: l.gate, cond: cond, level: l, steps: []ghStep{{l, st}}}), nil
}

// join adds s to the steps of j, which is then named after its first and
// last steps.
func (j *ghJob) join(s ghStep) {
	j.steps = append(j.steps, s)
	if n := len(j.steps); n > 1 {
		j.name = j.steps[0].st.name + " ... " + j.steps[n-1].st.name
	}
}

// ghPassWorkspaces works out which jobs pass their workspace on. Only jobs
// that run a task or build leave files later jobs need; a job that needs
// files restores the workspaces of the nearest such jobs before it.
func ghPassWorkspaces(jobs []*ghJob) {
	for _, j := range jobs {
		for _, s := range j.steps {
			j.needsFiles = j.needsFiles || s.st.needsFiles()
			j.produces = j.produces || s.st.kind == config.StepTask || s.st.kind == config.StepBuild
			j.perm = j.perm || s.st.kind == config.StepRelease
		}
		for _, n := range j.needs {
			j.from = addSource(j.from, n)
		}
		// Jobs come in the order they run, so later workspaces, which
		// hold the earlier ones, are unpacked last.
		sort.Slice(j.from, func(a, b int) bool { return j.from[a].index < j.from[b].index })
		j.restore = j.needsFiles && len(j.from) > 0
		if j.restore {
			for _, f := range j.from {
				f.save = true
			}
		}
	}
}

// addSource adds the workspace sources that job f stands for: f itself
// when it leaves files, after the sources before it when f leaves none or
// may be skipped by its condition.
func addSource(from []*ghJob, f *ghJob) []*ghJob {
	if !f.produces || f.cond != "" {
		for _, ff := range f.from {
			from = addSource(from, ff)
		}
	}
	if !f.produces || contains(from, f) {
		return from
	}
	return append(from, f)
}

func contains(js []*ghJob, j *ghJob) bool {
	for _, x := range js {
		if x == j {
			return true
		}
	}
	return false
}

// errNoSlipwayVersion says why agent.slipwayImage cannot be used.
var errNoSlipwayVersion = errors.New("agent.slipwayImage is tagged with the version of the Slipway that generates the file, and this Slipway has none: give the version (slipway pipeline generate --slipway-version VERSION)")

func githubWorkflow(p *plan) ([]byte, error) {
	if p.agent.SlipwayImage != "" && p.image == "" {
		return nil, errNoSlipwayVersion
	}
	jobs, err := githubJobs(p)
	if err != nil {
		return nil, err
	}
	head := header(GitHub, p)
	head = append(head, githubNeeds(p)...)
	for _, c := range p.usedCreds() {
		for _, s := range ghSecrets(c) {
			if strings.HasPrefix(s, "GITHUB_") && !(c.kind == credGit && s == "GITHUB_TOKEN") && !ghWorkflowToken(c) {
				return nil, fmt.Errorf("credential makes the secret name %s, but GitHub reserves names starting GITHUB_", s)
			}
		}
	}

	wf := ymap()
	// actionlint reads expressions in the workflow's name too.
	set(wf, "name", ystr(ghEscape(p.name)))
	on := ymap()
	push := ymap()
	set(push, "branches", ylist(p.trigger.branches...))
	if p.trigger.tags != "" {
		tags := p.trigger.tags
		if tags == "*" {
			tags = "**"
		}
		set(push, "tags", ylist(tags))
	}
	set(on, "push", push)
	if p.trigger.pullRequests {
		set(on, "pull_request", ynull())
	}
	set(wf, "on", on)
	set(wf, "permissions", set(ymap(), "contents", ystr("read")))
	if len(p.env) > 0 {
		set(wf, "env", yenv(p.env, ghEscape))
	}
	jm := ymap()
	for _, j := range jobs {
		jn, err := githubJob(p, j)
		if err != nil {
			return nil, err
		}
		set(jm, j.id, jn)
	}
	set(wf, "jobs", jm)
	return encodeYAML(head, wf)
}

// githubJob is the workflow entry of job j.
func githubJob(p *plan, j *ghJob) (*yaml.Node, error) {
	m := ymap()
	set(m, "name", ystr(ghEscape(j.name)))
	if len(j.needs) > 0 {
		var ids []string
		for _, n := range j.needs {
			ids = append(ids, n.id)
		}
		set(m, "needs", yflow(ids...))
	}
	if cond := ghJobCond(j); cond != "" {
		set(m, "if", ystr(cond))
	}
	set(m, "runs-on", ystr("ubuntu-latest"))
	if j.gate != "" {
		set(m, "environment", ystr(j.gate))
	}
	if j.gateOnly {
		set(m, "steps", yseq(set(set(ymap(), "name", ystr("Approved")), "run", ystr("echo Approved"))))
		return m, nil
	}
	if p.agent.Image != "" {
		set(m, "container", set(ymap(), "image", ystr(ghEscape(p.agent.Image))))
	}
	if perms := ghJobPermissions(j); perms != nil {
		set(m, "permissions", perms)
	}
	steps, err := githubJobSteps(p, j)
	if err != nil {
		return nil, err
	}
	set(m, "steps", steps)
	return m, nil
}

// ghJobPermissions are job j's permissions beyond the workflow's
// (contents: read), nil when it needs none: contents: write for a
// release's tag, statuses: write for a github notify target's commit
// statuses set with the workflow's token.
func ghJobPermissions(j *ghJob) *yaml.Node {
	statuses := false
	for _, s := range j.steps {
		for _, c := range s.st.creds {
			statuses = statuses || ghWorkflowToken(c)
		}
	}
	if !j.perm && !statuses {
		return nil
	}
	perms := set(ymap(), "contents", ystr("read"))
	if j.perm {
		perms = set(ymap(), "contents", ystr("write"))
	}
	if statuses {
		set(perms, "statuses", ystr("write"))
	}
	return perms
}

// ghJobCond is the if of job j: its own condition, and, when a job it
// needs may be skipped by its condition, that no earlier job failed.
func ghJobCond(j *ghJob) string {
	skippable := false
	for _, n := range j.needs {
		skippable = skippable || n.cond != ""
	}
	if !skippable {
		return j.cond
	}
	// A job skipped by its condition would skip every job after it; run
	// unless an earlier job failed.
	if j.cond == "" {
		return "${{ !cancelled() && !failure() }}"
	}
	return "${{ !cancelled() && !failure() && (" + j.cond + ") }}"
}

// githubJobSteps are the steps of job j: the checkout, the restore of
// earlier workspaces, the install of Slipway, j's own steps and the save of
// its workspace.
func githubJobSteps(p *plan, j *ghJob) (*yaml.Node, error) {
	steps := yseq(set(set(ymap(), "uses", ystr("actions/checkout@v4")), "with", set(ymap(), "fetch-depth", yint(0))))
	if j.restore {
		steps.Content = append(steps.Content, ghRestoreSteps(j)...)
	}
	if !allInImage(p, j) {
		steps.Content = append(steps.Content, ghInstallSteps(p)...)
	}
	for _, s := range j.steps {
		sn, err := githubStep(p, j, s)
		if err != nil {
			return nil, err
		}
		steps.Content = append(steps.Content, sn)
	}
	if j.save {
		steps.Content = append(steps.Content,
			set(set(ymap(), "name", ystr("Save the workspace for later jobs")), "run", ystr("tar --exclude=./.git --exclude=./slipway-workspace.tar -cf slipway-workspace.tar .")),
			set(set(ymap(), "uses", ystr("actions/upload-artifact@v4")), "with",
				set(set(set(ymap(), "name", ystr("workspace-"+j.id)), "path", ystr("slipway-workspace.tar")), "retention-days", yint(1))))
	}
	return steps, nil
}

// goInstallPackage is Slipway's command, as go install names it.
const goInstallPackage = "github.com/slipwayhq/slipway/cmd/slipway"

// ghGoInstall reports whether jobs install Slipway with go install: the
// generating Slipway's version is known, and ci.yaml names neither an image
// for the jobs nor a Slipway command, and no release archive is pinned, so
// the steps run slipway on a runner that may not have it.
func ghGoInstall(p *plan) bool {
	return p.install == nil && p.version != "" && p.agent.Image == "" && strings.TrimSpace(p.agent.Slipway) == ""
}

// ghInstallSteps are the steps that install Slipway in a job, none when
// the job needs no install. A pinned release archive is downloaded (on a
// cold cache) and checked against its SHA-256 on every run (see
// Install.script). Otherwise, with a version, a runner with slipway on its
// PATH runs that one; another restores the build of an earlier run, or
// builds it with go install, and puts it on the PATH. actions/cache keeps
// the archive or the build between runs, keyed by the version.
func ghInstallSteps(p *plan) []*yaml.Node {
	if in := p.install; in != nil {
		return []*yaml.Node{
			ghCacheStep(in.Version, in.installDir(), "slipway-"+in.Version+"-archive-${{ runner.arch }}", ""),
			set(set(ymap(), "name", ystr("Install Slipway "+in.Version)), "run", yblock(in.script()+"\n")),
		}
	}
	if !ghGoInstall(p) {
		return nil
	}
	v := p.version
	skip := "steps.slipway.outputs.found != 'true'"
	return []*yaml.Node{
		set(set(set(ymap(), "name", ystr("Find Slipway")), "id", ystr("slipway")), "run", yblock(ghFindScript)),
		ghCacheStep(v, "${{ runner.tool_cache }}/slipway/"+v, "slipway-"+v+"-${{ runner.os }}-${{ runner.arch }}", skip),
		set(set(set(ymap(), "name", ystr("Install Slipway "+v)), "if", ystr(skip)), "run", yblock(ghGoInstallScript(v))),
	}
}

// ghCacheStep restores path, saved under key when the job succeeds (what
// actions/cache does), if cond holds.
func ghCacheStep(version, path, key, cond string) *yaml.Node {
	m := set(ymap(), "name", ystr("Restore Slipway "+version))
	if cond != "" {
		set(m, "if", ystr(cond))
	}
	set(m, "uses", ystr("actions/cache@v4"))
	return set(m, "with", set(set(ymap(), "path", ystr(path)), "key", ystr(key)))
}

// ghFindScript says whether slipway is on the runner's PATH already.
const ghFindScript = `# A runner with slipway on its PATH runs that one; the next two steps then do nothing.
if command -v slipway >/dev/null; then
  echo "found=true" >>"$GITHUB_OUTPUT"
  echo "slipway on the PATH: $(command -v slipway)"
fi
`

// ghGoInstallScript puts Slipway version on the PATH of the job's later
// steps: from the runner's tool cache, where actions/cache restored an
// earlier run's build, else built there by go install of that exact
// version, whose module the Go checksum database verifies. version is
// checked (Install.check), so it reaches the script as written.
func ghGoInstallScript(version string) string {
	return fmt.Sprintf(`# Slipway %[1]s, which generated this file: go install checks the module
# against the Go checksum database (sum.golang.org).
dir="$RUNNER_TOOL_CACHE/slipway/%[1]s"
if [ ! -x "$dir/slipway" ]; then
  if ! command -v go >/dev/null; then
    echo "::error::Installing Slipway %[1]s needs Go on the runner (ubuntu-latest has it; elsewhere actions/setup-go), or generate the workflow with --slipway-checksums"
    exit 1
  fi
  GOFLAGS= CGO_ENABLED=0 GOBIN="$dir" go install %[2]s@v%[1]s
fi
echo "$dir" >>"$GITHUB_PATH"
`, version, goInstallPackage)
}

// ghRestoreSteps download the workspaces j restores and unpack them,
// earliest first.
func ghRestoreSteps(j *ghJob) []*yaml.Node {
	var steps []*yaml.Node
	var untar []string
	for _, f := range j.from {
		dir := "slipway-workspace/" + f.id
		tar := dir + "/slipway-workspace.tar"
		dl := set(ymap(), "uses", ystr("actions/download-artifact@v4"))
		if f.cond != "" {
			// A job skipped by its condition leaves no workspace.
			set(dl, "continue-on-error", ybool(true))
			untar = append(untar, "[ ! -f "+tar+" ] || tar -xf "+tar)
		} else {
			untar = append(untar, "tar -xf "+tar)
		}
		set(dl, "with", set(set(ymap(), "name", ystr("workspace-"+f.id)), "path", ystr(dir)))
		steps = append(steps, dl)
	}
	untar = append(untar, "rm -rf slipway-workspace")
	return append(steps, set(set(ymap(), "name", ystr("Restore the workspace of earlier jobs")), "run", yblock(strings.Join(untar, "\n")+"\n")))
}

func githubStep(p *plan, j *ghJob, s ghStep) (*yaml.Node, error) {
	m := ymap()
	set(m, "name", ystr(ghEscape(s.st.name)))
	// A job of its own carries its conditions at the job level.
	if j.level == nil {
		cond, err := ghConds(conds(s.l, s.st))
		if err != nil {
			return nil, err
		}
		if cond != "" {
			set(m, "if", ystr(cond))
		}
	}
	env := ymap()
	for _, v := range s.st.env {
		set(env, v.name, ystr(ghEscape(v.value)))
	}
	if p.inImage(s.st) {
		return githubImageStep(p, s.st, m, env)
	}
	var lines []string
	for _, c := range s.st.creds {
		names := ghSecrets(c)
		switch c.kind {
		case credFile:
			set(env, c.vars[0]+"_DATA", ystr("${{ secrets."+names[0]+" }}"))
			lines = append(lines,
				fmt.Sprintf(`export %s="$RUNNER_TEMP/%s"`, c.vars[0], strings.ToLower(c.vars[0])),
				fmt.Sprintf(`(umask 077 && printf '%%s\n' "$%s_DATA" > "$%s")`, c.vars[0], c.vars[0]))
		default:
			for i, v := range c.vars {
				set(env, v, ystr(ghSecretRef(c, names[i])))
			}
		}
	}
	if _, ok := p.gitCred(); !ok && s.st.kind == config.StepRelease && !s.st.setsGitVar() {
		// Slipway's git push cannot read the token actions/checkout
		// keeps in git's config; the job's permissions let it push.
		// A ci.yaml credential or variable that fills it already wins.
		set(env, gitTokenVar, ystr("${{ github.token }}"))
	}
	lines = append(lines, p.command(s.st))
	if len(env.Content) > 0 {
		set(m, "env", env)
	}
	run := strings.Join(lines, "\n")
	if len(lines) > 1 {
		run += "\n"
	}
	// The command runs as written: GitHub must not read an expression
	// in the Slipway command or the project's directory.
	set(m, "run", yblock(ghEscape(run)))
	return m, nil
}

// containerArg is an argument GitHub passes to a container step as
// written: its args are one string, split at spaces.
var containerArg = regexp.MustCompile(`^[A-Za-z0-9._/:@=+-]+$`)

// githubImageStep makes st a step that runs in Slipway's image, whose
// entrypoint is slipway: GitHub mounts the workspace as the working
// directory and passes env. Its credentials are variables only (see
// plan.inImage).
func githubImageStep(p *plan, st *step, m, env *yaml.Node) (*yaml.Node, error) {
	var args []string
	if p.dir != "" {
		args = append(args, "-C", p.dir)
	}
	args = append(args, st.args...)
	for _, a := range args {
		if !containerArg.MatchString(a) {
			return nil, fmt.Errorf("step %s: argument %q cannot reach a container step unquoted", st.name, a)
		}
	}
	set(m, "uses", ystr("docker://"+p.image))
	for _, c := range st.creds {
		for i, v := range c.vars {
			set(env, v, ystr(ghSecretRef(c, ghSecrets(c)[i])))
		}
	}
	if len(env.Content) > 0 {
		set(m, "env", env)
	}
	set(m, "with", set(ymap(), "args", ystr(strings.Join(args, " "))))
	return m, nil
}

// allInImage reports whether every step of job j runs in Slipway's image.
func allInImage(p *plan, j *ghJob) bool {
	for _, s := range j.steps {
		if !p.inImage(s.st) {
			return false
		}
	}
	return len(j.steps) > 0
}

// githubNeeds are the header lines saying what the repository must
// provide: each secret and what it is for, the release token, approvals
// and Slipway itself.
func githubNeeds(p *plan) []string {
	out := githubSecretNeeds(p)
	if _, ok := p.gitCred(); !ok && p.hasRelease() {
		out = append(out, "", "The release step pushes its tag with the workflow's own token (github.token),",
			"which its job's permissions (contents: write) allow. Where rules protect tags,",
			"set credentials.git in ci.yaml to a secret holding a token that may push them.")
	}
	out = append(out, gitopsNotes(p, GitHub)...)
	if gates := p.approvals(); len(gates) > 0 {
		out = append(out, "", "Approvals wait on the environments "+strings.Join(gates, ", ")+":",
			"give them required reviewers (Settings > Environments).")
	}
	onRunner, deployOnRunner := false, false
	for _, st := range p.allSteps() {
		if !p.inImage(st) {
			onRunner = true
			deployOnRunner = deployOnRunner || st.kind == config.StepDeploy
		}
	}
	if p.image != "" {
		out = append(out, "", "Push, promote and deploy steps run in Slipway's own image, tagged with the",
			"version that generated this file (agent.slipwayImage):",
			"  "+p.image,
			"The runner must be able to pull it without credentials.")
		if deployOnRunner {
			out = append(out, "Deploy steps whose kubeconfig is written to a file run on the runner.")
		}
	}
	switch {
	case onRunner && ghGoInstall(p):
		out = append(out, "",
			"Each job with steps on the runner installs Slipway "+p.version+", which generated it, with",
			"go install "+goInstallPackage+"@v"+p.version+" (the Go checksum",
			"database verifies the module; ubuntu-latest has Go), into the runner's tool cache,",
			"which actions/cache keeps between runs, keyed by the version. A runner with slipway",
			"on its PATH runs that one instead. To download a release archive checked against",
			"its SHA-256, generate with --slipway-checksums; to run your own, set agent.image or",
			"agent.slipway in ci.yaml.")
	case onRunner && p.agent.Image == "" && p.slipway == "slipway" && p.install == nil:
		out = append(out, "", "Jobs run on ubuntu-latest, which has no slipway: set agent.image in ci.yaml",
			"to an image that has it, or agent.slipway to a command that runs it.")
	}
	return out
}

// githubSecretNeeds are the header lines listing the repository secrets
// the workflow reads, and saying which variable the workflow's own token
// fills instead.
func githubSecretNeeds(p *plan) []string {
	var out, secrets []string
	workflowToken := false
	for _, c := range p.usedCreds() {
		if ghWorkflowToken(c) {
			workflowToken = true
			continue
		}
		secrets = append(secrets, "  "+strings.Join(ghSecrets(c), ", ")+": "+c.what())
	}
	if len(secrets) > 0 {
		out = append(out, "", "Repository secrets it reads (Settings > Secrets and variables > Actions;",
			"names from ci.yaml credentials; a kubeconfig secret holds the file's content):")
		out = append(out, secrets...)
	}
	if workflowToken {
		out = append(out, "", "Commit statuses (slipway.yaml notify github) are set with the workflow's own",
			"token (github.token), which the deploy jobs' permissions (statuses: write) allow.")
	}
	return out
}

// ghSecretRef is the expression filling a variable of credential c from
// its secret name: the secret, or the workflow's own token.
func ghSecretRef(c credential, name string) string {
	if ghWorkflowToken(c) {
		return "${{ github.token }}"
	}
	return "${{ secrets." + name + " }}"
}

// ghSecrets names the GitHub secrets a credential reads: the ID upper-cased
// with '_' for other characters, as GitHub secret names allow no more.
func ghSecrets(c credential) []string {
	n := upperName(c.id)
	if c.kind == credUserPass {
		return []string{n + "_USERNAME", n + "_PASSWORD"}
	}
	return []string{n}
}

// ghJobID makes a GitHub job ID, which starts with a letter or '_', from a
// slug.
func ghJobID(s string) string {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		return "_" + s
	}
	return s
}

// ghEscape keeps GitHub from reading ${{ in a literal value as an
// expression: each ${{ becomes an expression whose value is the string
// '${{', so the rest of the value stays text.
func ghEscape(s string) string {
	return strings.ReplaceAll(s, "${{", "${{ '${{' }}")
}

// ghConds is an if expression requiring every group of alternatives.
func ghConds(groups [][]whenAlt) (string, error) {
	var parts []string
	for _, g := range groups {
		c, err := ghCond(g)
		if err != nil {
			return "", err
		}
		if len(groups) > 1 && len(g) > 1 {
			c = "(" + c + ")"
		}
		parts = append(parts, c)
	}
	return strings.Join(parts, " && "), nil
}

// ghCond is an if expression true when any alternative matches.
func ghCond(as []whenAlt) (string, error) {
	var parts []string
	for _, a := range as {
		if a.tag {
			parts = append(parts, "startsWith(github.ref, 'refs/tags/')")
			continue
		}
		prefix, glob := strings.CutSuffix(a.branch, "*")
		prefix = strings.TrimSuffix(prefix, "*")
		if strings.ContainsAny(prefix, "*?[") {
			return "", fmt.Errorf("branch pattern %q: a GitHub Actions condition can test a branch name or a prefix ending in *, not other patterns", a.branch)
		}
		ref := ghString("refs/heads/" + prefix)
		if glob {
			parts = append(parts, "startsWith(github.ref, "+ref+")")
		} else {
			parts = append(parts, "github.ref == "+ref)
		}
	}
	return strings.Join(parts, " || "), nil
}

// ghString quotes s as a GitHub expression string literal.
func ghString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// workflowPath is where GitHub reads the workflow of plan p.
func workflowPath(p *plan) string {
	if p.dir == "" {
		return ".github/workflows/slipway.yml"
	}
	return path.Join(".github/workflows", "slipway-"+slug(p.dir)+".yml")
}
