package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/config"
)

// sampleProjects are a few projects with names and paths that need care.
var sampleProjects = []Project{
	{Name: "hello", Repo: "https://git.example.com/team/hello.git"},
	{Name: "billing service", Repo: "git@git.example.com:platform/platform.git", Branch: "trunk", Dir: "services/billing"},
	{Name: "o'brien's app", Repo: `https://git.example.com/o'brien/app\x.git`, Branch: "release/1.x", Dir: "apps/it's"},
}

func TestBootstrapGolden(t *testing.T) {
	got, err := Bootstrap(sampleProjects)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/bootstrap.golden", got)
}

// manyProjects makes n distinct projects.
func manyProjects(n int) []Project {
	ps := make([]Project, n)
	for i := range ps {
		ps[i] = Project{
			Name:   fmt.Sprintf("service-%04d", i),
			Repo:   fmt.Sprintf("https://git.example.com/team/service-%04d.git", i),
			Branch: []string{"", "main", "trunk"}[i%3],
			Dir:    []string{"", "", "deploy"}[i%3],
		}
	}
	return ps
}

func TestBootstrapThousandProjectsIsByteStable(t *testing.T) {
	ps := manyProjects(1000)
	first, err := Bootstrap(ps)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := Bootstrap(ps)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("two runs over the same projects differ")
		}
	}
	if n := bytes.Count(first, []byte("\npipelineJob(")); n != 1000 {
		t.Errorf("the seed has %d bootstrap jobs, want 1000", n)
	}
	if n := bytes.Count(first, []byte("\nfolder(")); n != 1000 {
		t.Errorf("the seed has %d folders, want 1000", n)
	}
}

func BenchmarkBootstrap1000(b *testing.B) {
	ps := manyProjects(1000)
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
	_, err := Bootstrap([]Project{{Repo: "r"}, {Name: "x"}, {Name: "y", Repo: "r", Dir: "../up"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"project 1: it has no name", "project 2 (x): it has no repo", `project 3 (y): directory "../up" must be inside the repository`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
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
			yaml: "projects:\n  - {name: hello, repo: https://x/hello.git}\n  - name: billing\n    repo: git@x:p.git\n    branch: trunk\n    dir: services/billing\n",
			want: []Project{{Name: "hello", Repo: "https://x/hello.git"}, {Name: "billing", Repo: "git@x:p.git", Branch: "trunk", Dir: "services/billing"}},
		},
		{
			name: "unknown field",
			yaml: "projects:\n  - name: hello\n    repo: r\n    brnch: main\n",
			errs: []string{`projects.yaml:4:5: projects[0].brnch: unknown field "brnch"; did you mean "branch"?; valid fields: name, repo, branch, dir`},
		},
		{
			name: "unknown top-level field and missing fields",
			yaml: "project: []\n",
			errs: []string{`projects.yaml:1:1: project: unknown field "project"; valid fields: projects`, `projects.yaml:1:1: projects: missing required field "projects"`},
		},
		{
			name: "missing repo, wrong type, bad dir",
			yaml: "projects:\n  - name: a\n  - name: [b]\n    repo: r\n  - {name: c, repo: r, dir: /abs}\n",
			errs: []string{
				`projects.yaml:2:5: projects[0].repo: missing required field "repo"`,
				`projects.yaml:3:11: projects[1].name: expected a string`,
				`projects.yaml:5:5: projects[2].dir: directory "/abs" must be inside the repository`,
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
