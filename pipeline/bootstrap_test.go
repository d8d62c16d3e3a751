package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// sampleProjects are a few projects with names and paths that need care.
var sampleProjects = []Project{
	{Name: "hello", Repo: "https://git.example.com/team/hello.git"},
	{Name: "billing service", Repo: "git@git.example.com:platform/platform.git", Branch: "trunk", Dir: "services/billing"},
	{Name: `o'brien's "app" \u000a ${x}`, Repo: "ssh://git@git.example.com:2222/~obrien/app%2B.git", Branch: "release/1.x", Dir: "apps/o.brien", Credentials: "git-ssh-key"},
}

func TestBootstrapGolden(t *testing.T) {
	got, err := Bootstrap(sampleProjects)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "testdata/bootstrap.golden", got)
	checkSeedRows(t, got, sampleProjects)
}

// manyProjects makes n distinct projects.
func manyProjects(n int) []Project {
	ps := make([]Project, n)
	for i := range ps {
		ps[i] = Project{
			Name:        fmt.Sprintf("service-%05d", i),
			Repo:        fmt.Sprintf("https://git.example.com/team/service-%05d.git", i),
			Branch:      []string{"", "main", "trunk"}[i%3],
			Dir:         []string{"", "", "deploy"}[i%3],
			Credentials: []string{"", "git-token"}[i%2],
		}
	}
	return ps
}

func TestBootstrapIsByteStable(t *testing.T) {
	for _, n := range []int{1, 1000, 10000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ps := manyProjects(n)
			first, err := Bootstrap(ps)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				again, err := Bootstrap(ps)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first, again) {
					t.Fatal("two runs over the same projects differ")
				}
			}
			checkSeedRows(t, first, ps)
			if got, want := bytes.Count(first, []byte("\nclass SlipwayProjects")), (n+bootstrapBatch-1)/bootstrapBatch; got != want {
				t.Errorf("the seed has %d classes of projects, want %d", got, want)
			}
		})
	}
}

// checkSeedRows checks that seed is the fixed code of every seed followed
// by classes of rows, and that the rows are projects, in order, each field
// a single-quoted Groovy string that reads back as the value it was made
// from: so whatever the input, it changes only the contents of string
// literals, never the code around them.
func checkSeedRows(t testing.TB, seed []byte, projects []Project) {
	t.Helper()
	if code := seedCode(t, seed, len(projects)); code != seedCode(t, nil, 1) {
		t.Fatalf("the seed's code differs from that of a seed for one plain project:\n%s", code)
	}
	lines := strings.Split(string(seed), "\n")
	i := 0
	for i < len(lines) && !strings.HasPrefix(lines[i], "// Projects 1 to ") {
		i++
	}
	expect := func(want string) {
		t.Helper()
		if i >= len(lines) || lines[i] != want {
			got := "the end"
			if i < len(lines) {
				got = strconv.Quote(lines[i])
			}
			t.Fatalf("line %d is %s, want %q", i+1, got, want)
		}
		i++
	}
	for b := 0; b*bootstrapBatch < len(projects); b++ {
		first, last := b*bootstrapBatch, min((b+1)*bootstrapBatch, len(projects))
		if b > 0 {
			expect("")
		}
		expect(fmt.Sprintf("// Projects %d to %d: [name, folder, repo, branch, dir, credentials ID].", first+1, last))
		expect(fmt.Sprintf("class SlipwayProjects%d {", b+1))
		expect("    static List<List<String>> rows() {")
		expect("        return [")
		for _, p := range projects[first:last] {
			if i >= len(lines) {
				t.Fatal("the seed ends inside its rows")
			}
			got, err := readRow(lines[i])
			if err != nil {
				t.Fatalf("line %d: %v: %q", i+1, err, lines[i])
			}
			dir, _ := cleanDir(p.Dir)
			branch := p.Branch
			if branch == "" {
				branch = "main"
			}
			want := []string{p.Name, bootstrapFolder(p.Name), p.Repo, branch, dir, p.Credentials}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
				t.Fatalf("line %d reads as %q, want %q", i+1, got, want)
			}
			i++
		}
		expect("        ]")
		expect("    }")
		expect("}")
	}
	if i != len(lines)-1 || lines[i] != "" {
		t.Fatalf("the seed goes on after its rows, at line %d: %q", i+1, lines[i])
	}
}

// seedCode is the code of seed, a seed for n projects, before its rows,
// with the number of projects and the list of their classes made N. A nil
// seed is one for a single plain project.
func seedCode(t testing.TB, seed []byte, n int) string {
	t.Helper()
	if seed == nil {
		var err error
		if seed, err = Bootstrap([]Project{{Name: "x", Repo: "https://x/x.git"}}); err != nil {
			t.Fatal(err)
		}
	}
	code, _, _ := strings.Cut(string(seed), "\n\n// Projects 1 to ")
	classes := make([]string, (n+bootstrapBatch-1)/bootstrapBatch)
	for i := range classes {
		classes[i] = fmt.Sprintf("SlipwayProjects%d", i+1)
	}
	return strings.NewReplacer(
		fmt.Sprintf("The projects (%d) are data", n), "The projects (N) are data",
		"for (Class projects in ["+strings.Join(classes, ", ")+"])", "for (Class projects in [N])",
	).Replace(code)
}

