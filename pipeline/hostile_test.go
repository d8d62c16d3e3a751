package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/slipwayhq/slipway/internal/config"
	"gopkg.in/yaml.v3"
)

// markToken stands for the path of the marker file in hostile values: a
// value that ran would create it.
const markToken = "MARK"

// hostileTemplates are values that mean something to a shell, Groovy, YAML,
// GitHub expressions or GitLab and Drone variable expansion. MARK is
// replaced by the marker file's path.
var hostileTemplates = []string{
	"$(touch MARK)", "`touch MARK`", "'; touch MARK; '", `"; touch MARK; "`, "x; touch MARK",
	"&& touch MARK", "| touch MARK", "a\n touch MARK",
	"${{ github.token }}", "${{ secrets.X }}", "${{ '' }}", "}} ${{",
	`"""`, "'''", "${System.exit(1)}", "${new File('MARK').createNewFile()}",
	`\u000a`, `\u0027; new File('MARK').createNewFile(); //`, `\`, `\'`, "a\nb",
	"$CI_JOB_TOKEN", "${CI_JOB_TOKEN}", "$$", "$$CI_JOB_TOKEN", "$DRONE_COMMIT_MESSAGE", "${DRONE_COMMIT_MESSAGE}",
	": #", "{", "*alias", "!!binary", "- x", "a\u2028b", "a\u2029b", "a\u0085b", "\ufeffx",
	"-rf", "--help", "*", "main", "GIT_DEPTH", "KUBECONFIG", "SLIPWAY_REGISTRY_DEV_PASSWORD",
}

// hostileField is a place a value can reach generated files from.
type hostileField struct {
	name string // what the tests call it
	// problem is the field config check reports a refused value at ("" for
	// values that do not come from configuration files).
	problem string
	set     func(c *hostileCase, v string)
}

// hostileCase is a project with one hostile value in it.
type hostileCase struct {
	app, registry, env, task, image, label, slipway, branch, whenBranch string
	credID, purpose, envName, envValue, taskValue, stepValue, stepName  string
	module                                                              string
	dir, inputBranch, repo, name, folder                                string
}

func defaultCase() *hostileCase {
	return &hostileCase{
		app: "shop", registry: "dev", env: "dev", task: "ciBuild", image: "golang:1.26", label: "linux",
		branch: "main", whenBranch: "main", credID: "reg-dev", purpose: "sonar-token",
		envName: "GREETING", envValue: "hello", taskValue: "t", stepValue: "s", stepName: "push it",
	}
}

var hostileFields = []hostileField{
	{"app", "app", func(c *hostileCase, v string) { c.app = v }},
	{"registry name", "registries.%s", func(c *hostileCase, v string) { c.registry = v }},
	{"environment name", "environments.%s", func(c *hostileCase, v string) { c.env = v }},
	{"task name", "tasks.%s", func(c *hostileCase, v string) { c.task = v }},
	{"module", "modules[0]", func(c *hostileCase, v string) { c.module = v }},
	{"trigger branch", "triggers.branches[0]", func(c *hostileCase, v string) { c.branch = v }},
	{"when branch", "pipeline[1].when.branch[0]", func(c *hostileCase, v string) { c.whenBranch = v }},
	{"agent image", "agent.image", func(c *hostileCase, v string) { c.image = v }},
	{"agent label", "agent.label", func(c *hostileCase, v string) { c.label = v }},
	{"agent slipway", "agent.slipway", func(c *hostileCase, v string) { c.slipway = v }},
	{"credential id", "credentials.registry-dev", func(c *hostileCase, v string) { c.credID = v }},
	{"credential purpose", "credentials.%s", func(c *hostileCase, v string) { c.purpose = v }},
	{"env name", "env.%s", func(c *hostileCase, v string) { c.envName = v }},
	// The values of ci.yaml env, a task's env and a step's env, at once:
	// free text, refused only for a NUL or a byte-order mark.
	{"env values", "env.GREETING", func(c *hostileCase, v string) { c.envValue, c.taskValue, c.stepValue = v, v, v }},
	{"step name", "pipeline[1].name", func(c *hostileCase, v string) { c.stepName = v }},
	{"project directory", "", func(c *hostileCase, v string) { c.dir = v }},
	{"default branch", "", func(c *hostileCase, v string) { c.inputBranch = v }},
	{"repository URL", "", func(c *hostileCase, v string) { c.repo = v }},
	{"job name", "", func(c *hostileCase, v string) { c.name = v }},
	{"jenkins folder", "", func(c *hostileCase, v string) { c.folder = v }},
}

// taskCommand is the task's command: trusted, run by `slipway ci`, and so
// never in a generated file.
const taskCommand = "echo ${{ secrets.X }} $CI_JOB_TOKEN $(touch MARK)"

