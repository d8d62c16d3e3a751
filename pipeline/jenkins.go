package pipeline

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"sync"
	"text/template"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/templates"
)

// groovyTemplates are the Jenkins templates under templates/pipeline,
// parsed once.
var groovyTemplates = sync.OnceValues(func() (*template.Template, error) {
	return template.New("pipeline").Option("missingkey=error").Delims("[[", "]]").
		ParseFS(templates.FS, "pipeline/*.tmpl")
})

// render executes the template called name (a file under
// templates/pipeline) with data.
func render(name string, data any) ([]byte, error) {
	t, err := groovyTemplates()
	if err != nil {
		return nil, fmt.Errorf("parsing pipeline templates: %w", err)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("rendering template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// jenkinsfileView is the data of Jenkinsfile.tmpl.
type jenkinsfileView struct {
	Header string
	Env    []groovyVar
	Stages []jenkinsStage
}

// groovyVar is an environment variable with its value quoted.
type groovyVar struct{ Name, Value string }

// jenkinsStage is a declarative stage. It runs its Parallel stages, else
// its nested Stages one after the other, else its steps: Pre, then Step
// inside withCredentials(Creds), inside sshagent(SSHAgent) when set.
type jenkinsStage struct {
	I        string // indent
	Name     string
	Agent    []string // lines of the agent directive, none when empty
	When     []string // lines of the when block
	Input    *jenkinsInput
	Env      []groovyVar
	Creds    []string // withCredentials bindings
	SSHAgent string   // the quoted list of SSH key credentials sshagent loads, "" for none
	Pre      []string // steps before Step, outside the credentials
	Step     string
	Stages   []jenkinsStage
	Parallel []jenkinsStage
	Stash    string // stash step run when the stage succeeds
}

type jenkinsInput struct{ Message, OK string }

// Body is the indent of the stage's credentials and Step: inside its
// steps block, and inside sshagent when it has one.
func (s jenkinsStage) Body() string {
	if s.SSHAgent != "" {
		return s.I + "            "
	}
	return s.I + "        "
}

// jenkinsStash keeps the workspace, but for .git, for the stages on later
// agents; jenkinsUnstash lays it over their checkout.
const (
	jenkinsStash   = "stash name: 'workspace', includes: '**', excludes: '.git/**', useDefaultExcludes: false, allowEmpty: true"
	jenkinsUnstash = "unstash 'workspace'"
)

// jenkinsfiles writes a Jenkinsfile for every plan, in the plan's directory.
func jenkinsfiles(plans []*plan) ([]File, error) {
	var files []File
	for _, p := range plans {
		b, err := jenkinsfile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: path.Join(p.dir, "Jenkinsfile"), Content: b})
	}
	return files, nil
}

// jenkinsSegment is a run of levels one top-level stage holds an agent
// for: an approved level alone, or the levels between approvals.
type jenkinsSegment struct {
	levels  []*level
	approve bool
}

func jenkinsSegments(p *plan) []jenkinsSegment {
	var segs []jenkinsSegment
	for _, l := range p.levels {
		if l.approve || len(segs) == 0 || segs[len(segs)-1].approve {
			segs = append(segs, jenkinsSegment{approve: l.approve})
		}
		s := &segs[len(segs)-1]
		s.levels = append(s.levels, l)
	}
	return segs
}

// jenkinsfile writes the Jenkinsfile of p. The pipeline holds no agent
// itself (agent none): each top-level stage takes one for its own steps,
// so an approval waits for a person without holding an executor, as
// declarative Jenkins asks for input before it allocates a stage's agent.
// Files that later stages need travel as a stash.
func jenkinsfile(p *plan) ([]byte, error) {
	v := jenkinsfileView{Header: comment("//", jenkinsfileHeader(p))}
	env, err := groovyVars(p.env)
	if err != nil {
		return nil, err
	}
	v.Env = env
	if v.Stages, err = jenkinsTopStages(p); err != nil {
		return nil, err
	}
	return render("Jenkinsfile.tmpl", v)
}

// jenkinsfileHeader is the header comment of p's Jenkinsfile, line by line.
func jenkinsfileHeader(p *plan) []string {
	head := header(Jenkinsfile, p)
	head = append(head, "",
		"Run it as a multibranch pipeline (slipway pipeline generate --target",
		"jenkins-jobdsl writes the job): `when { branch ... }` needs BRANCH_NAME.",
		"Approvals wait without holding an executor; each stage after one takes an",
		"agent again, with a fresh checkout and the files earlier stages stashed.")
	return append(head, jenkinsNeeds(p)...)
}

// jenkinsTopStages are the top-level stages of p, one for each segment,
// each taking the agent. A segment that makes files a later segment needs
// stashes the workspace, and a segment after a stash that needs files
// restores it.
func jenkinsTopStages(p *plan) ([]jenkinsStage, error) {
	const indent = "        "
	agent := jenkinsAgent(p)
	names := jenkinsStageNames(p)
	segs := jenkinsSegments(p)
	var stages []jenkinsStage
	stashed := false
	for i, seg := range segs {
		save := seg.producesFiles() && anyNeedsFiles(segs[i+1:])
		restore := stashed && seg.needsFiles()
		var top jenkinsStage
		var err error
		if seg.approve && !seg.levels[0].parallel {
			top, err = jenkinsApprovedStep(p, seg.levels[0], indent, restore)
		} else {
			top, err = jenkinsSegmentStage(p, seg, names, indent, restore)
		}
		if err != nil {
			return nil, err
		}
		top.Agent = agent
		if save {
			top.Stash = jenkinsStash
			stashed = true
		}
		stages = append(stages, top)
	}
	return stages, nil
}

// jenkinsApprovedStep is the top-level stage of the approved level l of one
// step, gated by its input; restore unstashes the workspace first.
func jenkinsApprovedStep(p *plan, l *level, indent string, restore bool) (jenkinsStage, error) {
	st := l.steps[0]
	top, err := jenkinsStep(p, st, indent)
	if err != nil {
		return top, err
	}
	top.When = jenkinsWhen(true, st.when)
	top.Input = jenkinsApproval(st.name, st)
	if restore {
		top.Pre = append([]string{jenkinsUnstash}, top.Pre...)
	}
	return top, nil
}

// jenkinsSegmentStage is the top-level stage that runs the levels of seg as
// nested stages, gated by an input when seg is approved; restore adds a
// first stage that unstashes the workspace.
func jenkinsSegmentStage(p *plan, seg jenkinsSegment, names jenkinsNames, indent string, restore bool) (jenkinsStage, error) {
	l := seg.levels[0]
	name := l.name
	if len(seg.levels) > 1 {
		name += " ... " + seg.levels[len(seg.levels)-1].name
	}
	if seg.approve {
		name = "Approve " + l.name
	}
	top := jenkinsStage{I: indent, Name: groovyQuote(names.unique(name))}
	if seg.approve {
		top.When = jenkinsWhen(true, l.when)
		top.Input = jenkinsApproval(l.name, nil)
	}
	inner := indent + "        "
	if restore {
		top.Stages = append(top.Stages, jenkinsStage{I: inner, Name: groovyQuote(names.unique("Restore the workspace")), Step: jenkinsUnstash})
	}
	for _, l := range seg.levels {
		s, err := jenkinsLevel(p, l, inner)
		if err != nil {
			return jenkinsStage{}, err
		}
		top.Stages = append(top.Stages, s)
	}
	return top, nil
}

// jenkinsNames are the stage names taken in one Jenkinsfile.
type jenkinsNames map[string]bool

// jenkinsStageNames takes the names of p's levels and steps.
func jenkinsStageNames(p *plan) jenkinsNames {
	taken := jenkinsNames{}
	for _, l := range p.levels {
		taken[l.name] = true
		for _, st := range l.steps {
			taken[st.name] = true
		}
	}
	return taken
}

// unique takes and returns name, or when name is taken, the first of
// "name (2)", "name (3)", ... that is free.
func (taken jenkinsNames) unique(name string) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s (%d)", name, i)
	}
	taken[n] = true
	return n
}

