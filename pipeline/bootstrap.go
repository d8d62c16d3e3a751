package pipeline

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slipwayhq/slipway/internal/config"
	"gopkg.in/yaml.v3"
)

// Project is one entry of projects.yaml: a repository holding a Slipway
// project whose Jenkins jobs a bootstrap job keeps in step with its ci.yaml.
type Project struct {
	// Name names the project's Jenkins folder and describes it: any text
	// without control characters, '<' or '>' (see checkName).
	Name string `yaml:"name"`
	// Repo is the git URL to check out: https://, http://, ssh:// or git://,
	// or scp-like user@host:path. It may not hold a password or token: give
	// Credentials instead.
	Repo string `yaml:"repo"`
	// Branch is the branch the bootstrap job reads ci.yaml from (default
	// main).
	Branch string `yaml:"branch"`
	// Dir is the project's directory inside the repository (default the
	// root).
	Dir string `yaml:"dir"`
	// Credentials is the ID of the Jenkins credential the job checks the
	// repository out with (default none).
	Credentials string `yaml:"credentials"`
}

// bootstrapBatch is how many projects one class of the seed holds. The JVM
// limits a method to 64 KB of bytecode and a class to 65,535 constants.
// Groovy 2.4 compiles a row of six strings to 46 bytes (so one method holds
// at most about 1,400 rows) and at most 12 constants; 500 rows take a third
// of a method and a tenth of a class's constants.
const bootstrapBatch = 500

// bootstrapView is the data of bootstrap.groovy.tmpl.
type bootstrapView struct {
	Total, BatchSize int
	Batches          []bootstrapBatchView
}

// bootstrapBatchView is one class of project rows.
type bootstrapBatchView struct {
	Class       string
	First, Last int
	Rows        []bootstrapRow
}

// bootstrapRow is one project of the seed, each field already a quoted
// Groovy string: name, folder, repo, branch, dir and credentials ID.
type bootstrapRow struct {
	Name, Folder, Repo, Branch, Dir, Credentials string
}

// ErrNameClash is matched (errors.Is) when projects would share a Jenkins
// folder.
var ErrNameClash = errors.New("projects share a Jenkins folder")

// ErrRepoCredentials is matched (errors.Is) when a repo URL holds a user
// name, password or token, which would end up in the seed in plain text.
var ErrRepoCredentials = errors.New("the repo URL holds credentials; remove them from it and give the project a Jenkins credential instead (credentials: ID in projects.yaml)")

// Bootstrap writes one Job DSL seed script: for each project a folder and,
// in it, a bootstrap pipeline job that checks the project out, runs
// `slipway pipeline generate --target jenkins-jobdsl` and processes the
// generated Job DSL.
//
// The seed holds the projects as data, rows of quoted strings in classes of
// bootstrapBatch rows, and one Groovy method that makes the folder and job
// of a row; so it compiles for any number of projects, where a block of
// statements per project exceeds the JVM's 64 KB method limit at about
// 2,000 projects.
//
// Every field is checked against a strict grammar first (see checkProject)
// and then quoted for Groovy; the seed quotes the values again, for Groovy
// and the shell, where it writes them into the bootstrap job's pipeline.
// All problems are returned at once, each naming its project, and never
// quoting a repo URL, which may hold a secret. Names that clash once made
// Jenkins item names (compared case-insensitively) are an error listing the
// projects.
func Bootstrap(projects []Project) ([]byte, error) {
	var errs []error
	byKey := map[string][]string{}
	var keys []string
	rows := make([]bootstrapRow, 0, len(projects))
	for i, p := range projects {
		if probs := checkProject(p); len(probs) > 0 {
			at := projectLabel(i, p.Name)
			for _, err := range probs {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
			}
			continue
		}
		folder := bootstrapFolder(p.Name)
		key := strings.ToLower(folder)
		if _, ok := byKey[key]; !ok {
			keys = append(keys, key)
		}
		byKey[key] = append(byKey[key], p.Name)
		dir, _ := cleanDir(p.Dir) // checked above
		branch := p.Branch
		if branch == "" {
			branch = "main"
		}
		rows = append(rows, bootstrapRow{
			Name:        groovyQuote(p.Name),
			Folder:      groovyQuote(folder),
			Repo:        groovyQuote(p.Repo),
			Branch:      groovyQuote(branch),
			Dir:         groovyQuote(dir),
			Credentials: groovyQuote(p.Credentials),
		})
	}
	errs = append(errs, nameClashes(keys, byKey)...)
	if n := len(errs); n > maxErrors {
		errs = append(errs[:maxErrors], fmt.Errorf("... and %d more problems", n-maxErrors))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bootstrapping Jenkins jobs: %w", err)
	}
	v := bootstrapView{Total: len(rows), BatchSize: bootstrapBatch}
	for first := 0; first < len(rows); first += bootstrapBatch {
		last := min(first+bootstrapBatch, len(rows))
		v.Batches = append(v.Batches, bootstrapBatchView{
			Class: fmt.Sprintf("SlipwayProjects%d", len(v.Batches)+1),
			First: first + 1, Last: last,
			Rows: rows[first:last],
		})
	}
	return render("bootstrap.groovy.tmpl", v)
}