// readRow reads a row of the seed, `            ['a', 'b', ...],`, as
// Groovy would: single-quoted strings with the escapes \\, \', \n, \r, \t
// and \uXXXX. It refuses anything else, such as a raw control character, a
// quote that ends a string early or a backslash that escapes nothing.
func readRow(line string) ([]string, error) {
	s, ok := strings.CutPrefix(line, "            [")
	if !ok {
		return nil, errors.New("not a row")
	}
	var out []string
	for {
		if s == "" || s[0] != '\'' {
			return nil, errors.New("a field is not a single-quoted string")
		}
		s = s[1:]
		var b strings.Builder
		for {
			if s == "" {
				return nil, errors.New("a string does not end")
			}
			c := s[0]
			if c == '\'' {
				s = s[1:]
				break
			}
			if c < 0x20 || c == 0x7f {
				return nil, errors.New("a string holds a raw control character")
			}
			if c != '\\' {
				b.WriteByte(c)
				s = s[1:]
				continue
			}
			if len(s) < 2 {
				return nil, errors.New("a string ends in a backslash")
			}
			switch s[1] {
			case '\\', '\'':
				b.WriteByte(s[1])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if len(s) < 6 {
					return nil, errors.New("a short \\u escape")
				}
				r, err := strconv.ParseUint(s[2:6], 16, 16)
				if err != nil {
					return nil, errors.New("a bad \\u escape")
				}
				b.WriteRune(rune(r))
				s = s[4:]
			default:
				return nil, fmt.Errorf("an unknown escape \\%c", s[1])
			}
			s = s[2:]
		}
		out = append(out, b.String())
		switch {
		case strings.HasPrefix(s, ", "):
			s = s[2:]
		case s == "],":
			return out, nil
		default:
			return nil, errors.New("fields are not separated by \", \"")
		}
	}
}

