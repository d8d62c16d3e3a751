package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/config"
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
	golden(t, "testdata/bootstrap.golden", got)
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