// files are the case's slipway.yaml and ci.yaml.
func (c *hostileCase) files(mark string) (project, ci string) {
	q := yamlQuote
	project = fmt.Sprintf("apiVersion: slipway/v1\napp: %s\nregistries:\n  %s: registry.example.com/team\nenvironments:\n  %s: {registry: %s}\n",
		q(c.app), q(c.registry), q(c.env), q(c.registry))
	var b strings.Builder
	b.WriteString("apiVersion: slipway/v1\n")
	fmt.Fprintf(&b, "agent: {image: %s, label: %s", q(c.image), q(c.label))
	if c.slipway != "" {
		fmt.Fprintf(&b, ", slipway: %s", q(c.slipway))
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "triggers: {branches: [%s], tags: true, pullRequests: true}\n", q(c.branch))
	fmt.Fprintf(&b, "credentials: {registry-dev: %s, kubeconfig: kube-id, %s: token-id}\n", q(c.credID), q(c.purpose))
	fmt.Fprintf(&b, "env: {%s: %s, PLAIN: plain}\n", q(c.envName), q(c.envValue))
	fmt.Fprintf(&b, "tasks:\n  %s: {run: %s, env: {TASK_VAR: %s}}\n", q(c.task), q(strings.ReplaceAll(taskCommand, markToken, mark)), q(c.taskValue))
	if c.module != "" {
		fmt.Fprintf(&b, "modules: [%s]\n", q(c.module))
	}
	b.WriteString("pipeline:\n")
	fmt.Fprintf(&b, "  - %s\n", q(c.task))
	fmt.Fprintf(&b, "  - {push: %s, name: %s, env: {STEP_VAR: %s}, when: {branch: [%s]}}\n", q(c.env), q(c.stepName), q(c.stepValue), q(c.whenBranch))
	b.WriteString("  - release\n  - build\n")
	fmt.Fprintf(&b, "  - {deploy: %s, approve: true}\n", q(c.env))
	fmt.Fprintf(&b, "  - parallel: [%s, {task: %s, name: %s}]\n", q(c.task), q(c.task), q(c.stepName+" again"))
	return project, b.String()
}

// yamlQuote writes s as a double-quoted YAML scalar.
func yamlQuote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	// JSON strings are YAML double-quoted scalars, but for the line and
	// paragraph separators, which JSON leaves bare and YAML 1.1 breaks at.
	out := strings.NewReplacer("\u2028", `\L`, "\u2029", `\P`, "\u0085", `\N`).Replace(string(b))
	return out
}

// hostileRun is a case that passed config check, generated.
type hostileRun struct {
	label string // field=value, for messages
	field hostileField
	c     *hostileCase
	in    Input
	files map[Target][]File
}

// loadHostile validates a case as `slipway config check` does: it returns
// the problems, or the input to generate from.
func loadHostile(c *hostileCase, mark string) (Input, error) {
	pyaml, ciyaml := c.files(mark)
	p, err := config.ParseProject("slipway.yaml", []byte(pyaml))
	if err != nil {
		return Input{}, err
	}
	ci, err := config.ParseCI("ci.yaml", []byte(ciyaml), p)
	if err != nil {
		return Input{}, err
	}
	in := Input{ci: ci, project: p, Dir: c.dir, Branch: c.inputBranch, Repo: c.repo, Name: c.name, Folder: c.folder}
	if c.module != "" {
		// The module is the same project again, in its directory.
		mp, _ := config.ParseProject("slipway.yaml", []byte(pyaml))
		mc, _ := config.ParseCI("ci.yaml", []byte(strings.Replace(ciyaml, "modules:", "#", 1)), mp)
		in.Modules = map[string]Input{c.module: {ci: mc, project: mp}}
	}
	return in, nil
}

// hostileRuns checks every field with every hostile value: either config
// check refuses it with a problem at the field, or Generate refuses it
// (for values given to Generate directly), or it returns the generated
// runs for the tests to execute.
func hostileRuns(t *testing.T, mark string) []*hostileRun {
	t.Helper()
	var runs []*hostileRun
	for _, f := range hostileFields {
		for i, tmpl := range hostileTemplates {
			v := strings.ReplaceAll(tmpl, markToken, mark)
			c := defaultCase()
			f.set(c, v)
			label := fmt.Sprintf("%s=%q", f.name, tmpl)
			in, err := loadHostile(c, mark)
			if err != nil {
				want := strings.ReplaceAll(f.problem, "%s", v)
				if want == "" || !problemAt(err, want) {
					t.Errorf("%s: config check: want a problem at %q, got %v", label, want, err)
				}
				continue
			}
			r := &hostileRun{label: label, field: f, c: c, in: in, files: map[Target][]File{}}
			refused := 0
			for _, target := range Targets {
				files, err := Generate(target, in)
				if err != nil {
					if f.problem != "" {
						t.Errorf("%s: config check passed it, but generating %s failed: %v", label, target, err)
					}
					refused++
					continue
				}
				r.files[target] = files
				for _, file := range files {
					if bytes.Contains(file.Content, []byte(strings.ReplaceAll(taskCommand, markToken, mark))) {
						t.Errorf("%s: %s holds the task's command, which only slipway ci runs", label, file.Path)
					}
				}
			}
			if refused > 0 && refused < len(Targets) {
				t.Errorf("%s: refused by some targets only", label)
			}
			// A value the grammars accept and no language reads
			// anything into needs no run.
			// With -short, a third of the values run; config check and
			// generation still see every one.
			if refused == 0 && !inert.MatchString(v) && (!testing.Short() || i%3 == 0) {
				runs = append(runs, r)
			}
		}
	}
	return runs
}

