package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// groovyCheck compiles every file named on its command line; for the files
// ending in seed.groovy it also runs them against stubs of the Job DSL, so
// the pipeline scripts they embed are compiled too.
const groovyCheck = `
import org.codehaus.groovy.control.CompilerConfiguration

abstract class JobDslStub extends Script {
    List<String> scripts = []
    def methodMissing(String name, Object args) {
        Object[] a = (Object[]) args
        if (name == 'script' && a.length == 1 && a[0] instanceof String) {
            scripts << (String) a[0]
            return null
        }
        if (a.length > 0 && a[a.length - 1] instanceof Closure) {
            Closure c = (Closure) a[a.length - 1]
            c.delegate = this
            c.resolveStrategy = Closure.DELEGATE_FIRST
            c.call()
        }
        return null
    }
}

int failed = 0
def compile = { String name, String text ->
    try {
        new GroovyShell().parse(text, name.replaceAll('[^A-Za-z0-9]', '_'))
    } catch (Exception e) {
        System.err.println(name + ': ' + e.message)
        failed++
    }
}
args.each { String f ->
    compile(f, new File(f).text)
    if (f.endsWith('seed.groovy')) {
        def config = new CompilerConfiguration()
        config.scriptBaseClass = JobDslStub.name
        def seed = new GroovyShell(this.class.classLoader, new Binding(), config).parse(new File(f))
        seed.run()
        if (seed.scripts.isEmpty()) {
            System.err.println(f + ': no pipeline scripts found')
            failed++
        }
        seed.scripts.eachWithIndex { String s, int i -> compile(f + ' script ' + (i + 1), s) }
    }
}
System.exit(failed == 0 ? 0 : 1)
`

// TestGroovyCompiles compiles the generated Jenkinsfiles, Job DSL scripts
// and bootstrap seed with groovy, when it is installed.
func TestGroovyCompiles(t *testing.T) {
	groovy, err := exec.LookPath("groovy")
	if err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs groovy to check the generated Groovy: apt-get install groovy")
		}
		t.Skip("groovy is not installed (apt-get install groovy)")
	}
	dir := t.TempDir()
	var files []string
	write := func(name string, b []byte) {
		// Groovy names the script's class after the file.
		base := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, strings.TrimSuffix(name, ".groovy"))
		p := filepath.Join(dir, base+".groovy")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	for _, c := range cases(t) {
		for _, target := range []Target{Jenkinsfile, JenkinsJobDSL} {
			out, err := Generate(target, c.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range out {
				write(c.name+"_"+f.Path, f.Content)
			}
		}
	}
	seed, err := Bootstrap(append(sampleProjects, manyProjects(20)...))
	if err != nil {
		t.Fatal(err)
	}
	write("bootstrap_seed.groovy", seed)
	check := filepath.Join(dir, "check.groovy")
	if err := os.WriteFile(check, []byte(groovyCheck), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(groovy, append([]string{check}, files...)...)
	cmd.Env = append(os.Environ(), javaHome()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("groovy: %v\n%s", err, out)
	}
}

// javaHome sets JAVA_HOME from the java on PATH when it is unset or wrong,
// as the groovy launcher needs it.
func javaHome() []string {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		if _, err := os.Stat(filepath.Join(h, "bin", "java")); err == nil {
			return nil
		}
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil
	}
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		return nil
	}
	return []string{"JAVA_HOME=" + filepath.Dir(filepath.Dir(real))}
}