// producesFiles reports whether a level of s makes files.
func (s jenkinsSegment) producesFiles() bool {
	for _, l := range s.levels {
		if l.producesFiles() {
			return true
		}
	}
	return false
}

// needsFiles reports whether a level of s needs earlier files.
func (s jenkinsSegment) needsFiles() bool {
	for _, l := range s.levels {
		if l.needsFiles() {
			return true
		}
	}
	return false
}

// anyNeedsFiles reports whether one of segs needs earlier files.
func anyNeedsFiles(segs []jenkinsSegment) bool {
	for _, s := range segs {
		if s.needsFiles() {
			return true
		}
	}
	return false
}

// jenkinsLevel is the stage of a level inside a top-level stage.
func jenkinsLevel(p *plan, l *level, indent string) (jenkinsStage, error) {
	if !l.parallel {
		st := l.steps[0]
		s, err := jenkinsStep(p, st, indent)
		if err != nil {
			return s, err
		}
		s.When = jenkinsWhen(false, st.when)
		return s, nil
	}
	group := jenkinsStage{I: indent, Name: groovyQuote(l.name)}
	if !l.approve {
		group.When = jenkinsWhen(false, l.when)
	}
	for _, st := range l.steps {
		s, err := jenkinsStep(p, st, indent+"        ")
		if err != nil {
			return s, err
		}
		s.When = jenkinsWhen(false, st.when)
		group.Parallel = append(group.Parallel, s)
	}
	return group, nil
}