func BenchmarkBootstrap10000(b *testing.B) {
	ps := manyProjects(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Bootstrap(ps); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBootstrapNameClashes(t *testing.T) {
	repo := "https://git.example.com/x.git"
	tests := []struct {
		name     string
		projects []string
		want     []string // one line per clash
	}{
		{"case", []string{"Hello", "hello"}, []string{`"Hello", "hello" all become the folder "Hello"`}},
		{"after sanitising", []string{"my app", "my-app", "other", "my/app"}, []string{`"my app", "my-app", "my/app" all become the folder "my-app"`}},
		{"two clashes", []string{"a", "b", "A", "B"}, []string{`"a", "A"`, `"b", "B"`}},
		{"trailing dots", []string{"app.", "app"}, []string{`"app.", "app" all become the folder "app"`}},
		{"none", []string{"a", "b", "a.b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []Project
			for _, n := range tt.projects {
				ps = append(ps, Project{Name: n, Repo: repo})
			}
			_, err := Bootstrap(ps)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNameClash) {
				t.Fatalf("error %v, want ErrNameClash", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "share a Jenkins folder"); got != len(tt.want) {
				t.Errorf("error reports %d clashes, want %d:\n%v", got, len(tt.want), err)
			}
		})
	}
}

func TestBootstrapChecksProjects(t *testing.T) {
	_, err := Bootstrap([]Project{{Repo: "https://x/r.git"}, {Name: "x"}, {Name: "y", Repo: "https://x/r.git", Dir: "../up"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"project 1: it has no name", "project 2 (x): it has no repo", `project 3 (y): directory "../up" must be inside the repository`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestBootstrapFieldGrammar is the grammar of each field: what it accepts
// and, with the reason, what it refuses.
func TestBootstrapFieldGrammar(t *testing.T) {
	const repo = "https://git.example.com/a.git"
	tests := []struct {
		field, value string
		want         string // part of the error; "" when accepted
	}{
		{"name", "billing service", ""},
		{"name", `o'brien's "app" ${x} \u000a $(x) ` + "`x` ü 日本", ""},
		{"name", "a\nb", "control character U+000A"},
		{"name", "a\tb", "control character U+0009"},
		{"name", "a\u2028b", "control character U+2028"},
		{"name", "a\u202eb", "control character U+202E"},
		{"name", "a\x00b", "control character U+0000"},
		{"name", "a\xffb", "not valid UTF-8"},
		{"name", strings.Repeat("x", 201), "longer than 200"},
		{"name", " ", "it has no name"},
		{"name", "<img src=x onerror=alert(1)>", "render as HTML"},
		{"name", "a & b", ""},
		{"repo", "https://git.example.com/team/a.git", ""},
		{"repo", "http://10.0.0.1:8080/a.git", ""},
		{"repo", "https://[::1]:8443/a.git", ""},
		{"repo", "ssh://git@git.example.com:22/~u/a%2Bb.git", ""},
		{"repo", "git://git.example.com/a.git", ""},
		{"repo", "git@git.example.com:team/a.git", ""},
		{"repo", "git.example.com:/srv/a.git", ""},
		{"repo", "file:///srv/a.git", "must start https://"},
		{"repo", "/srv/a.git", "must start https://"},
		{"repo", "-uattack", "must start https://"},
		{"repo", "--upload-pack:x", "host must be"},
		{"repo", "https://-x.example.com/a.git", "host must be"},
		{"repo", "https://git.example.com/a.git?x=1", "outside letters"},
		{"repo", "https://git.example.com/a.git#x", "outside letters"},
		{"repo", "https://git.example.com/", "has no path"},
		{"repo", "https://git.example.com/a%zz", "does not parse"},
		{"repo", "git.example.com:a%zz", "not an escape"},
		{"repo", "https://git.example.com/a b.git", "outside letters"},
		{"repo", "https://git.example.com/a'.git", "outside letters"},
		{"repo", "https://git.example.com/a\\.git", "outside letters"},
		{"repo", "https://git.example.com/$(x).git", "outside letters"},
		{"repo", "https://git.example.com/a.git\n", "outside letters"},
		{"repo", strings.Repeat("x", 2049), "longer than 2048"},
		{"branch", "release/1.x", ""},
		{"branch", "feature/a+b_c-d", ""},
		{"branch", "-x", "not a branch name"},
		{"branch", "a..b", "not a branch name"},
		{"branch", "a/.b", "not a branch name"},
		{"branch", "a.lock", "not a branch name"},
		{"branch", "a/", "not a branch name"},
		{"branch", "a b", "not a branch name"},
		{"branch", "$(x)", "not a branch name"},
		{"branch", "a'b", "not a branch name"},
		{"branch", "a@{1}", "not a branch name"},
		{"dir", "services/billing", ""},
		{"dir", "./a/b/../c", ""},
		{"dir", "a/-b", "no part starting with '-'"},
		{"dir", "a b", "must be made of"},
		{"dir", "jobs/*", "must be made of"},
		{"dir", "a,b", "must be made of"},
		{"dir", "../x", "must be inside the repository"},
		{"dir", "/x", "must be inside the repository"},
		{"credentials", "git-ssh-key.1_a", ""},
		{"credentials", "-x", "must be a Jenkins credential ID"},
		{"credentials", "..", "must be a Jenkins credential ID"},
		{"credentials", "a b", "must be a Jenkins credential ID"},
		{"credentials", "a'b", "must be a Jenkins credential ID"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+strconv.Quote(tt.value), func(t *testing.T) {
			p := Project{Name: "app", Repo: repo}
			setField(&p, tt.field, tt.value)
			_, err := Bootstrap([]Project{p})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "":
				return
			case err == nil:
				t.Fatalf("accepted, want an error saying %q", tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			case !strings.Contains(err.Error(), "project 1"):
				t.Fatalf("error %q does not name the project", err)
			case tt.field == "repo" && strings.Contains(err.Error(), tt.value):
				t.Fatalf("error %q prints the repo URL", err)
			}
		})
	}
}

// setField sets p's field called field (as in projects.yaml) to v.
func setField(p *Project, field, v string) {
	switch field {
	case "name":
		p.Name = v
	case "repo":
		p.Repo = v
	case "branch":
		p.Branch = v
	case "dir":
		p.Dir = v
	case "credentials":
		p.Credentials = v
	default:
		panic("no field " + field)
	}
}

// TestBootstrapRefusesCredentialsInRepo checks that a repo URL with a
// password or token is refused with an error that names the project, says
// what to do instead and never prints the secret.
func TestBootstrapRefusesCredentialsInRepo(t *testing.T) {
	const secret = "s3cr3t-T0ken"
	for _, repo := range []string{
		"https://user:" + secret + "@git.example.com/team/x.git",
		"https://" + secret + "@github.com/team/x.git",
		"http://user:" + secret + "@git.example.com/x.git",
		"HTTPS://user:" + secret + "@git.example.com/x.git",
		"https://user:" + secret + "@git.example.com",
		"https://user:" + secret + " x@git.example.com/x.git",
		"https://user:" + secret + "\n@git.example.com/x.git",
		"ssh://git:" + secret + "@git.example.com/x.git",
		"git://x:" + secret + "@git.example.com/x.git",
		"git:" + secret + "@git.example.com:team/x.git",
		"user:" + secret + "@git.example.com/x.git",
	} {
		t.Run(strconv.Quote(repo), func(t *testing.T) {
			_, err := Bootstrap([]Project{{Name: "hello", Repo: "https://git.example.com/ok.git"}, {Name: "billing", Repo: repo}})
			if !errors.Is(err, ErrRepoCredentials) {
				t.Fatalf("error %v, want ErrRepoCredentials", err)
			}
			msg := err.Error()
			for _, want := range []string{"project 2 (billing)", "Jenkins credential"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "git.example.com") {
				t.Errorf("error %q prints the URL or its secret", msg)
			}
			_, err = ParseProjects("projects.yaml", []byte("projects:\n  - name: billing\n    repo: "+strconv.Quote(repo)+"\n"))
			if err == nil || !strings.Contains(err.Error(), "projects.yaml:3:11: projects[0].repo: the repo URL holds credentials") || strings.Contains(err.Error(), secret) {
				t.Errorf("ParseProjects: %v", err)
			}
		})
	}
}

func TestParseProjects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []Project
		errs []string // FILE:LINE:COL: FIELD: MESSAGE, one per problem
	}{
		{
			name: "valid",
			yaml: "projects:\n  - {name: hello, repo: https://x/hello.git}\n  - name: billing\n    repo: git@x:p.git\n    branch: trunk\n    dir: services/billing\n    credentials: git-key\n",
			want: []Project{{Name: "hello", Repo: "https://x/hello.git"}, {Name: "billing", Repo: "git@x:p.git", Branch: "trunk", Dir: "services/billing", Credentials: "git-key"}},
		},
		{
			name: "unknown field",
			yaml: "projects:\n  - name: hello\n    repo: https://x/hello.git\n    brnch: main\n",
			errs: []string{`projects.yaml:4:5: projects[0].brnch: unknown field "brnch"; did you mean "branch"?; valid fields: name, repo, branch, dir, credentials`},
		},
		{
			name: "unknown top-level field and missing fields",
			yaml: "project: []\n",
			errs: []string{`projects.yaml:1:1: project: unknown field "project"; valid fields: projects`, `projects.yaml:1:1: projects: missing required field "projects"`},
		},
		{
			name: "missing repo, wrong type, bad dir",
			yaml: "projects:\n  - name: a\n  - name: [b]\n    repo: https://x/b.git\n  - {name: c, repo: 'https://x/c.git', dir: /abs}\n",
			errs: []string{
				`projects.yaml:2:5: projects[0].repo: missing required field "repo"`,
				`projects.yaml:3:11: projects[1].name: expected a string`,
				`projects.yaml:5:45: projects[2].dir: directory "/abs" must be inside the repository`,
			},
		},
		{
			name: "every field outside its grammar",
			yaml: "projects:\n  - name: \"a\\nb\"\n    repo: \"https://x/$(id).git\"\n    branch: \"-b\"\n    dir: \"a b\"\n    credentials: \"'\"\n",
			errs: []string{
				`projects.yaml:2:11: projects[0].name: the name holds the control character U+000A`,
				`projects.yaml:3:11: projects[0].repo: the repo URL holds a character (byte 11)`,
				`projects.yaml:4:13: projects[0].branch: branch "-b" is not a branch name`,
				`projects.yaml:5:10: projects[0].dir: directory "a b" must be made of`,
				`projects.yaml:6:18: projects[0].credentials: credentials "'" must be a Jenkins credential ID`,
			},
		},
		{
			name: "syntax",
			yaml: "projects: [\n",
			errs: []string{"projects.yaml: YAML syntax:"},
		},
		{
			name: "empty",
			yaml: "",
			errs: []string{"projects.yaml: the file is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProjects("projects.yaml", []byte(tt.yaml))
			if tt.errs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error %v does not match config.ErrInvalid", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.errs) {
				t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(tt.errs), err)
			}
			for i, w := range tt.errs {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d is %q, want it to start %q", i, lines[i], w)
				}
			}
		})
	}
}

// FuzzBootstrap checks that Bootstrap never panics, gives the same answer
// twice, never prints a repo URL in an error, and, when it accepts a
// project, changes nothing in the seed but the contents of its string
// literals, which read back as the project's values.
func FuzzBootstrap(f *testing.F) {
	f.Add("hello", "https://git.example.com/team/hello.git", "", "", "")
	f.Add("o'brien's \\u000a ${x}", "git@git.example.com:team/a.git", "release/1.x", "apps/a", "git-key")
	f.Fuzz(func(t *testing.T, name, repo, branch, dir, credentials string) {
		ps := []Project{
			{Name: "other", Repo: "https://git.example.com/other.git"},
			{Name: name, Repo: repo, Branch: branch, Dir: dir, Credentials: credentials},
		}
		first, err := Bootstrap(ps)
		again, err2 := Bootstrap(ps)
		if !bytes.Equal(first, again) || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatal("two runs over the same projects differ")
		}
		if err != nil {
			if len(repo) >= 16 && strings.Contains(err.Error(), repo) && !strings.Contains(name+branch+dir+credentials, repo) {
				t.Fatalf("the error prints the repo URL: %v", err)
			}
			return
		}
		checkSeedRows(t, first, ps)
	})
}

