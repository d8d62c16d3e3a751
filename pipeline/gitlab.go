package pipeline

import (
	"fmt"
	"path"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
	"gopkg.in/yaml.v3"
)

// gitlabReserved are top-level keys of .gitlab-ci.yml a job cannot be
// called, and pages, which GitLab treats as the Pages job.
var gitlabReserved = map[string]bool{
	"image": true, "services": true, "stages": true, "types": true, "before_script": true,
	"after_script": true, "variables": true, "cache": true, "include": true, "default": true,
	"workflow": true, "pages": true, "true": true, "false": true, "nil": true, "spec": true,
}

// gitlab writes .gitlab-ci.yml: a stage per level and a job per step (the
// jobs of a parallel group share a stage). Each module gets a child
// pipeline in its own directory, which the root file triggers. Files that
// later jobs need travel as untracked-file artifacts.
func gitlab(plans []*plan) ([]File, error) {
	var root *plan
	var modules []*plan
	for _, p := range plans {
		if p.module == "" {
			root = p
		} else {
			modules = append(modules, p)
		}
	}
	b, err := gitlabRootFile(plans, root, modules)
	if err != nil {
		return nil, err
	}
	files := []File{{Path: path.Join(plans[0].rootDir, ".gitlab-ci.yml"), Content: b}}
	for _, m := range modules {
		b, err := gitlabChildFile(m)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: path.Join(m.dir, ".gitlab-ci.yml"), Content: b})
	}
	return files, nil
}

// gitlabRootFile is the .gitlab-ci.yml at the top of the repository: the
// jobs of root (nil when only modules have steps), started by the triggers
// of any plan, then a stage that triggers each module's child pipeline.
func gitlabRootFile(plans []*plan, root *plan, modules []*plan) ([]byte, error) {
	first := plans[0]
	names, stageNames := newNamer(), newNamer()
	top := ymap()
	head := header(GitLab, &plan{root: first.root, rootDir: first.rootDir, install: first.install, slipway: first.slipway, agent: first.agent})
	var rules []string
	for _, p := range plans {
		rules = appendNew(rules, gitlabTriggerRules(p)...)
	}
	set(top, "workflow", set(ymap(), "rules", yseq(gitlabIfs(rules)...)))
	var stages []string
	var jobs [][2]*yaml.Node
	if root != nil {
		head = append(head, gitlabNotes(root)...)
		var err error
		// The root's jobs run only in the pipelines its own triggers start,
		// when those of its modules start more.
		var only []string
		if own := gitlabTriggerRules(root); len(own) < len(rules) {
			only = own
		}
		stages, jobs, err = gitlabJobs(root, names, stageNames, only)
		if err != nil {
			return nil, err
		}
		gitlabDefaults(top, root)
	}
	if len(modules) > 0 {
		stage := stageNames.id("modules")
		stages = append(stages, stage)
		jobs = append(jobs, gitlabTriggerJobs(modules, stage, names)...)
	}
	set(top, "stages", ylist(stages...))
	appendJobs(top, jobs)
	return encodeYAML(head, top)
}

// gitlabTriggerJobs are the jobs in stage that trigger each module's child
// pipeline and wait for it, each when the module's own triggers hold.
func gitlabTriggerJobs(modules []*plan, stage string, names *namer) [][2]*yaml.Node {
	var jobs [][2]*yaml.Node
	for _, m := range modules {
		j := ymap()
		set(j, "stage", ystr(stage))
		set(j, "trigger", set(set(ymap(), "include", ystr(path.Join(m.dir, ".gitlab-ci.yml"))), "strategy", ystr("depend")))
		set(j, "rules", yseq(gitlabIfs(gitlabTriggerRules(m))...))
		jobs = append(jobs, [2]*yaml.Node{ystr(gitlabJobName(slug(m.module), names)), j})
	}
	return jobs
}