// jenkinsAgent is the agent directive of the stages that run steps.
func jenkinsAgent(p *plan) []string {
	switch {
	case p.agent.Image != "":
		out := []string{"agent {", "    docker {", "        image " + groovyQuote(p.agent.Image)}
		if p.agent.Label != "" {
			out = append(out, "        label "+groovyQuote(p.agent.Label))
		}
		return append(out, "    }", "}")
	case p.agent.Label != "":
		return []string{"agent {", "    label " + groovyQuote(p.agent.Label), "}"}
	}
	return []string{"agent any"}
}

// jenkinsNeeds are the header lines naming what Jenkins must provide.
func jenkinsNeeds(p *plan) []string {
	var out []string
	if creds := p.usedCreds(); len(creds) > 0 {
		out = append(out, "", "Jenkins credentials it uses (IDs from ci.yaml credentials):")
		for _, c := range creds {
			kind, vars := c.kindName(), c.vars
			if c.kind == credGit {
				kind, vars = "username with password", []string{gitUsernameVar, gitPasswordVar}
			}
			out = append(out, fmt.Sprintf("  %s (%s): %s; %s", c.id, kind, strings.Join(vars, ", "), c.what()))
		}
	}
	if _, ok := p.gitCred(); !ok && p.hasRelease() {
		out = append(out, "", "The release step pushes a tag, and Slipway cannot use the credentials of",
			"Jenkins' checkout: add a username-with-password credential (for a token,",
			"its user and the token) that may push to the repository, and name its ID",
			"in ci.yaml as credentials.git.")
	}
	return append(out, gitopsNotes(p, Jenkinsfile)...)
}

// jenkinsStep is the stage that runs st.
func jenkinsStep(p *plan, st *step, indent string) (jenkinsStage, error) {
	env, err := groovyVars(st.env)
	if err != nil {
		return jenkinsStage{}, fmt.Errorf("step %s: %w", st.name, err)
	}
	s := jenkinsStage{I: indent, Name: groovyQuote(st.name), Env: env, Step: "sh " + groovyQuote(p.command(st))}
	if p.install != nil {
		s.Pre = append(s.Pre, "sh "+groovyQuote(p.install.script()))
	}
	if g, ok := p.deployGitOps(st); ok && g.ssh {
		s.SSHAgent = "[" + groovyQuote(gitopsSSHKeyID(st.deploy)) + "]"
	}
	for _, c := range st.creds {
		id := groovyQuote(c.id)
		switch c.kind {
		case credUserPass:
			s.Creds = append(s.Creds, fmt.Sprintf("usernamePassword(credentialsId: %s, usernameVariable: %s, passwordVariable: %s)", id, groovyQuote(c.vars[0]), groovyQuote(c.vars[1])))
		case credGit:
			s.Creds = append(s.Creds, fmt.Sprintf("usernamePassword(credentialsId: %s, usernameVariable: %s, passwordVariable: %s)", id, groovyQuote(gitUsernameVar), groovyQuote(gitPasswordVar)))
		case credFile:
			s.Creds = append(s.Creds, fmt.Sprintf("file(credentialsId: %s, variable: %s)", id, groovyQuote(c.vars[0])))
		default:
			s.Creds = append(s.Creds, fmt.Sprintf("string(credentialsId: %s, variable: %s)", id, groovyQuote(c.vars[0])))
		}
	}
	return s, nil
}