// slipwaySet reports whether the case sets agent.slipway, the command
// that runs Slipway: the team's own, meant to run, so checked by its text.
func (r *hostileRun) slipwaySet() bool { return r.slipway() != "" }

// slipway is the command that runs Slipway in r, as ci.yaml writes it.
func (r *hostileRun) slipway() string { return strings.TrimSpace(r.c.slipway) }

// inert matches values that mean nothing to a shell, Groovy, YAML or a CI
// system's expansion.
var inert = regexp.MustCompile(`^[A-Za-z0-9._/*-]*$`)

// reachesShell reports whether the field of r can reach a shell command.
func (r *hostileRun) reachesShell() bool {
	switch r.field.name {
	case "repository URL", "job name", "jenkins folder", "step name", "agent label", "agent image", "credential id", "credential purpose":
		return false
	}
	return true
}

// problemAt reports whether err holds a problem at field, with a position.
func problemAt(err error, field string) bool {
	var ps config.Problems
	if !errors.As(err, &ps) {
		return false
	}
	for _, p := range ps {
		if p.Field == field && p.Line > 0 {
			return true
		}
	}
	return false
}

// shellRun is one shell script a CI system runs, after the CI system's own
// processing of the generated file.
type shellRun struct {
	where  string
	script string
	env    map[string]string
}

// expectedArgv lists the argument lists Slipway may be run with in r.
func (r *hostileRun) expectedArgv() [][]string {
	c := r.c
	var out [][]string
	for _, a := range [][]string{{"ci", c.task}, {"push", c.env, "--no-deps"}, {"deploy", c.env, "--no-deps", "--wait-lock=5m"}, {"release", "--push"}, {"build", "--no-deps"}} {
		if c.dir != "" {
			a = append([]string{"-C", c.dir}, a...)
		}
		out = append(out, a)
	}
	return out
}

// expectedEnv is the environment every Slipway run must get, literally.
func (r *hostileRun) expectedEnv(argv []string) map[string]string {
	c := r.c
	env := map[string]string{c.envName: c.envValue, "PLAIN": "plain"}
	if slices.Contains(argv, "ci") {
		env["TASK_VAR"] = c.taskValue
	}
	if slices.Contains(argv, "push") {
		env["STEP_VAR"] = c.stepValue
	}
	return env
}

// TestHostileValuesNeverRun generates every target for every field holding
// every hostile value that config check lets through, and runs what CI
// systems would run: the shell of GitHub, GitLab and Drone jobs under bash
// after the system's own expansion, the Jenkinsfile and Job DSL under
// groovy with stubs of the DSL. No marker file may appear, no process may
// exit early, Slipway must get exactly its arguments and environment, and
// GitHub must find no expression Slipway did not write.
func TestHostileValuesNeverRun(t *testing.T) {
	t.Parallel() // mostly waiting on processes
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	mark := filepath.Join(dir, "pwned")
	runs := hostileRuns(t, mark)
	if (len(runs) < 100 && !testing.Short()) || len(runs) < 30 {
		t.Fatalf("only %d cases passed config check; the corpus no longer exercises the escaping", len(runs))
	}
	stubs := stubBin(t, dir)
	// Groovy runs beside the shells: the JVM takes its time.
	var groovyFiles []string
	groovyOf := map[string]*hostileRun{}
	for i, r := range runs {
		for _, target := range []Target{Jenkinsfile, JenkinsJobDSL} {
			if target == Jenkinsfile && r.field.name == "repository URL" {
				continue // only the Job DSL has it
			}
			for j, f := range r.files[target] {
				p := filepath.Join(dir, fmt.Sprintf("case%d_%d.%s", i, j, target))
				if err := os.WriteFile(p, f.Content, 0o644); err != nil {
					t.Fatal(err)
				}
				groovyFiles = append(groovyFiles, p)
				groovyOf[p] = r
			}
		}
	}
	groovy := startGroovy(t, dir, groovyFiles)
	lintWorkflows(t, dir, runs)
	for _, r := range runs {
		var shells []shellRun
		shells = append(shells, githubShells(t, r)...)
		shells = append(shells, gitlabShells(t, r)...)
		shells = append(shells, droneShells(t, r)...)
		if !r.reachesShell() {
			continue
		}
		for _, s := range shells {
			runShell(t, bash, stubs, dir, mark, r, s)
		}
	}
	if groovy != nil {
		finishGroovy(t, groovy, bash, stubs, dir, mark, groovyFiles, groovyOf)
	}
}