// gitlabChildFile is the .gitlab-ci.yml of module m, a child pipeline that
// runs only when the root file triggers it.
func gitlabChildFile(m *plan) ([]byte, error) {
	doc := ymap()
	set(doc, "workflow", set(ymap(), "rules", yseq(set(ymap(), "if", ystr(`$CI_PIPELINE_SOURCE == "parent_pipeline"`)))))
	stages, jobs, err := gitlabJobs(m, newNamer(), newNamer(), nil)
	if err != nil {
		return nil, err
	}
	set(doc, "stages", ylist(stages...))
	gitlabDefaults(doc, m)
	appendJobs(doc, jobs)
	head := header(GitLab, m)
	head = append(head, "The root .gitlab-ci.yml triggers it as a child pipeline.")
	head = append(head, gitlabNotes(m)...)
	return encodeYAML(head, doc)
}

// gitlabIfs are the rules that each hold when one of the expressions
// holds, in order.
func gitlabIfs(exprs []string) []*yaml.Node {
	var out []*yaml.Node
	for _, e := range exprs {
		out = append(out, set(ymap(), "if", ystr(e)))
	}
	return out
}

// appendJobs adds each job, a name and its mapping, to the mapping doc.
func appendJobs(doc *yaml.Node, jobs [][2]*yaml.Node) {
	for _, j := range jobs {
		doc.Content = append(doc.Content, j[0], j[1])
	}
}

// gitlabNotes are the header lines naming the variables and approvals of p.
func gitlabNotes(p *plan) []string {
	var out []string
	if creds := p.usedCreds(); len(creds) > 0 {
		out = append(out, "", "CI/CD variables it reads (Settings > CI/CD > Variables; names from ci.yaml",
			"credentials; masked):")
		for _, c := range creds {
			names := ghSecrets(c)
			if c.kind == credFile {
				names[0] += " (type File)"
			}
			out = append(out, "  "+strings.Join(names, ", ")+": "+c.what())
		}
	}
	if c, ok := p.gitCred(); ok {
		out = append(out, "", "The release step pushes its tag with "+ghSecrets(c)[0]+": a project access token",
			"with the write_repository scope (role Maintainer where tags are protected).")
	} else if p.hasRelease() {
		out = append(out, "", "The release step pushes its tag with the job token (CI_JOB_TOKEN), which needs",
			"Settings > CI/CD > Job token permissions > Allow Git push requests (GitLab",
			"17.2 or later). Or set credentials.git in ci.yaml to a variable holding a",
			"project access token with the write_repository scope.")
	}
	out = append(out, gitopsNotes(p, GitLab)...)
	if gates := p.approvals(); len(gates) > 0 {
		out = append(out, "", "Approvals are manual jobs that hold the pipeline until someone runs them:",
			"  "+strings.Join(gates, ", "))
	}
	return out
}

// gitlabOrigin points origin at the project's URL without the job token
// the runner writes into it, which Slipway's push would otherwise use
// before its own credentials.
const gitlabOrigin = `git remote set-url origin "$CI_SERVER_URL/$CI_PROJECT_PATH.git"`

// gitlabDefaults sets the image, runner tag and variables every job gets.
func gitlabDefaults(doc *yaml.Node, p *plan) {
	def := ymap()
	if p.agent.Image != "" {
		set(def, "image", ystr(p.agent.Image))
	}
	if p.agent.Label != "" {
		set(def, "tags", ylist(p.agent.Label))
	}
	if p.install != nil {
		set(def, "before_script", yseq(yblock(p.install.script()+"\n")))
	}
	if len(def.Content) > 0 {
		set(doc, "default", def)
	}
	vars := ymap()
	set(vars, "GIT_DEPTH", ystr("0"))
	for _, v := range p.env {
		set(vars, v.name, ystr(gitlabEscape(v.value)))
	}
	set(doc, "variables", vars)
}