// maxErrors is the most problems Bootstrap lists; the rest are counted.
const maxErrors = 100

// nameClashes is an ErrNameClash for each folder, of keys in order, that
// byKey gives more than one project name.
func nameClashes(keys []string, byKey map[string][]string) []error {
	var errs []error
	for _, k := range keys {
		if names := byKey[k]; len(names) > 1 {
			errs = append(errs, fmt.Errorf("%w: %s all become the folder %s; rename all but one", ErrNameClash, quotedList(names), quoted(bootstrapFolder(names[0]))))
		}
	}
	return errs
}

// bootstrapFolder is the Jenkins folder of the project called name: its
// Jenkins item name, without the trailing dots Jenkins refuses.
func bootstrapFolder(name string) string {
	f := strings.TrimRight(jenkinsItem(name), ".")
	if f == "" {
		return "project"
	}
	return f
}

// projectLabel names the i-th project (from 0) in an error: its number and
// its name, quoted when the name holds characters that would garble the
// message.
func projectLabel(i int, name string) string {
	if strings.TrimSpace(name) == "" {
		return fmt.Sprintf("project %d", i+1)
	}
	if checkName(name) != nil {
		return fmt.Sprintf("project %d (%s)", i+1, quoted(name))
	}
	return fmt.Sprintf("project %d (%s)", i+1, name)
}

// maxQuoted is the most of a value an error quotes: a projects.yaml value
// can be tens of KiB, and a directory of checkouts can name anything.
const maxQuoted = 64

// clip cuts s to its first maxQuoted bytes, on a rune boundary, marking
// the cut with its full length.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// quoted is s quoted for an error, as %q does, after clip.
func quoted(s string) string { return strconv.Quote(clip(s)) }

// maxListed is the most names an error lists.
const maxListed = 10

// quotedList lists names, each quoted, at most maxListed of them.
func quotedList(names []string) string {
	q := make([]string, 0, min(len(names), maxListed)+1)
	for i, n := range names {
		if i == maxListed {
			q = append(q, fmt.Sprintf("and %d more", len(names)-maxListed))
			break
		}
		q = append(q, quoted(n))
	}
	return strings.Join(q, ", ")
}

// The grammar of projects.yaml's fields. Values outside it are refused
// rather than escaped: they are the ones a hostile or mistaken entry would
// use to break out of a Groovy string, a shell word, a git argument or a Job
// DSL target pattern, and no real repository needs them.
const (
	maxName  = 200  // runes
	maxRepo  = 2048 // bytes
	maxField = 255  // bytes, for branch, dir and credentials
)