// lintWorkflows runs actionlint, when installed, over every generated
// workflow: hostile values must leave them valid.
func lintWorkflows(t *testing.T, dir string, runs []*hostileRun) {
	t.Helper()
	lint, err := exec.LookPath("actionlint")
	if err != nil {
		t.Log("actionlint is not installed: the workflows are checked by its parser only")
		return
	}
	wdir := filepath.Join(dir, "workflows", ".github", "workflows")
	if err := os.MkdirAll(wdir, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	label := map[string]string{}
	for i, r := range runs {
		for j, f := range r.files[GitHub] {
			p := filepath.Join(wdir, fmt.Sprintf("case%d_%d.yml", i, j))
			if err := os.WriteFile(p, f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
			label[filepath.Base(p)] = r.label
		}
	}
	cmd := exec.Command(lint, append([]string{"-no-color", "-shellcheck=", "-pyflakes=", "-format", "{{range $err := .}}{{$err.Filepath}}: {{$err.Message}}\n{{end}}"}, paths...)...)
	cmd.Dir = filepath.Join(dir, "workflows")
	out, err := cmd.CombinedOutput()
	if err != nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			file, msg, _ := strings.Cut(line, ": ")
			t.Errorf("actionlint: %s: %s", label[filepath.Base(file)], msg)
		}
	}
}

// stubBin writes stand-ins for slipway, git and tar: slipway records its
// arguments and environment in $SLIPWAY_RECORD.
func stubBin(t *testing.T, dir string) string {
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	stubs := map[string]string{
		"slipway": "#!/bin/bash\n{ printf '%s\\0' \"$@\"; printf '\\n'; for v in $SLIPWAY_CHECK; do printf '%s=%s\\0' \"$v\" \"${!v}\"; done; } > \"$SLIPWAY_RECORD/$$\"\n",
		"git":     "#!/bin/sh\nexit 0\n",
		"tar":     "#!/bin/sh\nexit 0\n",
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// runsSlipway matches a script that runs the stand-in slipway.
var runsSlipway = regexp.MustCompile(`(?m)^slipway `)

// runShell runs s under bash, when it runs slipway, and checks what
// reached the stand-in.
func runShell(t *testing.T, bash, stubs, dir, mark string, r *hostileRun, s shellRun) {
	t.Helper()
	if !runsSlipway.MatchString(s.script) {
		return
	}
	work := filepath.Join(dir, "work")
	record := filepath.Join(dir, "record")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{work, record, tmp} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	check := []string{"PLAIN", "TASK_VAR", "STEP_VAR"}
	if envName.MatchString(r.c.envName) {
		check = append(check, r.c.envName)
	}
	cmd := exec.Command(bash, "-e", "-c", s.script)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + stubs + ":/usr/bin:/bin", "HOME=" + tmp, "TMPDIR=" + tmp, "RUNNER_TEMP=" + tmp,
		"SLIPWAY_RECORD=" + record, "SLIPWAY_CHECK=" + strings.Join(check, " ")}
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	where := r.label + ": " + s.where
	if err != nil {
		t.Errorf("%s: the script failed: %v\n%s\n--- script:\n%s", where, err, out, s.script)
		return
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatalf("%s: the marker file appeared: a hostile value ran\n--- script:\n%s", where, s.script)
	}
	if left, _ := os.ReadDir(work); len(left) > 0 {
		t.Errorf("%s: the script left %s in the workspace: a hostile value ran", where, left[0].Name())
	}
	entries, _ := os.ReadDir(record)
	if len(entries) != 1 {
		t.Errorf("%s: slipway ran %d times, want once\n--- script:\n%s", where, len(entries), s.script)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(record, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		args, envText, _ := bytes.Cut(b, []byte("\n"))
		argv := strings.Split(strings.TrimSuffix(string(args), "\x00"), "\x00")
		ok := false
		for _, want := range r.expectedArgv() {
			ok = ok || slices.Equal(argv, want)
		}
		if !ok {
			t.Errorf("%s: slipway got the arguments %q, want one of %q", where, argv, r.expectedArgv())
		}
		got := map[string]string{}
		for _, kv := range strings.Split(string(envText), "\x00") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				got[k] = v
			}
		}
		for k, v := range r.expectedEnv(argv) {
			if got[k] != v {
				t.Errorf("%s: slipway %q got %s=%q, want %q", where, argv, k, got[k], v)
			}
		}
	}
}

