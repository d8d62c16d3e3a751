package pipeline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// jenkinsBlock is a block of a Jenkinsfile: a line ending in '{' up to
// its closing '}'.
type jenkinsBlock struct {
	head     string
	children []*jenkinsBlock
	lines    []string // the lines directly inside it
}

// parseBlocks reads the block structure of a generated Jenkinsfile, which
// writes one opening or closing brace per line.
func parseBlocks(text string) *jenkinsBlock {
	root := &jenkinsBlock{}
	stack := []*jenkinsBlock{root}
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		top := stack[len(stack)-1]
		switch {
		case strings.HasPrefix(l, "//") || l == "":
		case strings.HasSuffix(l, "{"):
			b := &jenkinsBlock{head: strings.TrimSpace(strings.TrimSuffix(l, "{"))}
			top.children = append(top.children, b)
			stack = append(stack, b)
		case l == "}" || strings.HasPrefix(l, "]) {"):
			if l == "}" {
				stack = stack[:len(stack)-1]
			} else {
				b := &jenkinsBlock{head: "withCredentials"}
				top.children = append(top.children, b)
				stack = append(stack, b)
			}
		default:
			top.lines = append(top.lines, l)
		}
	}
	return root
}

func (b *jenkinsBlock) child(head string) *jenkinsBlock {
	for _, c := range b.children {
		if c.head == head || strings.HasPrefix(c.head, head+" ") {
			return c
		}
	}
	return nil
}

// hasAgent reports whether the stage block names an agent.
func (b *jenkinsBlock) hasAgent() bool {
	if b.child("agent") != nil {
		return true
	}
	for _, l := range b.lines {
		if strings.HasPrefix(l, "agent ") {
			return true
		}
	}
	return false
}

// walkStages calls f on every stage with whether an enclosing stage holds
// an agent.
func walkStages(b *jenkinsBlock, inAgent bool, f func(stage *jenkinsBlock, inAgent bool)) {
	for _, c := range b.children {
		if strings.HasPrefix(c.head, "stage(") {
			f(c, inAgent)
			walkStages(c, inAgent || c.hasAgent(), f)
			continue
		}
		walkStages(c, inAgent, f)
	}
}

// TestJenkinsfileAgents checks the Jenkinsfiles hold agents only where
// steps run: the pipeline has agent none, every stage that runs steps is
// on an agent of its own or an enclosing stage's, and a stage with an
// approval is a top-level stage, so Jenkins asks before it allocates the
// agent, and no approval waits inside another stage's agent.
func TestJenkinsfileAgents(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			files, err := Generate(Jenkinsfile, c.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				root := parseBlocks(string(f.Content))
				p := root.child("pipeline")
				if p == nil {
					t.Fatalf("%s: no pipeline block", f.Path)
				}
				if len(p.lines) == 0 || p.lines[0] != "agent none" {
					t.Errorf("%s: the pipeline does not start with agent none: %q", f.Path, p.lines)
				}
				inputs := 0
				walkStages(p, false, func(s *jenkinsBlock, inAgent bool) {
					if s.child("input") != nil {
						inputs++
						if inAgent {
							t.Errorf("%s: %s waits for approval inside an enclosing stage's agent", f.Path, s.head)
						}
					}
					if s.child("steps") != nil && !inAgent && !s.hasAgent() {
						t.Errorf("%s: %s runs steps on no agent", f.Path, s.head)
					}
				})
				if want := strings.Count(string(f.Content), "input {"); inputs != want {
					t.Errorf("%s: found %d inputs in stages, want %d", f.Path, inputs, want)
				}
			}
		})
	}
}