// gitlabJobs returns the stages and jobs of p; every job also needs one of
// the rules expressions in only, when there are any.
func gitlabJobs(p *plan, names, stageNames *namer, only []string) ([]string, [][2]*yaml.Node, error) {
	var stages []string
	var jobs [][2]*yaml.Node
	save := gitlabSaves(p)
	saved := false
	rulesNeeded := p.trigger.pullRequests || len(only) > 0
	for i, l := range p.levels {
		restore := saved && l.needsFiles()
		if l.parallel && l.approve {
			stage := stageNames.id("approve-" + l.id)
			stages = append(stages, stage)
			j, err := gitlabApprovalJob(l, stage, only, rulesNeeded, saved)
			if err != nil {
				return nil, nil, err
			}
			jobs = append(jobs, [2]*yaml.Node{ystr(gitlabJobName("approve-"+l.id, names)), j})
		}
		stage := stageNames.id(l.id)
		stages = append(stages, stage)
		for _, st := range l.steps {
			j, err := gitlabStepJob(p, l, st, stage, only, rulesNeeded)
			if err != nil {
				return nil, nil, err
			}
			if saved && !restore {
				set(j, "dependencies", yseq())
			}
			if save[i] {
				set(j, "artifacts", set(set(ymap(), "untracked", ybool(true)), "expire_in", ystr("1 day")))
			}
			jobs = append(jobs, [2]*yaml.Node{ystr(gitlabJobName(st.id, names)), j})
		}
		saved = saved || save[i]
	}
	return stages, jobs, nil
}

// gitlabSaves reports for each level of p whether its jobs keep their files
// as artifacts: it makes files and a later level needs them.
func gitlabSaves(p *plan) []bool {
	save := make([]bool, len(p.levels))
	for i, l := range p.levels {
		if !l.producesFiles() {
			continue
		}
		for _, later := range p.levels[i+1:] {
			save[i] = save[i] || later.needsFiles()
		}
	}
	return save
}

// gitlabApprovalJob is the manual job in stage that gates the approved
// parallel level l; it takes no artifacts once some were saved.
func gitlabApprovalJob(l *level, stage string, only []string, rulesNeeded, saved bool) (*yaml.Node, error) {
	j := ymap()
	set(j, "stage", ystr(stage))
	set(j, "script", ylist("echo Approved"))
	if err := gitlabRules(j, only, [][]whenAlt{alts(l.when)}, true, rulesNeeded); err != nil {
		return nil, err
	}
	if saved {
		set(j, "dependencies", yseq())
	}
	return j, nil
}

// gitlabStepJob is the job in stage that runs st of level l, with its
// environment, variables, script and rules.
func gitlabStepJob(p *plan, l *level, st *step, stage string, only []string, rulesNeeded bool) (*yaml.Node, error) {
	j := ymap()
	set(j, "stage", ystr(stage))
	if st.deploy != "" {
		env := st.deploy
		if p.module != "" {
			env = p.module + "/" + env
		}
		set(j, "environment", set(ymap(), "name", ystr(env)))
	}
	vars, script := gitlabStepScript(p, st)
	if len(vars.Content) > 0 {
		set(j, "variables", vars)
	}
	set(j, "script", ylist(script...))
	manual := l.approve && !l.parallel
	c := conds(l, st)
	if len(c) == 0 {
		c = [][]whenAlt{nil}
	}
	if err := gitlabRules(j, only, c, manual, rulesNeeded); err != nil {
		return nil, fmt.Errorf("step %s: %w", st.name, err)
	}
	return j, nil
}

// gitlabStepScript is the variables and the script of st's job. The
// release step first points origin at the project's URL, and pushes with
// the job token when ci.yaml names no git credentials.
func gitlabStepScript(p *plan, st *step) (*yaml.Node, []string) {
	vars := ymap()
	for _, v := range st.env {
		set(vars, v.name, ystr(gitlabEscape(v.value)))
	}
	for _, c := range st.creds {
		for k, v := range ghSecrets(c) {
			// A CI/CD variable is in every job's environment
			// already; only a different name needs mapping.
			if v != c.vars[k] {
				set(vars, c.vars[k], ystr("$"+v))
			}
		}
	}
	script := []string{p.command(st)}
	if st.kind == config.StepRelease {
		if _, ok := p.gitCred(); !ok && !st.setsGitVar() {
			set(vars, gitUsernameVar, ystr("gitlab-ci-token"))
			set(vars, gitPasswordVar, ystr("$CI_JOB_TOKEN"))
		}
		script = append([]string{gitlabOrigin}, script...)
	}
	return vars, script
}