// githubShells checks the expressions of the workflows of r and returns the
// run steps of their jobs, as GitHub runs them.
func githubShells(t *testing.T, r *hostileRun) []shellRun {
	t.Helper()
	var out []shellRun
	var names []string // the steps' names, as GitHub shows them
	for _, f := range r.files[GitHub] {
		var doc yaml.Node
		if err := yaml.Unmarshal(f.Content, &doc); err != nil {
			t.Errorf("%s: %s is not YAML: %v", r.label, f.Path, err)
			continue
		}
		// The expressions of the whole file: only those Slipway writes.
		walkScalars(doc.Content[0], "", func(path string, n *yaml.Node) {
			if err := checkGitHubScalar(path, n.Value, secretNames(r.in)); err != nil {
				t.Errorf("%s: %s: %s: %v", r.label, f.Path, path, err)
			}
		})
		var wf struct {
			Env  map[string]string
			Jobs map[string]struct {
				Name  string
				Steps []struct {
					Name string
					Env  map[string]string
					Run  string
				}
			}
		}
		if err := doc.Decode(&wf); err != nil {
			t.Fatal(err)
		}
		for id, j := range wf.Jobs {
			for _, st := range j.Steps {
				if st.Run == "" {
					continue
				}
				env := map[string]string{}
				for k, v := range wf.Env {
					env[k] = ghEval(t, v)
				}
				for k, v := range st.Env {
					env[k] = ghEval(t, v)
				}
				run := ghEval(t, st.Run)
				if r.slipwaySet() && (strings.Contains(run, "--no-deps") || strings.Contains(run, " ci ")) &&
					!strings.Contains("\n"+run, "\n"+r.slipway()+" ") {
					t.Errorf("%s: GitHub runs %q, not the command as written", r.label, run)
				}
				out = append(out, shellRun{where: "github job " + id + " step " + st.Name, script: run, env: env})
				names = append(names, ghEval(t, st.Name))
			}
		}
	}
	if r.field.name == "step name" && len(r.files[GitHub]) > 0 && !slices.Contains(names, r.c.stepName) {
		t.Errorf("%s: no GitHub step is named %q: %q", r.label, r.c.stepName, names)
	}
	if r.slipwaySet() {
		return nil // the team's command, meant to run; checked by its text
	}
	return out
}

// walkScalars calls f with every scalar under n and its path.
func walkScalars(n *yaml.Node, path string, f func(string, *yaml.Node)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkScalars(n.Content[i+1], strings.TrimPrefix(path+"."+n.Content[i].Value, "."), f)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkScalars(c, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case yaml.ScalarNode:
		f(path, n)
	}
}

// secretNames are the GitHub secrets the workflow of in may read.
func secretNames(in Input) []string {
	var out []string
	for _, c := range credentials(in.ci.Credentials) {
		out = append(out, ghSecrets(c)...)
	}
	return out
}

var ghStepIf = regexp.MustCompile(`^jobs\.[^.]+(\.steps\[\d+\])?\.if$`)

// checkGitHubScalar checks that the expressions GitHub would evaluate in
// the value at path are the ones Slipway writes: the '${{' string that
// escapes a literal ${{, a whole `${{ secrets.NAME }}` environment value, and
// the branch and tag conditions of an if.
func checkGitHubScalar(path, value string, secrets []string) error {
	if strings.HasPrefix(path, "on.") {
		return nil // branch and tag filters, not evaluated
	}
	if ghStepIf.MatchString(path) {
		src := value
		if s, ok := strings.CutPrefix(src, "${{"); ok {
			src = strings.TrimSuffix(s, "}}")
		}
		node, perr := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(src + "}}"))
		if perr != nil {
			return fmt.Errorf("the condition %q does not parse: %s", value, perr.Message)
		}
		return checkCondition(node)
	}
	exprs, err := ghExpressions(value)
	if err != nil {
		return err
	}
	for _, e := range exprs {
		switch n := e.(type) {
		case *actionlint.StringNode:
			if n.Value == "${{" {
				continue
			}
		case *actionlint.ObjectDerefNode:
			// actionlint reads property names in lower case, as GitHub
			// matches them.
			// The release step's token, under the one name it may have.
			if v, ok := n.Receiver.(*actionlint.VariableNode); ok && v.Name == "github" && n.Property == "token" &&
				strings.HasSuffix(path, ".env."+gitTokenVar) && value == "${{ github.token }}" {
				continue
			}
			if v, ok := n.Receiver.(*actionlint.VariableNode); ok && v.Name == "secrets" && strings.Contains(path, ".env.") {
				if i := slices.IndexFunc(secrets, func(s string) bool { return strings.EqualFold(s, n.Property) }); i >= 0 && value == "${{ secrets."+secrets[i]+" }}" {
					continue
				}
			}
		}
		return fmt.Errorf("%q holds an expression Slipway did not write", value)
	}
	return nil
}

// checkCondition allows the functions, context and literals of the
// conditions Slipway writes.
func checkCondition(node actionlint.ExprNode) error {
	var err error
	actionlint.VisitExprNode(node, func(n, parent actionlint.ExprNode, entering bool) {
		if !entering || err != nil {
			return
		}
		switch n := n.(type) {
		case *actionlint.FuncCallNode:
			if !slices.Contains([]string{"startswith", "cancelled", "failure"}, strings.ToLower(n.Callee)) {
				err = fmt.Errorf("calls %s", n.Callee)
			}
		case *actionlint.VariableNode:
			d, ok := parent.(*actionlint.ObjectDerefNode)
			if n.Name != "github" || !ok || d.Property != "ref" {
				err = fmt.Errorf("reads %s", n.Name)
			}
		case *actionlint.ObjectDerefNode, *actionlint.StringNode, *actionlint.LogicalOpNode, *actionlint.CompareOpNode, *actionlint.NotOpNode:
		default:
			err = fmt.Errorf("holds a %T", n)
		}
	})
	return err
}

