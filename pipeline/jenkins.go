package pipeline

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"sync"
	"text/template"

	"github.com/slipwayhq/slipway/config"
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
	Header       string
	Image, Label string
	Env          []groovyVar
	Stages       []jenkinsStage
}

// groovyVar is an environment variable with its value quoted.
type groovyVar struct{ Name, Value string }

// jenkinsStage is a declarative stage; its Parallel stages, when set,
// replace its steps.
type jenkinsStage struct {
	I        string // indent
	Name     string
	When     []string // lines of the when block
	Input    *jenkinsInput
	Env      []groovyVar
	Creds    []string // withCredentials bindings
	Step     string
	Parallel []jenkinsStage
}

type jenkinsInput struct{ Message, OK string }

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

func jenkinsfile(p *plan) ([]byte, error) {
	head := header(Jenkinsfile, p)
	head = append(head, "",
		"Run it as a multibranch pipeline (slipway pipeline generate --target",
		"jenkins-jobdsl writes the job): `when { branch ... }` needs BRANCH_NAME.")
	if creds := p.usedCreds(); len(creds) > 0 {
		head = append(head, "", "Jenkins credentials it uses (IDs from ci.yaml credentials):")
		for _, c := range creds {
			head = append(head, fmt.Sprintf("  %s (%s): %s", c.id, c.kindName(), strings.Join(c.vars, ", ")))
		}
	}
	v := jenkinsfileView{Header: comment("//", head)}
	if p.agent.Image != "" {
		v.Image = groovyQuote(p.agent.Image)
	}
	if p.agent.Label != "" {
		v.Label = groovyQuote(p.agent.Label)
	}
	env, err := groovyVars(p.env)
	if err != nil {
		return nil, err
	}
	v.Env = env
	const indent = "        "
	for _, l := range p.levels {
		if !l.parallel {
			st := l.steps[0]
			s, err := jenkinsStep(p, st, indent)
			if err != nil {
				return nil, err
			}
			s.When = jenkinsWhen(l.approve, st.when)
			if l.approve {
				s.Input = jenkinsApproval(st.name, st)
			}
			v.Stages = append(v.Stages, s)
			continue
		}
		if l.approve {
			v.Stages = append(v.Stages, jenkinsStage{
				I:     indent,
				Name:  groovyQuote("Approve " + l.name),
				When:  jenkinsWhen(true, l.when),
				Input: jenkinsApproval(l.name, nil),
				Step:  "echo " + groovyQuote("Approved: "+l.name),
			})
		}
		group := jenkinsStage{I: indent, Name: groovyQuote(l.name), When: jenkinsWhen(false, l.when)}
		for _, st := range l.steps {
			s, err := jenkinsStep(p, st, indent+"        ")
			if err != nil {
				return nil, err
			}
			s.When = jenkinsWhen(false, st.when)
			group.Parallel = append(group.Parallel, s)
		}
		v.Stages = append(v.Stages, group)
	}
	return render("Jenkinsfile.tmpl", v)
}

// jenkinsStep is the stage that runs st.
func jenkinsStep(p *plan, st *step, indent string) (jenkinsStage, error) {
	env, err := groovyVars(st.env)
	if err != nil {
		return jenkinsStage{}, fmt.Errorf("step %s: %w", st.name, err)
	}
	s := jenkinsStage{I: indent, Name: groovyQuote(st.name), Env: env, Step: "sh " + groovyQuote(p.command(st))}
	for _, c := range st.creds {
		id := groovyQuote(c.id)
		switch c.kind {
		case credUserPass:
			s.Creds = append(s.Creds, fmt.Sprintf("usernamePassword(credentialsId: %s, usernameVariable: %s, passwordVariable: %s)", id, groovyQuote(c.vars[0]), groovyQuote(c.vars[1])))
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
	head := header(JenkinsJobDSL, &plan{root: first.root, rootDir: first.rootDir})
	head = append(head, "",
		"Multibranch jobs read the Jenkinsfile that --target jenkinsfile writes.",
		"Jenkins plugins: job-dsl, cloudbees-folder, workflow-multibranch, git,",
		"pipeline-model-definition, credentials-binding (and docker-workflow for agent.image).")
	tags, prs := false, false
	for _, p := range plans {
		tags = tags || p.trigger.tags != ""
		prs = prs || p.trigger.pullRequests
	}
	if tags {
		head = append(head, "",
			"Jenkins discovers tags but builds them only when started by hand, or with",
			"the basic-branch-build-strategies plugin's buildTags strategy.")
	}
	if prs {
		head = append(head, "",
			"ci.yaml runs on pull requests, which the plain git branch source does not",
			"discover: use the GitHub, GitLab or Bitbucket branch source for that.")
	}
	v := jobDSLView{Header: comment("//", head)}
	if first.repo != "" {
		v.Repo = groovyQuote(first.repo)
	}
	folder := jenkinsName(first.folder)
	parts := strings.Split(folder, "/")
	for i := range parts {
		v.Folders = append(v.Folders, groovyQuote(strings.Join(parts[:i+1], "/")))
	}
	for _, p := range plans {
		name := folder + "/" + jenkinsItem(p.name)
		includes := append([]string(nil), p.trigger.branches...)
		if p.trigger.tags != "" {
			includes = append(includes, p.trigger.tags)
		}
		desc := "Runs " + path.Join(p.dir, "Jenkinsfile") + ", generated by Slipway from " + path.Join(p.dir, config.CIFile) + "."
		v.Jobs = append(v.Jobs, jobDSLJob{
			Name:        groovyQuote(name),
			Display:     groovyQuote(p.name),
			Description: groovyQuote(desc),
			SourceID:    groovyQuote("slipway-" + slug(name)),
			Includes:    groovyQuote(strings.Join(includes, " ")),
			ScriptPath:  groovyQuote(path.Join(p.dir, "Jenkinsfile")),
			Tags:        p.trigger.tags != "",
		})
	}
	b, err := render("jobdsl.groovy.tmpl", v)
	if err != nil {
		return nil, err
	}
	return []File{{Path: path.Join(first.rootDir, "jobs", jenkinsItem(first.root)+".groovy"), Content: b}}, nil
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
