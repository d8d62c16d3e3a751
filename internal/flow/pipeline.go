package flow

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/release"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/pipeline"
)

// ErrDrift is matched when committed generated files differ from what
// ci.yaml generates.
var ErrDrift = errors.New("generated CI files are out of date")

// Target names a CI system whose configuration GeneratePipeline writes.
type Target = pipeline.Target

// Targets lists every target, in the order help text shows them.
func Targets() []Target { return pipeline.Targets }

// ParseTarget returns the target called s; the error lists the valid ones.
func ParseTarget(s string) (Target, error) { return pipeline.ParseTarget(s) }

// Install is the Slipway release generated jobs install (see
// pipeline.Install).
type Install = pipeline.Install

// maxChecksums bounds a goreleaser checksums.txt: a line per archive, and
// a release has tens.
const maxChecksums = 1 << 20

// ReadChecksums reads a goreleaser checksums.txt, bounded and only as a
// regular file: /dev/zero never ends.
func ReadChecksums(file string) ([]byte, error) { return projfs.ReadRegular(file, maxChecksums) }

// SlipwayChecksums is the Install of Slipway version whose archives the
// checksums (see ReadChecksums) list.
func SlipwayChecksums(version string, checksums []byte) (*Install, error) {
	return pipeline.ParseChecksums(version, checksums)
}

// SlipwayVersion is an Install of Slipway version that pins no archive:
// it tags agent.slipwayImage.
func SlipwayVersion(version string) (*Install, error) { return pipeline.VersionOnly(version) }

// PipelineOptions name the project to the CI system.
type PipelineOptions struct {
	Folder, Branch string
	// Slipway, when set, makes every job install that Slipway release,
	// checked against its pinned checksums.
	Slipway *pipeline.Install
}

// pipelineInput is what the generators work from: the project's
// slipway.yaml as p holds it, its ci.yaml and its modules' files, each read
// once and decoded for every target, and where the project is in its
// repository. It returns the root generated paths start at too: the
// repository's, or p.Dir outside one.
func pipelineInput(p *config.Project, o PipelineOptions) (pipeline.Input, string, error) {
	c, err := config.LoadCI(p.Dir, p)
	if err != nil {
		return pipeline.Input{}, "", err
	}
	modules, err := c.LoadModules()
	if err != nil {
		return pipeline.Input{}, "", err
	}
	in := pipeline.Input{SlipwayYAML: sourceFile(p.Source), CIYAML: sourceFile(c.Source), Modules: map[string]pipeline.Input{},
		Folder: o.Folder, Branch: o.Branch, Slipway: o.Slipway}
	for _, m := range modules {
		in.Modules[m.Dir] = pipeline.Input{SlipwayYAML: sourceFile(m.Project.Source), CIYAML: sourceFile(m.CI.Source), Dir: filepath.ToSlash(m.Dir)}
	}
	root := p.Dir
	if r, err := release.Open(p.Dir); err == nil {
		root = r.Root()
		in.Repo = r.SourceURL(p.Release.Remote)
		if rel, err := filepath.Rel(root, p.Dir); err == nil && rel != "." {
			in.Dir = filepath.ToSlash(rel)
		}
	}
	in, err = pipeline.Parse(in)
	return in, root, err
}

// sourceFile is the content of a loaded configuration file, as the
// generators take it.
func sourceFile(s *config.Source) pipeline.File { return pipeline.File{Path: s.File, Content: s.Data} }

// GeneratePipeline writes the target's files under out (default: the root
// of the project's repository, since their paths start there) and returns
// their paths.
func GeneratePipeline(p *config.Project, t pipeline.Target, out string, o PipelineOptions) ([]string, error) {
	in, root, err := pipelineInput(p, o)
	if err != nil {
		return nil, err
	}
	files, err := pipeline.Generate(t, in)
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = root
	}
	var written []string
	for _, f := range files {
		// Never through a committed symlink: it could lead anywhere.
		if err := projfs.WriteFile(out, f.Path, f.Content, 0o644); err != nil {
			return written, err
		}
		written = append(written, f.Path)
	}
	return written, nil
}

// maxProjectsFile bounds projects.yaml: a line or two per project, for
// tens of thousands of projects.
const maxProjectsFile = 16 << 20

// maxCommitted bounds a committed generated file read for comparison:
// generated files are kilobytes, and one far larger has drifted anyway.
const maxCommitted = 8 << 20

// CheckPipeline compares every generated file present in the project with
// what ci.yaml generates now (with o, as generate was given), and returns
// the files checked, or ErrDrift with a unified diff of those that differ.
func CheckPipeline(p *config.Project, o PipelineOptions) ([]string, error) {
	in, root, err := pipelineInput(p, o)
	if err != nil {
		return nil, err
	}
	var checked []string
	var diffs []string
	for _, t := range pipeline.Targets {
		files, err := pipeline.Generate(t, in)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			// A committed symlink, FIFO or device in place of a generated
			// file is refused, not read into the diff.
			have, err := projfs.ReadFile(root, f.Path, maxCommitted)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("checking generated CI files: %w", err)
			}
			checked = append(checked, f.Path)
			if bytes.Equal(have, f.Content) {
				continue
			}
			d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
				A: difflib.SplitLines(string(have)), B: difflib.SplitLines(string(f.Content)),
				FromFile: f.Path + " (committed)", ToFile: f.Path + " (from ci.yaml)", Context: 3,
			})
			diffs = append(diffs, d)
		}
	}
	sort.Strings(checked)
	if len(checked) == 0 {
		return nil, remedy.With(errors.New("checking generated CI files: none found"), remedy.Remedy{Kind: remedy.GenerateCI})
	}
	if len(diffs) > 0 {
		return checked, &DriftError{Diff: strings.Join(diffs, "")}
	}
	return checked, nil
}

// DriftError carries the diff of drifted generated files.
type DriftError struct{ Diff string }

func (e *DriftError) Error() string {
	return "checking generated CI files: " + ErrDrift.Error()
}

// Remedy is to generate the files again and commit them.
func (e *DriftError) Remedy() remedy.Remedy { return remedy.Remedy{Kind: remedy.RegenerateCI} }

// Is makes errors.Is(err, ErrDrift) true.
func (e *DriftError) Is(target error) bool { return target == ErrDrift }

// Bootstrap writes one Job DSL seed script for the projects of a
// projects.yaml file, or of the checkouts under dir (see
// BootstrapProjects).
func Bootstrap(file, dir string) ([]byte, error) {
	projects, err := BootstrapProjects(file, dir)
	if err != nil {
		return nil, err
	}
	return pipeline.Bootstrap(projects)
}

// BootstrapProjects lists the projects for a seed script: from a
// projects.yaml, or from the checkouts (directories holding slipway.yaml)
// directly under dir.
func BootstrapProjects(file, dir string) ([]pipeline.Project, error) {
	if file != "" {
		// Bounded, and a regular file only: /dev/zero never ends.
		data, err := projfs.ReadRegular(file, maxProjectsFile)
		if err != nil {
			return nil, fmt.Errorf("bootstrapping: %w", err)
		}
		return pipeline.ParseProjects(file, data)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var out []pipeline.Project
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, config.ProjectFile)); err != nil {
			continue
		}
		p, err := config.LoadProject(sub)
		if err != nil {
			return nil, err
		}
		pr := pipeline.Project{Name: p.App}
		if r, err := release.Open(sub); err == nil {
			pr.Repo = r.SourceURL(p.Release.Remote)
		}
		out = append(out, pr)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bootstrapping: no directory under %s holds a %s", dir, config.ProjectFile)
	}
	return out, nil
}