// jobDSLOwnerStubs runs a Job DSL script (the first argument) once for each
// further argument, a file of name=description lines (with \n for a
// newline) naming the jobs that exist, and prints what each run created.
const jobDSLOwnerStubs = `
import org.codehaus.groovy.control.CompilerConfiguration

abstract class OwnerStub extends Script {
    static Map<String, String> existing = [:]
    def getJenkins() {
        [model: [Jenkins: new Expando(get: { -> new Expando(getItemByFullName: { String n ->
            existing.containsKey(n) ? new Expando(description: existing[n]) : null
        }) })]]
    }
    def methodMissing(String name, Object args) {
        Object[] a = (Object[]) args
        if (name in ['folder', 'multibranchPipelineJob']) println 'CREATE ' + a[0]
        if (a.length > 0 && a[a.length - 1] instanceof Closure) {
            Closure c = (Closure) a[a.length - 1]
            c.delegate = this
            c.resolveStrategy = Closure.DELEGATE_FIRST
            c.call()
        }
        return null
    }
}

def config = new CompilerConfiguration()
config.scriptBaseClass = OwnerStub.name
String text = new File(args[0]).getText('UTF-8')
args.drop(1).eachWithIndex { String f, int i ->
    println 'CASE ' + i
    OwnerStub.existing = [:]
    new File(f).readLines().each { String l ->
        if (l) {
            def kv = l.split('=', 2)
            OwnerStub.existing[kv[0]] = kv[1].replace('\\n', '\n')
        }
    }
    def shell = new GroovyShell(this.class.classLoader, new Binding([SLIPWAY_REPO: 'https://git.example.com/x.git']), config)
    try {
        shell.parse(text, 'Generated').run()
        println 'DONE'
    } catch (IllegalStateException e) {
        println 'REFUSED ' + e.message
    }
}
`

// TestJobDSLOwnsItsJobs runs the hello-go Job DSL script under stubs of
// Jenkins: it creates what is missing, updates its own jobs on a second
// run, leaves an existing folder alone, and refuses, before creating
// anything, a job that another seed or a person made.
func TestJobDSLOwnsItsJobs(t *testing.T) {
	groovy, err := exec.LookPath("groovy")
	if err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs groovy: apt-get install groovy")
		}
		t.Skip("groovy is not installed (apt-get install groovy)")
	}
	files, err := Generate(JenkinsJobDSL, load(t, "../examples/hello-go"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script, stubs := filepath.Join(dir, "hello.groovy"), filepath.Join(dir, "stubs.groovy")
	if err := os.WriteFile(script, files[0].Content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stubs, []byte(jobDSLOwnerStubs), 0o644); err != nil {
		t.Fatal(err)
	}
	const owner = `Managed by Slipway: jobs/hello.groovy of https://git.example.com/x.git`
	cases := []struct {
		name, existing string
		want           []string
		refused        bool
	}{
		{"nothing exists", "", []string{"CREATE hello", "CREATE hello/hello", "DONE"}, false},
		{"its own job", "hello=\nhello/hello=Runs Jenkinsfile.\\n" + owner, []string{"CREATE hello/hello", "DONE"}, false},
		{"a job made by hand", "hello=\nhello/hello=Deploys by hand", nil, true},
		{"another seed's job", "hello=\nhello/hello=Managed by Slipway: jobs/hello.groovy of https://git.example.com/other.git", nil, true},
		{"the owner line inside another line", "hello/hello=not " + owner, nil, true},
	}
	args := []string{stubs, script}
	for i, c := range cases {
		f := filepath.Join(dir, fmt.Sprintf("case%d", i))
		if err := os.WriteFile(f, []byte(c.existing), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
	}
	// One JVM runs every case: starting groovy takes seconds.
	cmd := exec.Command(groovy, args...)
	cmd.Env = append(os.Environ(), javaHome()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("groovy: %v\n%s", err, out)
	}
	runs := strings.Split(string(out), "CASE ")
	if len(runs) != len(cases)+1 {
		t.Fatalf("groovy ran %d cases, want %d:\n%s", len(runs)-1, len(cases), out)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Split(strings.TrimSpace(runs[i+1]), "\n")[1:]
			if c.refused {
				if len(got) != 1 || !strings.HasPrefix(got[0], "REFUSED Jenkins already has a job hello/hello") {
					t.Errorf("got %q, want a refusal before anything is created", got)
				}
				return
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