// jenkinsApproval is the input that gates a stage; st is nil for a group.
func jenkinsApproval(name string, st *step) *jenkinsInput {
	msg, ok := "Run "+name+"?", "Run"
	if st != nil {
		switch st.kind {
		case config.StepDeploy:
			msg, ok = "Deploy to "+st.deploy+"?", "Deploy"
		case config.StepPromote:
			msg, ok = "Promote "+st.args[1]+" to "+st.args[2]+"?", "Promote"
		case config.StepPush:
			msg, ok = "Push to "+st.args[1]+"?", "Push"
		case config.StepRelease:
			msg, ok = "Release?", "Release"
		}
	}
	return &jenkinsInput{Message: groovyQuote(msg), OK: groovyQuote(ok)}
}

// jenkinsWhen is the body of a when block; beforeInput skips the approval
// when the condition does not hold.
func jenkinsWhen(beforeInput bool, w *config.When) []string {
	a := alts(w)
	if len(a) == 0 {
		return nil
	}
	var lines []string
	if beforeInput {
		lines = append(lines, "beforeInput true")
	}
	conds := make([]string, len(a))
	for i, x := range a {
		if x.tag {
			conds[i] = "buildingTag()"
		} else {
			conds[i] = "branch " + groovyQuote(x.branch)
		}
	}
	if len(conds) == 1 {
		return append(lines, conds[0])
	}
	lines = append(lines, "anyOf {")
	for _, c := range conds {
		lines = append(lines, "    "+c)
	}
	return append(lines, "}")
}

// groovyVars quotes the values of vars for an environment block, whose
// names are bare Groovy identifiers: a name that is a Groovy keyword is
// refused, as Groovy could not read the assignment.
func groovyVars(vars []envVar) ([]groovyVar, error) {
	out := make([]groovyVar, len(vars))
	for i, v := range vars {
		if groovyKeywords[v.name] || !envName.MatchString(v.name) {
			return nil, fmt.Errorf("environment variable %s cannot be set in a Jenkinsfile, as Groovy reads it as a keyword; rename it", v.name)
		}
		out[i] = groovyVar{v.name, groovyQuote(v.value)}
	}
	return out, nil
}

// groovyKeywords are the words Groovy reserves.
var groovyKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`abstract as assert boolean break byte case catch char class const
		continue def default do double else enum extends false final finally float for goto if
		implements import in instanceof int interface long native new null package private
		protected public return short static strictfp super switch synchronized this threadsafe
		throw throws trait transient true try var void volatile while`) {
		m[k] = true
	}
	return m
}()

// jobDSLView is the data of jobdsl.groovy.tmpl.
type jobDSLView struct {
	Header  string
	Repo    string
	Script  string // the script's path in the repository
	Folders []string
	Jobs    []jobDSLJob
}

type jobDSLJob struct {
	Name, Display, Description, SourceID, Includes, ScriptPath string
	Tags                                                       bool
}

// jobDSL writes one Job DSL script holding the folders and a multibranch
// pipeline job per plan, each reading its Jenkinsfile from the repository.
func jobDSL(plans []*plan) ([]File, error) {
	first := plans[0]
	script := path.Join(first.rootDir, "jobs", jenkinsItem(first.root)+".groovy")
	v := jobDSLView{Header: comment("//", jobDSLHeader(plans)), Script: groovyQuote(script)}
	if first.repo != "" {
		v.Repo = groovyQuote(first.repo)
	}
	folder := jenkinsName(first.folder)
	parts := strings.Split(folder, "/")
	for i := range parts {
		v.Folders = append(v.Folders, groovyQuote(strings.Join(parts[:i+1], "/")))
	}
	for _, p := range plans {
		v.Jobs = append(v.Jobs, newJobDSLJob(folder, p))
	}
	b, err := render("jobdsl.groovy.tmpl", v)
	if err != nil {
		return nil, err
	}
	return []File{{Path: script, Content: b}}, nil
}

