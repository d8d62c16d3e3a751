package config

import "testing"

func TestMaker(t *testing.T) {
	tasks := Tasks{{Name: "ciLint", Run: "golangci-lint run"}, {Name: "ciBuild", Run: "make dist"}, {Name: "ciJar", Run: "./gradlew assemble"}}
	tests := []struct {
		name     string
		pipeline []Step
		tasks    Tasks
		from     string
		want     string
	}{
		{"the task before build naming the directory", []Step{task("ciLint"), task("ciBuild"), {Kind: StepBuild}}, tasks, "dist/linux_amd64/app", "ciBuild"},
		{"else the first before build", []Step{task("ciLint"), task("ciJar"), {Kind: StepBuild}, task("ciBuild")}, tasks, "build/libs/app.jar", "ciLint"},
		{"never one after build", []Step{task("ciLint"), {Kind: StepBuild}, task("ciBuild")}, tasks, "dist/app", "ciLint"},
		{"in a parallel group", []Step{{Kind: StepParallel, Parallel: []Step{task("ciLint"), task("ciBuild")}}, {Kind: StepBuild}}, tasks, "./dist/app", "ciBuild"},
		{"no build step: the pipeline's tasks", []Step{task("ciJar"), task("ciBuild")}, tasks, "dist/app", "ciBuild"},
		{"no task in the pipeline: every task", []Step{{Kind: StepBuild}}, tasks, "dist/app", "ciBuild"},
		{"a file at the root", []Step{task("ciLint"), {Kind: StepBuild}}, tasks, "app.txt", "ciLint"},
		{"no task", nil, nil, "dist/app", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &CI{Tasks: tt.tasks, Pipeline: tt.pipeline}
			if got := c.Maker(tt.from); got != tt.want {
				t.Errorf("Maker(%q) = %q, want %q", tt.from, got, tt.want)
			}
		})
	}
}

func task(name string) Step { return Step{Kind: StepTask, Task: name} }