// ghExpressions finds the ${{ }} expressions in s as actionlint does.
func ghExpressions(s string) ([]actionlint.ExprNode, error) {
	var out []actionlint.ExprNode
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			return out, nil
		}
		s = s[i+3:]
		_, end, lerr := actionlint.LexExpression(s)
		if lerr != nil {
			return nil, fmt.Errorf("an expression does not lex: %s", lerr.Message)
		}
		node, perr := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(s[:end]))
		if perr != nil {
			return nil, fmt.Errorf("an expression does not parse: %s", perr.Message)
		}
		out = append(out, node)
		s = s[end:]
	}
}

// ghEval evaluates the expressions of s: string literals give their value
// and secrets a stand-in.
func ghEval(t *testing.T, s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i+3:]
		_, end, lerr := actionlint.LexExpression(s)
		if lerr != nil {
			t.Fatalf("lexing %q: %s", s, lerr.Message)
		}
		node, perr := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(s[:end]))
		if perr != nil {
			t.Fatalf("parsing %q: %s", s, perr.Message)
		}
		switch n := node.(type) {
		case *actionlint.StringNode:
			b.WriteString(n.Value)
		default:
			b.WriteString("SECRET")
		}
		s = s[end:]
	}
}

// gitlabVariables stand for what GitLab would put in a job's environment.
var gitlabVariables = map[string]string{"CI_JOB_TOKEN": "LEAKED-TOKEN", "CI_COMMIT_BRANCH": "main"}

// gitlabExpand expands variables in s as GitLab does in variables: values:
// $$ is a '$', $NAME and ${NAME} the variable's value.
func gitlabExpand(s string, vars map[string]string) string {
	return varExpand.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		name := strings.Trim(m, "${}")
		if v, ok := vars[name]; ok {
			return v
		}
		return "SECRET"
	})
}

