package flow

import (
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
)

const graphProject = `apiVersion: slipway/v1
app: hello
registries: {dev: d.example.com/t, rc: r.example.com/t}
environments:
  dev: {registry: dev}
  showcase: {registry: rc}
  canary: {registry: rc, canaryOf: prod}
  prod: {registry: rc, requires: canary}
`

func names(steps []Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name())
	}
	return strings.Join(out, " ")
}

func TestPlan(t *testing.T) {
	p, err := config.ParseProject("slipway.yaml", []byte(graphProject))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		goals []string
		want  string
	}{
		{[]string{"deployToDev"}, "buildImage pushImageToDev deployToDev"},
		{[]string{"deployToShowcase"}, "buildImage pushImageToDev promoteFromDevToRc deployToShowcase"},
		{[]string{"deployToShowcase", "deployToDev"}, "buildImage pushImageToDev promoteFromDevToRc deployToShowcase deployToDev"},
		{[]string{"buildImage", "pushImageToDev", "deployToDev", "promoteFromDevToRc", "deployToShowcase"},
			"buildImage pushImageToDev deployToDev promoteFromDevToRc deployToShowcase"},
		{[]string{"pushImageToDev"}, "buildImage pushImageToDev"},
	} {
		var goals []Step
		for _, g := range tc.goals {
			s, err := ParseTask(p, g)
			if err != nil {
				t.Fatal(err)
			}
			goals = append(goals, s)
		}
		if got := names(Plan(p, goals)); got != tc.want {
			t.Errorf("Plan(%v) = %s, want %s", tc.goals, got, tc.want)
		}
	}
	if got := names(Tasks(p)); got != "buildImage pushImageToDev promoteFromDevToRc deployToDev deployToShowcase deployToCanary deployToProd" {
		t.Errorf("Tasks = %s", got)
	}
	if _, err := ParseTask(p, "deployToQa"); err == nil || !strings.Contains(err.Error(), "deployToDev") {
		t.Errorf("unknown task: %v", err)
	}
	if s, _ := ParseTask(p, "promotefromdevtorc"); s.Command() != "slipway promote dev rc --no-deps" {
		t.Errorf("command: %s", s.Command())
	}
}
