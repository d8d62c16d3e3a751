package pipeline

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
)

// Target names a CI system's configuration format.
type Target string

// The targets Generate writes.
const (
	JenkinsJobDSL Target = "jenkins-jobdsl"
	Jenkinsfile   Target = "jenkinsfile"
	Drone         Target = "drone"
	GitHub        Target = "github"
	GitLab        Target = "gitlab"
)

// Targets lists every target, in the order help text shows them.
var Targets = []Target{JenkinsJobDSL, Jenkinsfile, Drone, GitHub, GitLab}

// ErrUnknownTarget is matched (errors.Is) when a target name is not one of
// Targets.
var ErrUnknownTarget = errors.New("unknown pipeline target")

// ParseTarget returns the target called s; the error lists the valid ones.
func ParseTarget(s string) (Target, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	for _, t := range Targets {
		if string(t) == want {
			return t, nil
		}
	}
	names := make([]string, len(Targets))
	for i, t := range Targets {
		names[i] = string(t)
	}
	msg := fmt.Sprintf("%q", s)
	if sug := config.Suggest(want, names); sug != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", sug)
	}
	return "", fmt.Errorf("%w %s; valid targets: %s", ErrUnknownTarget, msg, strings.Join(names, ", "))
}

// Input is what Generate works from: the project's slipway.yaml and
// ci.yaml, those of its modules, and how the CI system should name and find
// the project. A caller may build it from the files' content, or Load it
// from a directory.
type Input struct {
	// SlipwayYAML and CIYAML are the project's slipway.yaml and ci.yaml:
	// their content, and their paths as problems name them (e.g.
	// "slipway.yaml"). Generate decodes and validates them (see Parse).
	SlipwayYAML, CIYAML File
	// Name names the CI job or pipeline (default slipway.yaml's app).
	Name string
	// Folder is the Jenkins folder the jobs go in (default Name); a slash
	// nests folders.
	Folder string
	// Repo is the git URL Jenkins Job DSL checks out. When empty, the Job
	// DSL script reads it from the SLIPWAY_REPO variable, which the
	// bootstrap job passes.
	Repo string
	// Branch is the branch CI runs on when ci.yaml lists no
	// triggers.branches (default main).
	Branch string
	// Dir is the project's directory inside the repository, slash
	// separated, empty for the repository's root. CI runs slipway -C Dir and
	// File paths start with it, except for GitHub workflows, which GitHub
	// reads from the root only.
	Dir string
	// Slipway, when set, is the Slipway release generated steps install
	// when ci.yaml's agent.slipway is empty: they download its archive and
	// check the SHA-256 pinned here. Without checksums it is the generating
	// version only: GitHub jobs on a runner with no agent.image go install
	// it, unless slipway is on the runner's PATH; other targets run slipway
	// from PATH, as all do when it is nil. Modules get the parent's.
	Slipway *Install
	// Modules holds the slipway.yaml and ci.yaml of each module ci.yaml
	// lists, by the directory written under modules. Name defaults to the
	// parent's Name and the module directory; Folder, Repo and Branch to the
	// parent's.
	Modules map[string]Input

	// ci and project are SlipwayYAML and CIYAML decoded, once Load or
	// Parse has; Generate reads these.
	ci      *config.CI
	project *config.Project
}

// Load reads and validates the slipway.yaml and ci.yaml in dir, and those
// of each module ci.yaml lists (in Modules, with Dir the module's
// directory), into a parsed Input (see Parse); the caller adds how the CI
// system names and finds the project. Unlike Parse, it also refuses what
// only the files on disk show: a module directory or a file slipway.yaml
// names that is a symlink, say.
func Load(dir string) (Input, error) {
	p, err := config.LoadProject(dir)
	if err != nil {
		return Input{}, err
	}
	c, err := config.LoadCI(dir, p)
	if err != nil {
		return Input{}, err
	}
	modules, err := c.LoadModules()
	if err != nil {
		return Input{}, err
	}
	in := parsed(p, c)
	for _, m := range modules {
		if in.Modules == nil {
			in.Modules = map[string]Input{}
		}
		mi := parsed(m.Project, m.CI)
		mi.Dir = filepath.ToSlash(m.Dir)
		in.Modules[m.Dir] = mi
	}
	return in, nil
}

// parsed is the Input of a decoded slipway.yaml and ci.yaml: their content
// and what it decodes to.
func parsed(p *config.Project, c *config.CI) Input {
	return Input{SlipwayYAML: sourceFile(p.Source), CIYAML: sourceFile(c.Source), project: p, ci: c}
}

func sourceFile(s *config.Source) File {
	if s == nil {
		return File{}
	}
	return File{Path: s.File, Content: s.Data}
}

