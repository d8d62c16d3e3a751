package config

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// amplifier is a ci.yaml inside every input limit whose values generated
// CI would repeat into far more than MaxCIOutput.
type amplifier struct {
	name  string
	field string // where config check reports it
	build func(b *strings.Builder)
}

// ciHead starts an amplifier's ci.yaml.
const ciHead = "apiVersion: slipway/v1\n"

// bigEnv writes n variables that all alias one value of size bytes, so the
// file stays small while the values it stands for are large.
func bigEnv(b *strings.Builder, indent string, n, size int) {
	fmt.Fprintf(b, "%sV0: &big %s\n", indent, strings.Repeat("v", size))
	for i := 1; i < n; i++ {
		fmt.Fprintf(b, "%sV%d: *big\n", indent, i)
	}
}

// steps writes a flow list of n copies of step.
func steps(b *strings.Builder, n int, step string) {
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(step)
	}
	b.WriteString("]")
}

func amplifiers() []amplifier {
	return []amplifier{
		{"a task's env in every step that runs it", "tasks.t.env", func(b *strings.Builder) {
			b.WriteString(ciHead + "tasks:\n  t:\n    run: x\n    env:\n")
			bigEnv(b, "      ", 20, 50<<10)
			b.WriteString("pipeline: ")
			steps(b, 200, "t")
		}},
		{"env again after every approval", "env", func(b *strings.Builder) {
			b.WriteString(ciHead + "tasks: {t: x}\nenv:\n")
			bigEnv(b, "  ", 20, 50<<10)
			b.WriteString("pipeline: ")
			steps(b, 20, "{task: t, approve: true}")
		}},
		{"long names in what the next group waits for", "pipeline[1]", func(b *strings.Builder) {
			name := "t" + strings.Repeat("n", 8<<10)
			// A key longer than 1024 bytes must be an explicit one.
			b.WriteString(ciHead + "tasks:\n  ? &n " + name + "\n  : x\npipeline:\n  - parallel: ")
			steps(b, 400, "*n")
			b.WriteString("\n  - parallel: ")
			steps(b, 400, "*n")
		}},
		{"every credential in every step", "credentials", func(b *strings.Builder) {
			b.WriteString(ciHead + "tasks: {t: x}\ncredentials:\n")
			for i := 0; i < 2000; i++ {
				fmt.Fprintf(b, "  purpose-%d: credential-id-%d\n", i, i)
			}
			b.WriteString("pipeline: ")
			steps(b, 2000, "t")
		}},
		{"a long agent label in every step", "agent", func(b *strings.Builder) {
			b.WriteString(ciHead + "tasks: {t: x}\nagent: {label: " + strings.Repeat("l", 100<<10) + "}\npipeline: ")
			steps(b, 100, "t")
		}},
		{"tens of thousands of steps", "pipeline", func(b *strings.Builder) {
			b.WriteString(ciHead + "tasks: {t: x}\npipeline: ")
			steps(b, 60000, "t")
		}},
	}
}

// TestGeneratedCIIsBounded holds config check to refusing, with a problem at
// the field that adds the most, a ci.yaml whose generated CI would repeat
// its values into more than MaxCIOutput, before anything is generated.
func TestGeneratedCIIsBounded(t *testing.T) {
	for _, a := range amplifiers() {
		t.Run(a.name, func(t *testing.T) {
			var b strings.Builder
			a.build(&b)
			if b.Len() > 256<<10 {
				t.Fatalf("the ci.yaml is %d bytes; keep it inside the input limit", b.Len())
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := ParseCI(CIFile, []byte(b.String()), nil)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 50<<20 {
				t.Errorf("allocated %.1f MB; want under 50 MB", float64(alloc)/(1<<20))
			}
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("want a problem at %s, got %v", a.field, firstLine(err))
			}
			for _, p := range probs {
				if p.Field == a.field && strings.Contains(p.Msg, "generated CI files would hold about") {
					t.Log(p.Error())
					if p.Line == 0 || len(p.Error()) > 500 {
						t.Errorf("want a short problem with a line: %s", p.Error())
					}
					return
				}
			}
			t.Fatalf("want a problem about the generated size at %s, got:\n%v", a.field, err)
		})
	}
}

// TestOutputEstimateAcceptsLargePipelines keeps the bound far from real
// pipelines: a hundred steps, ten approvals and 8 KiB of env in each step
// are accepted.
func TestOutputEstimateAcceptsLargePipelines(t *testing.T) {
	var b strings.Builder
	b.WriteString(ciHead + "env:\n")
	bigEnv(&b, "  ", 4, 2<<10)
	b.WriteString("credentials: {registry-dev: dev, kubeconfig: kube, sonar-token: sonar}\ntasks:\n  t:\n    run: x\n    env:\n")
	bigEnv(&b, "      ", 4, 2<<10)
	b.WriteString("pipeline:\n")
	for i := 0; i < 100; i++ {
		b.WriteString("  - {task: t, when: {branch: [main, release/*]}}\n")
		if i%10 == 9 {
			b.WriteString("  - {task: t, approve: true}\n")
		}
	}
	c, err := ParseCI(CIFile, []byte(b.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.OutputEstimate(); n > MaxCIOutput/2 {
		t.Errorf("estimate %d bytes; want this pipeline well inside the bound", n)
	}
}