// jobDSLHarness compiles each seed named on its command line and runs it
// under stubs of the Job DSL that record every item it creates, written to
// SEED.items as JSON lines. It then compiles the pipeline script of each
// job (of every 1,000th job in a seed of more than 100) and runs it under
// stubs of the pipeline steps, recording the steps to SEED.steps. Given
// SEED.values, a JSON list of strings, it writes to SEED.quoted what the
// seed's slipwayQuote makes of each, read back by Groovy, and what its
// slipwayWord makes of it.
const jobDSLHarness = `
import groovy.json.JsonOutput
import org.codehaus.groovy.control.CompilerConfiguration

// JobDsl stands in for the Job DSL plugin.
abstract class JobDsl extends Script {
    List<Map> items = []
    Map item
    void folder(String name, Closure body) { make('folder', name, body) }
    void pipelineJob(String name, Closure body) { make('pipelineJob', name, body) }
    void make(String kind, String name, Closure body) {
        if (item != null) {
            throw new IllegalStateException(kind + ' ' + name + ' inside ' + item.name)
        }
        item = [kind: kind, name: name]
        items << item
        within(body)
        item = null
    }
    void description(String s) { item.description = s }
    void sandbox(boolean b) { item.sandbox = b }
    void script(String s) { item.script = s }
    void scmpoll_spec(String s) { item.poll = s }
    def methodMissing(String name, Object args) {
        Object[] a = (Object[]) args
        if (item != null && a.length == 1 && a[0] instanceof Closure) {
            within((Closure) a[0])
            return null
        }
        throw new MissingMethodException(name, JobDsl, a)
    }
    void within(Closure c) {
        c.delegate = this
        c.resolveStrategy = Closure.DELEGATE_FIRST
        c.call()
    }
}

// Pipeline stands in for a declarative pipeline and its steps.
abstract class Pipeline extends Script {
    List<Map> steps = []
    def propertyMissing(String name) { name }
    void git(Map a) { steps << [step: 'git'] + a }
    void sh(String s) { steps << [step: 'sh', script: s] }
    void jobDsl(Map a) { steps << [step: 'jobDsl'] + a }
    def methodMissing(String name, Object args) {
        Object[] a = (Object[]) args
        if (a.length > 0 && a[a.length - 1] instanceof Closure) {
            Closure c = (Closure) a[a.length - 1]
            c.delegate = this
            c.resolveStrategy = Closure.DELEGATE_FIRST
            c.call()
        }
        return null
    }
}

def dsl = new CompilerConfiguration()
dsl.scriptBaseClass = JobDsl.name
def pipeline = new CompilerConfiguration()
pipeline.scriptBaseClass = Pipeline.name
args.each { String f ->
    long start = System.nanoTime()
    String className = new File(f).name.replaceAll('[^A-Za-z0-9]', '_')
    Script seed = new GroovyShell(this.class.classLoader, new Binding(), dsl).parse(new File(f).getText('UTF-8'), className)
    long compiled = System.nanoTime()
    seed.run()
    long ran = System.nanoTime()
    new File(f + '.items').withWriter('UTF-8') { w ->
        seed.items.each { w << JsonOutput.toJson(it) << '\n' }
    }
    List<Map> jobs = seed.items.findAll { it.kind == 'pipelineJob' }
    new File(f + '.steps').withWriter('UTF-8') { w ->
        jobs.eachWithIndex { Map job, int i ->
            if (jobs.size() > 100 && i % 1000 != 0 && i != jobs.size() - 1) {
                return
            }
            Script p = new GroovyShell(this.class.classLoader, new Binding(), pipeline).parse(job.script, 'Pipeline' + i)
            p.run()
            w << JsonOutput.toJson([job: job.name, steps: p.steps]) << '\n'
        }
    }
    System.err.printf('%s: compiled in %.2f s, ran in %.2f s, %d items%n', f, (compiled - start) / 1e9, (ran - compiled) / 1e9, seed.items.size())
    File values = new File(f + '.values')
    if (values.exists()) {
        new File(f + '.quoted').withWriter('UTF-8') { w ->
            new groovy.json.JsonSlurper().parseText(values.getText('UTF-8')).each { String v ->
                String read = new GroovyShell().evaluate('return ' + seed.slipwayQuote(v))
                w << JsonOutput.toJson([value: v, read: read, word: seed.slipwayWord(v)]) << '\n'
            }
        }
    }
}
println 'harness done'
`