var varExpand = regexp.MustCompile(`\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// gitlabShells returns the scripts of the GitLab jobs of r, with their
// variables expanded as GitLab expands them.
func gitlabShells(t *testing.T, r *hostileRun) []shellRun {
	t.Helper()
	var out []shellRun
	for _, f := range r.files[GitLab] {
		var doc map[string]any
		if err := yaml.Unmarshal(f.Content, &doc); err != nil {
			t.Errorf("%s: %s is not YAML: %v", r.label, f.Path, err)
			continue
		}
		top := map[string]string{}
		if vars, ok := doc["variables"].(map[string]any); ok {
			for k, v := range vars {
				top[k] = gitlabExpand(fmt.Sprint(v), gitlabVariables)
			}
		}
		if def, ok := doc["default"].(map[string]any); ok {
			if tags, ok := def["tags"].([]any); ok && len(tags) > 0 && gitlabExpand(fmt.Sprint(tags[0]), gitlabVariables) != (r.c.label) {
				t.Errorf("%s: GitLab reads the runner tag as %q", r.label, gitlabExpand(fmt.Sprint(tags[0]), gitlabVariables))
			}
			if im, ok := def["image"].(string); ok && gitlabExpand(im, gitlabVariables) != (r.c.image) {
				t.Errorf("%s: GitLab reads the image as %q", r.label, gitlabExpand(im, gitlabVariables))
			}
		}
		keys := make([]string, 0, len(doc))
		for k := range doc {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, name := range keys {
			job, ok := doc[name].(map[string]any)
			if !ok {
				continue
			}
			script, ok := job["script"].([]any)
			if !ok {
				continue
			}
			env := map[string]string{}
			for k, v := range top {
				env[k] = v
			}
			if vars, ok := job["variables"].(map[string]any); ok {
				for k, v := range vars {
					env[k] = gitlabExpand(fmt.Sprint(v), gitlabVariables)
				}
			}
			var lines []string
			for _, l := range script {
				lines = append(lines, fmt.Sprint(l))
			}
			if r.slipwaySet() {
				for _, l := range lines {
					if strings.Contains(l, "--no-deps") || strings.Contains(l, " ci ") {
						if !strings.HasPrefix(l, r.slipway()+" ") {
							t.Errorf("%s: GitLab runs %q, not the command as written", r.label, l)
						}
					}
				}
				continue
			}
			out = append(out, shellRun{where: "gitlab job " + name, script: strings.Join(lines, "\n"), env: env})
		}
	}
	return out
}

// droneVariables stand for what Drone substitutes in .drone.yml.
var droneVariables = map[string]string{"DRONE_COMMIT_MESSAGE": "a: b\n- c", "CI_JOB_TOKEN": "LEAKED-TOKEN"}

// droneShells substitutes .drone.yml as Drone does, then returns the
// commands of every step.
func droneShells(t *testing.T, r *hostileRun) []shellRun {
	t.Helper()
	var out []shellRun
	var names []string // the steps' names, as Drone reads them
	for _, f := range r.files[Drone] {
		text := gitlabExpand(string(f.Content), droneVariables)
		dec := yaml.NewDecoder(strings.NewReader(text))
		for {
			var doc struct {
				Name  string
				Steps []struct {
					Name        string
					Environment map[string]any
					Commands    []string
				}
			}
			if err := dec.Decode(&doc); err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: .drone.yml after Drone's substitution is not YAML: %v", r.label, err)
				}
				break
			}
			for _, st := range doc.Steps {
				env := map[string]string{}
				for k, v := range st.Environment {
					if s, ok := v.(string); ok {
						env[k] = s
					} else {
						env[k] = "SECRET"
					}
				}
				names = append(names, st.Name)
				if r.slipwaySet() {
					last := st.Commands[len(st.Commands)-1]
					if st.Name != "fetch-tags" && !strings.HasPrefix(last, r.slipway()+" ") {
						t.Errorf("%s: Drone runs %q, not the command as written", r.label, last)
					}
					continue
				}
				out = append(out, shellRun{where: "drone pipeline " + doc.Name + " step " + st.Name, script: strings.Join(st.Commands, "\n"), env: env})
			}
		}
	}
	if r.field.name == "step name" && len(r.files[Drone]) > 0 && !slices.Contains(names, r.c.stepName) {
		t.Errorf("%s: no Drone step is named %q: %q", r.label, r.c.stepName, names)
	}
	return out
}

// groovyStubs run Jenkinsfiles and Job DSL scripts against stubs of their
// DSLs: every sh step and the environment it would get, and every string
// the DSL receives, are written to FILE.json. It prints DONE when every
// script ran; a script that exits the JVM keeps it from doing so.
const groovyStubs = `
import groovy.json.JsonOutput
import org.codehaus.groovy.control.CompilerConfiguration

class EnvBlock {
    Map<String, String> vars = [:]
    void setProperty(String n, Object v) { vars[n] = v.toString() }
    Object getProperty(String n) { vars[n] }
}

abstract class DslStub extends Script {
    List<Map> shells = []
    List<String> strings = []
    List<Map<String, String>> env = [[:]]

    def propertyMissing(String name) { name }

    // Jenkins as a Job DSL script looks it up: no item exists yet.
    def getJenkins() {
        [model: [Jenkins: new Expando(get: { -> new Expando(getItemByFullName: { String n -> null }) })]]
    }

    def runClosure(Closure c) {
        c.delegate = this
        c.resolveStrategy = Closure.DELEGATE_FIRST
        c.call()
    }

    def environment(Closure c) {
        def e = new EnvBlock()
        c.delegate = e
        c.resolveStrategy = Closure.DELEGATE_ONLY
        c.call()
        env[-1].putAll(e.@vars)
    }

    def stage(String name, Closure c) {
        strings << name
        env << new LinkedHashMap(env[-1])
        runClosure(c)
        env.remove(env.size() - 1)
    }

    def sh(String script) { shells << [script: script, env: new LinkedHashMap(env[-1])] }

    def withCredentials(List bindings, Closure c) {
        def scope = new LinkedHashMap(env[-1])
        bindings.each { Map b ->
            ['variable', 'usernameVariable', 'passwordVariable'].each { k -> if (b[k]) scope[b[k]] = 'SECRET' }
        }
        env << scope
        runClosure(c)
        env.remove(env.size() - 1)
    }

    def methodMissing(String name, Object args) {
        Object[] a = (Object[]) args
        a.each { if (it instanceof String) strings << it }
        if (a.length == 1 && a[0] instanceof Map) {
            ((Map) a[0]).values().each { if (it instanceof String) strings << it }
            return a[0]
        }
        if (a.length > 0 && a[a.length - 1] instanceof Closure) runClosure((Closure) a[a.length - 1])
        return null
    }
}

def config = new CompilerConfiguration()
config.scriptBaseClass = DslStub.name
args.each { String f ->
    def shell = new GroovyShell(this.class.classLoader, new Binding([SLIPWAY_REPO: 'https://git.example.com/x.git']), config)
    def result = [:]
    try {
        def s = shell.parse(new File(f).getText('UTF-8'), 'Generated')
        s.run()
        result = [shells: s.shells, strings: s.strings]
    } catch (Throwable e) {
        result = [error: e.toString()]
    }
    new File(f + '.json').write(JsonOutput.toJson(result), 'UTF-8')
}
println 'DONE'
`

// groovyRun is groovy running the stubs over the generated scripts.
type groovyRun struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// startGroovy starts groovy on the generated scripts, or returns nil (or
// fails the test under SLIPWAY_E2E=1) when groovy is not installed.
func startGroovy(t *testing.T, dir string, files []string) *groovyRun {
	t.Helper()
	groovy, err := exec.LookPath("groovy")
	if err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs groovy to run the generated Groovy: apt-get install groovy")
		}
		t.Log("groovy is not installed (apt-get install groovy): the Groovy targets are not run")
		return nil
	}
	check := filepath.Join(dir, "stubs.groovy")
	if err := os.WriteFile(check, []byte(groovyStubs), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &groovyRun{cmd: exec.Command(groovy, append([]string{check}, files...)...)}
	g.cmd.Env = append(os.Environ(), javaHome()...)
	g.cmd.Env = append(g.cmd.Env, "JAVA_OPTS=-Dfile.encoding=UTF-8")
	g.cmd.Stdout, g.cmd.Stderr = &g.out, &g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("starting groovy: %v", err)
	}
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			_ = g.cmd.Process.Kill()
			_ = g.cmd.Wait()
		}
	})
	return g
}

// finishGroovy waits for groovy, checks what the scripts did, then runs the
// sh steps of the Jenkinsfiles under bash.
func finishGroovy(t *testing.T, g *groovyRun, bash, stubs, dir, mark string, files []string, of map[string]*hostileRun) {
	t.Helper()
	err := g.cmd.Wait()
	if err != nil || !bytes.Contains(g.out.Bytes(), []byte("DONE")) {
		t.Fatalf("groovy did not run every script to the end (a script exited?): %v\n%s", err, g.out.Bytes())
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("the marker file appeared while groovy ran the generated scripts: a hostile value ran")
	}
	for _, f := range files {
		r := of[f]
		b, err := os.ReadFile(f + ".json")
		if err != nil {
			t.Fatalf("%s: %v", r.label, err)
		}
		var res struct {
			Error  string
			Shells []struct {
				Script string
				Env    map[string]string
			}
			Strings []string
		}
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("%s: %v", r.label, err)
		}
		if res.Error != "" {
			t.Errorf("%s: %s does not run: %s", r.label, filepath.Base(f), res.Error)
			continue
		}
		if strings.HasSuffix(f, "."+string(JenkinsJobDSL)) {
			if r.c.repo != "" && !slices.Contains(res.Strings, (r.c.repo)) && r.field.name == "repository URL" {
				t.Errorf("%s: the Job DSL did not get the repository URL as written", r.label)
			}
			continue
		}
		if r.field.name == "step name" && !slices.Contains(res.Strings, (r.c.stepName)) {
			t.Errorf("%s: no Jenkins stage is called %q; stages: %q", r.label, r.c.stepName, res.Strings)
		}
		if len(res.Shells) == 0 {
			t.Errorf("%s: the Jenkinsfile ran no sh step", r.label)
		}
		for i, s := range res.Shells {
			if !r.reachesShell() {
				break
			}
			if r.slipwaySet() {
				if !strings.HasPrefix(s.Script, r.slipway()+" ") {
					t.Errorf("%s: Jenkins runs %q, not the command as written", r.label, s.Script)
				}
				continue
			}
			runShell(t, bash, stubs, dir, mark, r, shellRun{where: fmt.Sprintf("jenkinsfile sh %d", i), script: s.Script, env: s.Env})
		}
	}
}

// TestExampleGroovyRuns runs the Jenkinsfiles and Job DSL scripts of every
// example under the stubs of their DSLs: each must run to the end, and
// every sh step must run Slipway.
func TestExampleGroovyRuns(t *testing.T) {
	t.Parallel() // mostly waiting on groovy
	dir := t.TempDir()
	var files []string
	slipwayOf := map[string]string{}
	for _, c := range cases(t) {
		for _, target := range []Target{Jenkinsfile, JenkinsJobDSL} {
			out, err := Generate(target, c.in)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range out {
				p := filepath.Join(dir, fmt.Sprintf("%s_%d.%s", c.name, i, target))
				if err := os.WriteFile(p, f.Content, 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, p)
				slipwayOf[p] = strings.TrimSpace(c.in.ci.Agent.Slipway)
			}
		}
	}
	g := startGroovy(t, dir, files)
	if g == nil {
		t.Skip("groovy is not installed (apt-get install groovy)")
	}
	if err := g.cmd.Wait(); err != nil || !bytes.Contains(g.out.Bytes(), []byte("DONE")) {
		t.Fatalf("groovy: %v\n%s", err, g.out.Bytes())
	}
	for _, f := range files {
		b, err := os.ReadFile(f + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Error  string
			Shells []struct{ Script string }
		}
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		if res.Error != "" {
			t.Errorf("%s does not run: %s", filepath.Base(f), res.Error)
		}
		if strings.HasSuffix(f, string(JenkinsJobDSL)) {
			continue
		}
		if len(res.Shells) == 0 {
			t.Errorf("%s ran no sh step", filepath.Base(f))
		}
		cmd := slipwayOf[f]
		if cmd == "" {
			cmd = "slipway"
		}
		for _, s := range res.Shells {
			if !strings.HasPrefix(s.Script, cmd+" ") {
				t.Errorf("%s runs %q, not Slipway", filepath.Base(f), s.Script)
			}
		}
	}
}