// Parse decodes and validates in's slipway.yaml and ci.yaml, and each
// module's, and returns in holding them decoded, so that Generate, given
// the result, writes any number of targets without decoding them again.
// It reads nothing but in. An Input that Load or Parse returned is parsed
// already: Parse returns it as it is, and a change to its SlipwayYAML or
// CIYAML afterwards goes unseen.
func Parse(in Input) (Input, error) {
	if in.project == nil || in.ci == nil {
		if len(in.SlipwayYAML.Content) == 0 && len(in.CIYAML.Content) == 0 {
			return Input{}, errors.New("the input needs a loaded ci.yaml and slipway.yaml, or their content")
		}
		p, err := config.ParseProject(in.SlipwayYAML.Path, in.SlipwayYAML.Content)
		if err != nil {
			return Input{}, err
		}
		c, err := config.ParseCI(in.CIYAML.Path, in.CIYAML.Content, p)
		if err != nil {
			return Input{}, err
		}
		in.project, in.ci = p, c
	}
	if len(in.Modules) == 0 {
		return in, nil
	}
	modules := make(map[string]Input, len(in.Modules))
	for m, mi := range in.Modules {
		mi, err := Parse(mi)
		if err != nil {
			return Input{}, fmt.Errorf("module %s: %w", m, err)
		}
		modules[m] = mi
	}
	in.Modules = modules
	return in, nil
}

// File is a file Generate reads (slipway.yaml, ci.yaml) or writes.
type File struct {
	// Path is relative to the repository root, slash separated: e.g.
	// ".drone.yml", ".github/workflows/slipway.yml", "Jenkinsfile",
	// "jobs/hello.groovy" or ".gitlab-ci.yml". Of a file Generate reads, it
	// is the name problems give it.
	Path    string
	Content []byte
}

// Generate writes the CI configuration of target t for in, which it
// parses first unless Load or Parse has (see Parse). It is a pure
// function: the same input gives byte-identical files, in a fixed order.
func Generate(t Target, in Input) ([]File, error) {
	in, err := Parse(in)
	if err != nil {
		return nil, fmt.Errorf("generating %s pipeline: %w", t, err)
	}
	plans, err := plansOf(in)
	if err != nil {
		return nil, fmt.Errorf("generating %s pipeline: %w", t, err)
	}
	var files []File
	switch t {
	case Jenkinsfile:
		files, err = jenkinsfiles(plans)
	case JenkinsJobDSL:
		files, err = jobDSL(plans)
	case Drone:
		files, err = drone(plans)
	case GitHub:
		files, err = github(plans)
	case GitLab:
		files, err = gitlab(plans)
	default:
		_, err = ParseTarget(string(t))
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s pipeline: %w", t, err)
	}
	return files, nil
}

// plansOf turns in and its modules into one plan each: the root first (when
// it has steps of its own), then the modules in ci.yaml order.
func plansOf(in Input) ([]*plan, error) {
	if err := checkSize(in); err != nil {
		return nil, err
	}
	root, err := rootInput(in)
	if err != nil {
		return nil, err
	}
	var plans []*plan
	if len(in.ci.Pipeline) > 0 {
		p, err := newPlan(root, "")
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	var errs []error
	for _, m := range in.ci.Modules {
		p, err := modulePlan(root, m, in.Modules)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plans = append(plans, p)
	}
	errs = append(errs, unlistedModules(in)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return nil, errors.New("ci.yaml has no pipeline steps and no modules")
	}
	return plans, nil
}

// checkSize refuses, before anything is built, input whose generated files
// would hold more than config.MaxCIOutput: config check holds each ci.yaml
// to it, and this holds the project and its modules together, which Drone
// and GitLab write into one file.
func checkSize(in Input) error {
	total, field := in.ci.OutputEstimate(), "pipeline"
	for _, m := range in.Modules {
		if m.ci != nil {
			total, field = total+m.ci.OutputEstimate(), "modules"
		}
	}
	if total <= config.MaxCIOutput {
		return nil
	}
	pos := in.ci.Source.Pos(field)
	return config.Problems{{File: ciFile(in.ci), Line: pos.Line, Col: pos.Col, Field: field,
		Msg: fmt.Sprintf("the generated CI files would hold about %.1f MiB, more than the %d MiB Slipway writes at once; run slipway config check in the project and in each module to see what adds the most",
			float64(total)/(1<<20), config.MaxCIOutput>>20)}}
}

// rootInput is in with its defaults filled in (name from the app, folder
// from the name, branch main) and its directory cleaned, once checked.
func rootInput(in Input) (Input, error) {
	root := in
	if root.Name == "" {
		root.Name = root.project.App
	}
	if root.Folder == "" {
		root.Folder = root.Name
	}
	if root.Branch == "" {
		root.Branch = "main"
	}
	dir, err := cleanDir(root.Dir)
	if err != nil {
		return Input{}, err
	}
	root.Dir = dir
	if err := checkInput(root); err != nil {
		return Input{}, err
	}
	if root.Slipway != nil {
		if err := root.Slipway.check(); err != nil {
			return Input{}, err
		}
	}
	return root, nil
}

// modulePlan is the plan of the module in directory m, its input taken from
// modules and completed from root.
func modulePlan(root Input, m string, modules map[string]Input) (*plan, error) {
	mi, ok := modules[m]
	if !ok || mi.ci == nil || mi.project == nil {
		return nil, fmt.Errorf("module %s: its ci.yaml and slipway.yaml are not loaded", m)
	}
	if len(mi.ci.Modules) > 0 {
		return nil, fmt.Errorf("module %s: modules cannot have modules of their own", m)
	}
	md, err := cleanDir(m)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", m, err)
	}
	mi = moduleInput(root, mi, md)
	if err := checkInput(mi); err != nil {
		return nil, fmt.Errorf("module %s: %w", m, err)
	}
	p, err := newPlan(mi, md)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", m, err)
	}
	p.root, p.rootDir = root.Name, root.Dir
	return p, nil
}