// checkProject is every problem with p's fields, each an error that names
// the field but never prints the repo URL, which may hold a secret.
func checkProject(p Project) []error {
	var errs []error
	if err := checkName(p.Name); err != nil {
		errs = append(errs, err)
	}
	if err := checkRepo(p.Repo); err != nil {
		errs = append(errs, err)
	}
	if err := checkBranch(p.Branch); err != nil {
		errs = append(errs, err)
	}
	if err := checkDir(p.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := checkCredentials(p.Credentials); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// checkName accepts any text up to maxName runes that is valid UTF-8 and
// holds no control, format (such as bidirectional overrides) or line and
// paragraph separator characters, and no '<' or '>', as the folder's
// description shows the name and Jenkins may render descriptions as HTML.
func checkName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("it has no name")
	case !utf8.ValidString(name):
		return errors.New("the name is not valid UTF-8")
	case utf8.RuneCountInString(name) > maxName:
		return fmt.Errorf("the name is longer than %d characters", maxName)
	}
	for _, r := range name {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return fmt.Errorf("the name holds the control character %U; use printable text", r)
		}
	}
	if strings.ContainsAny(name, "<>") {
		return errors.New("the name holds '<' or '>', which Jenkins may render as HTML in the folder's description")
	}
	return nil
}

// repoChars are the bytes a repo URL may hold.
const repoChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~/+-@:%[]"

// checkRepo accepts https://, http://, ssh:// and git:// URLs without a
// query or fragment, and scp-like [user@]host:path, made of repoChars. A
// password, or any user name in an http(s) or git URL (where it is often a
// token), is ErrRepoCredentials. The errors never print the URL.
func checkRepo(repo string) error {
	if strings.TrimSpace(repo) == "" {
		return errors.New("it has no repo")
	}
	if len(repo) > maxRepo {
		return fmt.Errorf("the repo URL is longer than %d bytes", maxRepo)
	}
	// Credentials first, so no other message hints at a secret.
	scheme, rest, isURL := strings.Cut(repo, "://")
	if !isURL {
		scheme, rest = "", repo
	}
	authority := rest
	if i := strings.IndexByte(authority, '/'); i >= 0 {
		authority = authority[:i]
	}
	if user, _, ok := cutLast(authority, "@"); ok {
		if strings.Contains(user, ":") || (isURL && scheme != "ssh") {
			return ErrRepoCredentials
		}
	}
	for i := 0; i < len(repo); i++ {
		if !strings.Contains(repoChars, repo[i:i+1]) {
			return fmt.Errorf("the repo URL holds a character (byte %d) outside letters, digits and . _ ~ / + - @ : %% [ ]", i+1)
		}
	}
	if !isURL {
		return checkSCP(repo)
	}
	switch scheme {
	case "https", "http", "ssh", "git":
	default:
		return errors.New("the repo URL must start https://, http://, ssh:// or git://, or be scp-like user@host:path")
	}
	u, err := url.Parse(repo)
	if err != nil {
		return errors.New("the repo URL does not parse as a URL")
	}
	switch {
	case u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("the repo URL may not have a query or fragment")
	case !validHost(u.Hostname()):
		return errors.New("the repo URL's host must be a DNS name or an IP address")
	case u.Port() != "" && !allDigits(u.Port()):
		return errors.New("the repo URL's port must be a number")
	case strings.Trim(u.Path, "/") == "":
		return errors.New("the repo URL has no path")
	}
	return checkPercent(u.EscapedPath())
}