// hostileValues are values for every field of a project that try to break
// out of a Groovy string, comment or GString, a shell word or a git
// argument. Those that would run something exit groovy or leave a file in
// $SLIPWAY_CANARY.
var hostileValues = []string{
	`'; System.exit(1); '`,
	`${System.exit(1)}`,
	`"""`, `'''`, `"`, `'`, `\`, `\\`, `\'`,
	`\u000a System.exit(1)`,
	`\u000a System.exit(1) //`,
	`\u0027; System.exit(1); //`,
	`\\u0027; System.exit(1); //`,
	`\'; System.exit(1); //`,
	`*/ System.exit(1) /*`,
	`" + System.exit(1) + "`,
	`'; new File(System.getenv('SLIPWAY_CANARY') + '/groovy').text = 'ran'; '`,
	`${new File(System.getenv('SLIPWAY_CANARY') + '/groovy').text = 'ran'}`,
	`\u0027; new File(System.getenv('SLIPWAY_CANARY') + '/groovy').text = 'ran'; //`,
	`''' + new File(System.getenv('SLIPWAY_CANARY') + '/groovy').text = 'ran' + '''`,
	`$(touch "$SLIPWAY_CANARY/shell")`,
	"`touch \"$SLIPWAY_CANARY/shell\"`",
	`'$(touch "$SLIPWAY_CANARY/shell")'`,
	`x'; touch "$SLIPWAY_CANARY/shell"; '`,
	`; touch "$SLIPWAY_CANARY/shell"`,
	`| touch "$SLIPWAY_CANARY/shell"`,
	`-oProxyCommand=touch /tmp/x`,
	`--upload-pack=touch /tmp/x`,
	`<script>alert(1)</script>`,
	`..`, `../../etc`, `*`, `a,b`, `a b`,
	"a\nSystem.exit(1)",
	"a\r\nSystem.exit(1)",
	"a\u2028System.exit(1)",
	"a\u202eb", "a\x00b", "a\xffb", "\t",
	"https://git.example.com/a.git'; System.exit(1); '",
	"https://git.example.com/$(touch x).git",
	"https://git.example.com/a.git\nSystem.exit(1)",
	"git@git.example.com:a.git ; touch x",
}