// moduleInput is mi, the module in directory md of root, with what it
// leaves empty taken from root and its directory inside root's.
func moduleInput(root, mi Input, md string) Input {
	if mi.Name == "" {
		mi.Name = root.Name + "-" + slug(md)
	}
	if mi.Folder == "" {
		mi.Folder = root.Folder
	}
	if mi.Repo == "" {
		mi.Repo = root.Repo
	}
	if mi.Branch == "" {
		mi.Branch = root.Branch
	}
	if mi.Slipway == nil {
		mi.Slipway = root.Slipway
	}
	mi.Dir = path.Join(root.Dir, md)
	return mi
}

// unlistedModules is an error for each module of in, in name order, that
// ci.yaml does not list under modules.
func unlistedModules(in Input) []error {
	listed := map[string]bool{}
	for _, m := range in.ci.Modules {
		listed[m] = true
	}
	var extra []string
	for m := range in.Modules {
		if !listed[m] {
			extra = append(extra, m)
		}
	}
	sort.Strings(extra)
	var errs []error
	for _, m := range extra {
		errs = append(errs, fmt.Errorf("module %s is not listed under modules in ci.yaml", m))
	}
	return errs
}

// cleanDir checks and cleans a directory inside the repository.
func cleanDir(d string) (string, error) {
	if d == "" || d == "." {
		return "", nil
	}
	c := path.Clean(strings.ReplaceAll(d, `\`, "/"))
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("directory %s must be inside the repository", quoted(d))
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

// checkInput checks what Input adds to the validated ci.yaml and
// slipway.yaml before any of it reaches a generated file: the directory
// (which GitLab expands variables in, as an include path), the default
// branch, and the repository URL, which must not carry credentials.
func checkInput(in Input) error {
	if in.Dir != "" {
		if msg := config.DirProblem(in.Dir); msg != "" {
			return fmt.Errorf("project directory: %s", msg)
		}
	}
	if msg := config.BranchProblem(in.Branch); msg != "" {
		return fmt.Errorf("default branch: %s", msg)
	}
	if config.URLCredentials(in.Repo) {
		return errors.New("the repository URL holds credentials, which must never reach a generated file; give the URL without them")
	}
	return nil
}

// header is the comment every generated file starts with.
func header(t Target, p *plan) []string {
	src := config.CIFile
	if p.module != "" {
		src = p.module + "/" + config.CIFile
	}
	out := []string{
		fmt.Sprintf("Generated by `slipway pipeline generate --target %s` from %s.", t, src),
		"Do not edit it by hand: change ci.yaml and generate it again.",
	}
	if in := p.install; in != nil {
		each := "Each job installs"
		if p.image != "" {
			each = "Each job with steps on the runner installs"
		}
		host := in.URL
		if host == "" {
			host = DefaultReleaseURL
		}
		host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
		host, _, _ = strings.Cut(host, "/")
		out = append(out, "",
			fmt.Sprintf("%s Slipway %s, which generated it, into %s: it downloads", each, in.Version, in.installDir()),
			"the Linux release archive from "+host+" and checks it against the SHA-256",
			"written here. Agents need curl, sha256sum and tar. To use a Slipway the",
			"agents have, set agent.slipway in ci.yaml to the command that runs it.")
		if t == GitHub {
			out = append(out, "actions/cache keeps the archive between runs, keyed by the version; its",
				"SHA-256 is checked again each time.")
		}
	} else if p.slipway != "" && t != JenkinsJobDSL && !(t == GitHub && p.agent.Image == "" && p.slipway == "slipway") {
		// No value from ci.yaml: Drone substitutes $VARIABLES even in
		// comments.
		where := "the agents"
		if p.agent.Image != "" {
			where = "the image agent.image names"
		}
		if p.slipway == "slipway" {
			out = append(out, "", "Steps run slipway: "+where+" must have it on PATH.")
		} else {
			out = append(out, "", "Steps run the Slipway command agent.slipway names: "+where+" must have it.")
		}
	}
	if p.agent.SlipwayImage != "" && t != GitHub && t != JenkinsJobDSL {
		out = append(out, "", "agent.slipwayImage is not used here: every step runs its commands in a",
			"shell, and Slipway's image has none.")
	}
	return out
}