// checkSCP checks an scp-like git location, [user@]host:path.
func checkSCP(repo string) error {
	hostPart, p, ok := strings.Cut(repo, ":")
	if !ok || p == "" {
		return errors.New("the repo URL must start https://, http://, ssh:// or git://, or be scp-like user@host:path")
	}
	host := hostPart
	if user, h, ok := strings.Cut(hostPart, "@"); ok {
		if !validWord(user) {
			return errors.New("the repo URL's user must be letters, digits, '.', '_' or '-'")
		}
		host = h
	}
	if !validHost(host) {
		return errors.New("the repo URL's host must be a DNS name or an IP address")
	}
	if strings.ContainsAny(p, "@:[]") {
		return errors.New("the repo URL's path may not hold '@', ':', '[' or ']'")
	}
	return checkPercent(p)
}

// checkPercent refuses a '%' that does not start an escape %XX.
func checkPercent(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && (i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2])) {
			return errors.New("the repo URL has a '%' that is not an escape %XX")
		}
	}
	return nil
}

// validHost reports whether h is a DNS name (letters, digits, '-' and '.',
// not starting with '-' or '.') or an IP address.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || h[0] == '-' || h[0] == '.' {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isAlnum(c) || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkBranch accepts the empty branch (main) and git branch names made of
// letters, digits and . _ / + -, as git check-ref-format would.
func checkBranch(b string) error {
	if b == "" {
		return nil
	}
	bad := len(b) > maxField || b[0] == '-' || b[0] == '/' || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".") || strings.Contains(b, "..") || strings.Contains(b, "//")
	for _, part := range strings.Split(b, "/") {
		bad = bad || strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock")
	}
	for i := 0; i < len(b) && !bad; i++ {
		c := b[i]
		bad = !(isAlnum(c) || strings.IndexByte("._/+-", c) >= 0)
	}
	if bad {
		return fmt.Errorf("branch %s is not a branch name git accepts made of letters, digits and . _ / + - (at most %d)", quoted(b), maxField)
	}
	return nil
}

// checkDir accepts a relative directory inside the repository whose parts
// are letters, digits and . _ + @ -, none starting with '-': it becomes a
// shell word and part of a Job DSL target pattern, where '*', '?', spaces
// and commas would mean something.
func checkDir(d string) error {
	c, err := cleanDir(d)
	if err != nil {
		return err
	}
	bad := len(d) > maxField
	for _, part := range strings.Split(c, "/") {
		if c == "" {
			break
		}
		bad = bad || part[0] == '-'
		for i := 0; i < len(part) && !bad; i++ {
			bad = !(isAlnum(part[i]) || strings.IndexByte("._+@-", part[i]) >= 0)
		}
	}
	if bad {
		return fmt.Errorf("directory %s must be made of letters, digits and . _ + @ - / (at most %d), no part starting with '-'", quoted(d), maxField)
	}
	return nil
}

// checkCredentials accepts the empty ID and Jenkins credential IDs made of
// letters, digits and . _ -, starting with a letter, digit or '_'.
func checkCredentials(id string) error {
	if id == "" {
		return nil
	}
	if len(id) > maxField || !(isAlnum(id[0]) || id[0] == '_') || !validWord(id) {
		return fmt.Errorf("credentials %s must be a Jenkins credential ID of letters, digits and . _ - (at most %d)", quoted(id), maxField)
	}
	return nil
}

// validWord reports whether s is a non-empty run of letters, digits, '.',
// '_' and '-'.
func validWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(isAlnum(s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-') {
			return false
		}
	}
	return true
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// projectFields are the fields of an entry of projects.yaml.
var projectFields = []string{"name", "repo", "branch", "dir", "credentials"}