// jobDSLHeader is the header comment of the Job DSL script, line by line.
func jobDSLHeader(plans []*plan) []string {
	first := plans[0]
	head := header(JenkinsJobDSL, &plan{root: first.root, rootDir: first.rootDir})
	head = append(head, "",
		"Multibranch jobs read the Jenkinsfile that --target jenkinsfile writes.",
		"Jenkins plugins: job-dsl, cloudbees-folder, workflow-multibranch, git,",
		"pipeline-model-definition, credentials-binding (and docker-workflow for agent.image).",
		"",
		"The script writes only jobs whose description carries its owner line (see",
		"owner below) or that do not exist yet, and stops before writing anything",
		"when one does not. Looking jobs up in Job DSL's script sandbox needs these",
		"signatures approved once (Manage Jenkins > In-process Script Approval):",
		"  staticMethod jenkins.model.Jenkins get",
		"  method jenkins.model.Jenkins getItemByFullName java.lang.String",
		"  method hudson.model.AbstractItem getDescription")
	head = appendJenkinsNeeds(head, plans)
	return append(head, jobDSLTriggerNotes(plans)...)
}

// appendJenkinsNeeds adds to head what Jenkins must provide for each of
// plans, each line once, never two blank lines in a row nor one at the end.
func appendJenkinsNeeds(head []string, plans []*plan) []string {
	seen := map[string]bool{}
	for _, p := range plans {
		for _, l := range jenkinsNeeds(p) {
			switch {
			case l == "" && head[len(head)-1] == "":
			case l == "" || !seen[l]:
				seen[l] = true
				head = append(head, l)
			}
		}
	}
	if head[len(head)-1] == "" {
		head = head[:len(head)-1]
	}
	return head
}

// jobDSLTriggerNotes are the header lines on the triggers of plans that
// Jenkins' jobs do not start on by themselves: tags and pull requests.
func jobDSLTriggerNotes(plans []*plan) []string {
	tags, prs := false, false
	for _, p := range plans {
		tags = tags || p.trigger.tags != ""
		prs = prs || p.trigger.pullRequests
	}
	var out []string
	if tags {
		out = append(out, "",
			"Jenkins discovers tags but builds them only when started by hand, or with",
			"the basic-branch-build-strategies plugin's buildTags strategy.")
	}
	if prs {
		out = append(out, "",
			"ci.yaml runs on pull requests, which the plain git branch source does not",
			"discover: use the GitHub, GitLab or Bitbucket branch source for that.")
	}
	return out
}

// newJobDSLJob is the multibranch job in folder that runs p's Jenkinsfile
// for the branches and tags p runs on.
func newJobDSLJob(folder string, p *plan) jobDSLJob {
	name := folder + "/" + jenkinsItem(p.name)
	includes := append([]string(nil), p.trigger.branches...)
	if p.trigger.tags != "" {
		includes = append(includes, p.trigger.tags)
	}
	desc := "Runs " + path.Join(p.dir, "Jenkinsfile") + ", generated by Slipway from " + path.Join(p.dir, config.CIFile) + "."
	return jobDSLJob{
		Name:        groovyQuote(name),
		Display:     groovyQuote(p.name),
		Description: groovyQuote(desc),
		SourceID:    groovyQuote("slipway-" + slug(name)),
		Includes:    groovyQuote(strings.Join(includes, " ")),
		ScriptPath:  groovyQuote(path.Join(p.dir, "Jenkinsfile")),
		Tags:        p.trigger.tags != "",
	}
}

// jenkinsItem makes a Jenkins item name: letters, digits, '_', '-' and '.'
// (not leading), other runs of characters becoming '-'.
func jenkinsItem(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			if r == '.' && b.Len() == 0 {
				continue
			}
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "project"
	}
	return b.String()
}

// jenkinsName makes a slash-separated path of Jenkins item names.
func jenkinsName(s string) string {
	var parts []string
	for _, p := range strings.Split(s, "/") {
		if strings.TrimSpace(p) != "" {
			parts = append(parts, jenkinsItem(p))
		}
	}
	if len(parts) == 0 {
		return "project"
	}
	return strings.Join(parts, "/")
}