// hostileProjects tries every hostile value in every field, one project
// each. It returns the projects accepted, named h1, h2... except where the
// name is what is tried, and checks that each refused one is refused with
// an error that names it and, for a repo, does not print the URL.
func hostileProjects(t *testing.T) []Project {
	t.Helper()
	var accepted []Project
	for _, field := range projectFields {
		for i, v := range hostileValues {
			p := Project{Name: fmt.Sprintf("h%d %s", len(accepted)+1, field), Repo: "https://git.example.com/h.git"}
			if field == "name" {
				// Numbered, as many sanitise to the same folder.
				p.Name = fmt.Sprintf("h%d %s", len(accepted)+1, v)
			} else {
				setField(&p, field, v)
			}
			_, err := Bootstrap([]Project{p})
			if err == nil {
				accepted = append(accepted, p)
				continue
			}
			if !strings.Contains(err.Error(), "project 1 (") {
				t.Errorf("%s %d: error %q does not name the project", field, i, err)
			}
			if field == "repo" && len(v) > 3 && strings.Contains(err.Error(), v) {
				t.Errorf("%s %d: error %q prints the repo URL", field, i, err)
			}
		}
	}
	for _, p := range accepted {
		if p.Repo != "https://git.example.com/h.git" || p.Branch != "" || p.Dir != "" || p.Credentials != "" {
			t.Errorf("a hostile value was accepted outside the name: %+v", p)
		}
	}
	return accepted
}