// ParseProjects reads projects.yaml (`projects: [{name, repo, branch, dir,
// credentials}]`) strictly: an unknown field, a missing name or repo, or a
// value outside its field's grammar (see Bootstrap) is a config.Problem at
// its file:line, all of them returned at once as config.Problems. No
// problem prints a repo URL.
func ParseProjects(file string, data []byte) ([]Project, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, config.Problems{{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil, config.Problems{{File: file, Msg: "the file is empty; list projects: [{name: ..., repo: ...}]"}}
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, config.Problems{{File: file, Line: top.Line, Col: top.Column, Msg: "expected a mapping with projects: [...]"}}
	}
	probs := &projectProblems{file: file}
	list := projectList(top, probs)
	if list == nil {
		return nil, probs.list
	}
	var out []Project
	for i, item := range list.Content {
		if p, ok := parseProject(item, fmt.Sprintf("projects[%d]", i), probs); ok {
			out = append(out, p)
		}
	}
	if len(probs.list) > 0 {
		return out, probs.list
	}
	return out, nil
}

// projectProblems collects the problems of one projects.yaml.
type projectProblems struct {
	file string
	list config.Problems
}

// add records a problem with field, placed at n when n is not nil.
func (pp *projectProblems) add(n *yaml.Node, field, format string, args ...any) {
	p := config.Problem{File: pp.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	pp.list = append(pp.list, p)
}

// projectList returns the projects sequence of the top mapping, or nil
// after recording why there is none.
func projectList(top *yaml.Node, probs *projectProblems) *yaml.Node {
	var list *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "projects" {
			probs.add(k, clip(k.Value), "unknown field %s; valid fields: projects", quoted(k.Value))
			continue
		}
		list = v
	}
	if list == nil {
		probs.add(top, "projects", "missing required field %q", "projects")
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		probs.add(list, "projects", "expected a list of projects")
		return nil
	}
	return list
}

// parseProject reads the entry item found at path at; ok is false when item
// is not a mapping.
func parseProject(item *yaml.Node, at string, probs *projectProblems) (p Project, ok bool) {
	if item.Kind != yaml.MappingNode {
		probs.add(item, at, "expected a mapping with %s", strings.Join(projectFields, ", "))
		return Project{}, false
	}
	seen := map[string]bool{}
	values := map[string]*yaml.Node{} // the string fields given
	for j := 0; j+1 < len(item.Content); j += 2 {
		k, v := item.Content[j], item.Content[j+1]
		field := at + "." + clip(k.Value)
		if seen[k.Value] {
			probs.add(k, field, "duplicate key %s", quoted(k.Value))
			continue
		}
		seen[k.Value] = true
		dst := projectField(&p, k.Value)
		if dst == nil {
			probs.add(k, field, "%s; valid fields: %s", unknownProjectField(k.Value), strings.Join(projectFields, ", "))
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			probs.add(v, field, "expected a string")
			continue
		}
		*dst = v.Value
		values[k.Value] = v
	}
	for _, f := range []string{"name", "repo"} {
		if !seen[f] {
			probs.add(item, at+"."+f, "missing required field %q", f)
		}
	}
	checkGivenFields(p, values, at, probs)
	return p, true
}

// projectField returns the field of p named name in projects.yaml, or nil
// for a name that is not one of projectFields.
func projectField(p *Project, name string) *string {
	switch name {
	case "name":
		return &p.Name
	case "repo":
		return &p.Repo
	case "branch":
		return &p.Branch
	case "dir":
		return &p.Dir
	case "credentials":
		return &p.Credentials
	}
	return nil
}

// unknownProjectField says that name is not a field of a project, with the
// nearest field when one is close.
func unknownProjectField(name string) string {
	msg := "unknown field " + quoted(name)
	if s := config.Suggest(name, projectFields); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

// checkGivenFields records every given field of p (values holds their nodes)
// that is outside its grammar.
func checkGivenFields(p Project, values map[string]*yaml.Node, at string, probs *projectProblems) {
	for _, c := range []struct {
		field string
		check func(string) error
		value string
	}{
		{"name", checkName, p.Name},
		{"repo", checkRepo, p.Repo},
		{"branch", checkBranch, p.Branch},
		{"dir", checkDir, p.Dir},
		{"credentials", checkCredentials, p.Credentials},
	} {
		if n := values[c.field]; n != nil {
			if err := c.check(c.value); err != nil {
				probs.add(n, at+"."+c.field, "%v", err)
			}
		}
	}
}