// gitlabRules sets the rules (or when) of job j: one of the expressions in
// only (when any) and every group must hold, each group by any of its
// alternatives; a nil group always holds.
func gitlabRules(j *yaml.Node, only []string, groups [][]whenAlt, manual, always bool) error {
	exprs := []string{""}
	if len(only) > 0 {
		exprs = only
	}
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		var next []string
		for _, e := range exprs {
			for _, a := range g {
				x, err := gitlabAlt(a)
				if err != nil {
					return err
				}
				if e != "" {
					x = e + " && " + x
				}
				next = append(next, x)
			}
		}
		exprs = next
	}
	when := "on_success"
	if manual {
		when = "manual"
	}
	if len(exprs) == 1 && exprs[0] == "" && !always {
		if manual {
			set(j, "when", ystr(when))
			set(j, "allow_failure", ybool(false))
		}
		return nil
	}
	var rules []*yaml.Node
	for _, e := range exprs {
		r := ymap()
		if e != "" {
			set(r, "if", ystr(e))
		}
		if manual || e == "" {
			set(r, "when", ystr(when))
		}
		rules = append(rules, r)
	}
	set(j, "rules", yseq(rules...))
	if manual {
		set(j, "allow_failure", ybool(false))
	}
	return nil
}

// gitlabAlt is the rules expression of one when alternative.
func gitlabAlt(a whenAlt) (string, error) {
	if a.tag {
		return "$CI_COMMIT_TAG", nil
	}
	return gitlabMatch("$CI_COMMIT_BRANCH", a.branch)
}

// gitlabMatch compares variable v with a name or glob.
func gitlabMatch(v, glob string) (string, error) {
	if !strings.ContainsAny(glob, "*?[") {
		q, err := gitlabString(glob)
		if err != nil {
			return "", err
		}
		return v + " == " + q, nil
	}
	return v + " =~ /^" + globRegexp(glob) + "$/", nil
}

// gitlabTriggerRules are the workflow rules that start the pipeline of p.
func gitlabTriggerRules(p *plan) []string {
	var out []string
	for _, b := range p.trigger.branches {
		if r, err := gitlabMatch("$CI_COMMIT_BRANCH", b); err == nil {
			out = append(out, r)
		}
	}
	if t := p.trigger.tags; t == "*" {
		out = append(out, "$CI_COMMIT_TAG")
	} else if t != "" {
		out = append(out, "$CI_COMMIT_TAG =~ /^"+globRegexp(t)+"$/")
	}
	if p.trigger.pullRequests {
		out = append(out, `$CI_PIPELINE_SOURCE == "merge_request_event"`)
	}
	return out
}

// globRegexp turns a glob into a regular expression body for GitLab's
// /.../ syntax: * matches within a path segment, ** across them.
func globRegexp(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '/':
			b.WriteString(`\/`)
		case strings.IndexByte(`\.+()|[]{}^$`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// gitlabString quotes s for a rules expression.
func gitlabString(s string) (string, error) {
	switch {
	case !strings.Contains(s, `"`):
		return `"` + s + `"`, nil
	case !strings.Contains(s, `'`):
		return `'` + s + `'`, nil
	}
	return "", fmt.Errorf("%q holds both kinds of quote, which a GitLab rule cannot compare", s)
}

// gitlabEscape doubles '$', which GitLab would otherwise expand in a
// variable's value.
func gitlabEscape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// gitlabJobName makes a job name that is no reserved key.
func gitlabJobName(id string, names *namer) string {
	if gitlabReserved[strings.ToLower(id)] {
		id += "-job"
	}
	return names.id(id)
}

// appendNew appends the items not yet in list.
func appendNew(list []string, items ...string) []string {
outer:
	for _, it := range items {
		for _, x := range list {
			if x == it {
				continue outer
			}
		}
		list = append(list, it)
	}
	return list
}