// TestBootstrapSeedsRunUnderJobDSL compiles seeds for 1, 1,000, 5,000 and
// 10,000 projects, the sample and the hostile projects with groovy, in one
// process, and runs them under stubs of the Job DSL: each must create the
// folder and the bootstrap job of each project exactly once, with the
// literal values, and run nothing else. The shell command of each pipeline
// recorded is run by sh with a stub slipway that reports its arguments.
func TestBootstrapSeedsRunUnderJobDSL(t *testing.T) {
	groovy, err := exec.LookPath("groovy")
	if err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs groovy to check the generated Groovy: apt-get install groovy")
		}
		t.Skip("groovy is not installed (apt-get install groovy)")
	}
	seeds := []struct {
		name     string
		projects []Project
	}{
		{"one", manyProjects(1)},
		{"thousand", manyProjects(1000)},
		{"five_thousand", manyProjects(5000)},
		{"ten_thousand", manyProjects(10000)},
		{"sample", sampleProjects},
		{"hostile", hostileProjects(t)},
	}
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	if err := os.Mkdir(canary, 0o755); err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(dir, "harness.groovy")}
	if err := os.WriteFile(files[0], []byte(jobDSLHarness), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		seed, err := Bootstrap(s.projects)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		f := filepath.Join(dir, s.name+".groovy")
		if err := os.WriteFile(f, seed, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// The seed's own quoting, tried on every hostile value, though the
	// grammar keeps all but names away from it.
	var quotable []string
	for _, v := range hostileValues {
		if utf8.ValidString(v) && !strings.Contains(v, "\x00") {
			quotable = append(quotable, v)
		}
	}
	values, _ := json.Marshal(quotable)
	if err := os.WriteFile(filepath.Join(dir, "hostile.groovy.values"), values, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(groovy, files...)
	cmd.Env = append(os.Environ(), append(javaHome(), "SLIPWAY_CANARY="+canary)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stdout.String(), "harness done") {
		t.Fatalf("groovy: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("groovy:\n%s", stderr.String())
	for i, s := range seeds {
		t.Run(s.name, func(t *testing.T) {
			checkJobDSLItems(t, files[i+1]+".items", s.projects)
			checkPipelineSteps(t, files[i+1]+".steps", s.projects, canary)
		})
	}
	checkSeedQuoting(t, filepath.Join(dir, "hostile.groovy.quoted"), quotable, canary)
	if entries, _ := os.ReadDir(canary); len(entries) > 0 {
		t.Errorf("a hostile value ran: %s holds %s", canary, entries[0].Name())
	}
}

// jobDSLItem is a folder or job a seed created under the stubs.
type jobDSLItem struct {
	Kind, Name, Description, Script, Poll string
	Sandbox                               *bool
}

// checkJobDSLItems checks that the items recorded in file are the folder
// and bootstrap job of each project, each made once, in order, with the
// project's values as they are.
func checkJobDSLItems(t *testing.T, file string, projects []Project) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var items []jobDSLItem
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var it jobDSLItem
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		items = append(items, it)
	}
	if len(items) != 2*len(projects) {
		t.Fatalf("the seed made %d items, want %d", len(items), 2*len(projects))
	}
	seen := map[string]int{}
	for _, it := range items {
		seen[it.Kind+" "+it.Name]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s was made %d times", k, n)
		}
	}
	for i, p := range projects {
		folder, job := items[2*i], items[2*i+1]
		want := bootstrapFolder(p.Name)
		if folder.Kind != "folder" || folder.Name != want {
			t.Fatalf("item %d is %s %q, want folder %q", 2*i+1, folder.Kind, folder.Name, want)
		}
		if d := "Jobs of " + p.Name + ", generated by Slipway from its ci.yaml."; folder.Description != d {
			t.Errorf("folder %s: description %q, want %q", want, folder.Description, d)
		}
		if job.Kind != "pipelineJob" || job.Name != want+"/bootstrap" {
			t.Fatalf("item %d is %s %q, want pipelineJob %q", 2*i+2, job.Kind, job.Name, want+"/bootstrap")
		}
		if !strings.Contains(job.Description, " of "+p.Repo) || job.Sandbox == nil || !*job.Sandbox || job.Poll != "H/15 * * * *" || !strings.HasPrefix(job.Script, "pipeline {") {
			t.Errorf("job %s: %+v", job.Name, job)
		}
	}
}

// checkPipelineSteps checks the steps recorded in file, those of the
// pipeline of some jobs, against their projects' values, running each
// shell command with a stub slipway that prints its arguments.
func checkPipelineSteps(t *testing.T, file string, projects []Project, canary string) {
	t.Helper()
	byJob := map[string]Project{}
	for _, p := range projects {
		byJob[bootstrapFolder(p.Name)+"/bootstrap"] = p
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var rec struct {
			Job   string
			Steps []struct {
				Step, URL, Branch, CredentialsID, Script, Targets string
				AdditionalParameters                              map[string]string
				Sandbox                                           bool
			}
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		n++
		p, ok := byJob[rec.Job]
		if !ok {
			t.Fatalf("no project has the job %q", rec.Job)
		}
		dir, _ := cleanDir(p.Dir)
		branch := p.Branch
		if branch == "" {
			branch = "main"
		}
		args := []string{}
		if dir != "" {
			args = append(args, "-C", dir)
		}
		args = append(args, "pipeline", "generate", "--target", "jenkins-jobdsl", "--folder", bootstrapFolder(p.Name), "--branch", branch)
		targets := path.Join(dir, "jobs", "*.groovy")
		if len(rec.Steps) != 3 {
			t.Fatalf("%s: %d steps, want git, sh and jobDsl", rec.Job, len(rec.Steps))
		}
		git, sh, dsl := rec.Steps[0], rec.Steps[1], rec.Steps[2]
		if git.Step != "git" || git.URL != p.Repo || git.Branch != branch || git.CredentialsID != p.Credentials {
			t.Errorf("%s: git step %+v, want url %q, branch %q, credentials %q", rec.Job, git, p.Repo, branch, p.Credentials)
		}
		if dsl.Step != "jobDsl" || dsl.Targets != targets || dsl.AdditionalParameters["SLIPWAY_REPO"] != p.Repo || !dsl.Sandbox {
			t.Errorf("%s: jobDsl step %+v, want targets %q", rec.Job, dsl, targets)
		}
		if sh.Step != "sh" {
			t.Fatalf("%s: step 2 is %q, want sh", rec.Job, sh.Step)
		}
		words := []string{"slipway"}
		for _, a := range args {
			words = append(words, shellQuote(a))
		}
		if want := strings.Join(words, " "); sh.Script != want {
			t.Errorf("%s: sh %q, want %q", rec.Job, sh.Script, want)
		}
		run := exec.Command("sh", "-c", `slipway() { printf '%s\0' "$@"; }; `+sh.Script)
		run.Env = append(os.Environ(), "SLIPWAY_CANARY="+canary)
		out, err := run.Output()
		if err != nil {
			t.Fatalf("%s: sh %q: %v", rec.Job, sh.Script, err)
		}
		if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", args) {
			t.Errorf("%s: sh %q runs slipway %q, want %q", rec.Job, sh.Script, got, args)
		}
	}
	if want := min(len(projects), 100); len(projects) <= 100 && n != want || len(projects) > 100 && n < 2 {
		t.Errorf("%d pipelines were run, want %d", n, want)
	}
}

// checkSeedQuoting checks what the seed's slipwayQuote and slipwayWord made
// of each value, recorded in file: Groovy must read the quoted string back
// as the value, and sh the word, which must be what shellQuote makes.
func checkSeedQuoting(t *testing.T, file string, values []string, canary string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(values) {
		t.Fatalf("%d values quoted, want %d", len(lines), len(values))
	}
	for i, line := range lines {
		var rec struct{ Value, Read, Word string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if rec.Value != values[i] || rec.Read != values[i] {
			t.Errorf("slipwayQuote(%q) reads back as %q", values[i], rec.Read)
		}
		if rec.Word != shellQuote(values[i]) {
			t.Errorf("slipwayWord(%q) = %s, shellQuote makes %s", values[i], rec.Word, shellQuote(values[i]))
		}
		run := exec.Command("sh", "-c", `printf '%s\0' `+rec.Word)
		run.Env = append(os.Environ(), "SLIPWAY_CANARY="+canary)
		out, err := run.Output()
		if err != nil || string(out) != values[i]+"\x00" {
			t.Errorf("slipwayWord(%q) = %s, which sh reads as %q (%v)", values[i], rec.Word, out, err)
		}
	}
}

// TestBootstrapErrorsQuoteAtMost64Bytes holds every error about
// projects.yaml, or about the projects of a directory of checkouts, to
// quoting at most 64 bytes of a value, and to a bounded number of lines:
// values of 50 KiB were quoted whole.
func TestBootstrapErrorsQuoteAtMost64Bytes(t *testing.T) {
	big := strings.Repeat("x", 50<<10)
	entry := func(fields string) string {
		return "projects:\n  - {name: a, repo: 'https://x/a.git', " + fields + "}\n"
	}
	many := make([]Project, 500)
	for i := range many {
		many[i] = Project{Name: fmt.Sprintf("p%d", i), Repo: "https://x/r.git", Branch: big}
	}
	clash := make([]Project, 20)
	for i := range clash {
		clash[i] = Project{Name: strings.Repeat("x", 200), Repo: "https://x/r.git"}
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"branch", parseErr(entry("branch: " + big))},
		{"dir", parseErr(entry("dir: " + big))},
		{"dir outside", parseErr(entry("dir: ../" + big))},
		{"credentials", parseErr(entry("credentials: " + big))},
		{"unknown field", parseErr("projects:\n  - name: a\n    repo: https://x/a.git\n    ? " + big + "\n    : 1\n")},
		{"duplicate field", parseErr("projects:\n  - name: a\n    repo: https://x/a.git\n    ? " + big + "\n    : 1\n    ? " + big + "\n    : 2\n")},
		{"unknown top-level field", parseErr("? " + big + "\n: 1\nprojects: []\n")},
		{"name", bootstrapErr([]Project{{Name: big + "\n", Repo: "https://x/r.git"}})},
		{"many projects", bootstrapErr(many)},
		{"many names in one folder", bootstrapErr(clash)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, strings.Repeat("x", 65)) {
				t.Errorf("the error quotes more than 64 bytes of a value: %.300s...", msg)
			}
			lines := strings.Split(msg, "\n")
			if len(lines) > 102 || len(msg) > 32<<10 {
				t.Errorf("the error has %d lines, %d bytes", len(lines), len(msg))
			}
			for _, l := range lines {
				if len(l) > 2000 {
					t.Errorf("a line of %d bytes: %.300s...", len(l), l)
				}
			}
		})
	}
}

func parseErr(yaml string) func() error {
	return func() error {
		_, err := ParseProjects("projects.yaml", []byte(yaml))
		return err
	}
}

func bootstrapErr(projects []Project) func() error {
	return func() error {
		_, err := Bootstrap(projects)
		return err
	}
}
