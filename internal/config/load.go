package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// ErrNotFound is matched when a configuration file does not exist.
var ErrNotFound = errors.New("configuration file not found")

// LoadProject reads, decodes, defaults and validates dir/slipway.yaml. Every
// problem is returned at once as Problems.
func LoadProject(dir string) (*Project, error) {
	path := filepath.Join(dir, ProjectFile)
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	p, err := ParseProject(displayPath(path), data)
	if p == nil {
		return p, err
	}
	p.Dir = dir
	if err == nil {
		var probs Problems
		for _, e := range []error{p.CheckSources(), p.CheckFiles()} {
			var more Problems
			if errors.As(e, &more) {
				probs = append(probs, more...)
			}
		}
		err = probs.orNil()
	}
	// Files other code opens are named relative to slipway.yaml, not to
	// the working directory; keys are joined where they are read.
	for i, r := range p.Registries {
		if r.CA != "" && !filepath.IsAbs(r.CA) {
			p.Registries[i].CA = filepath.Join(dir, r.CA)
		}
	}
	for i, e := range p.Environments {
		if e.Kubeconfig != "" && !filepath.IsAbs(e.Kubeconfig) {
			p.Environments[i].Kubeconfig = filepath.Join(dir, e.Kubeconfig)
		}
	}
	return p, err
}

// ParseProject decodes and validates slipway.yaml content; file names it in
// problems. The project is returned even when it has problems.
func ParseProject(file string, data []byte) (*Project, error) {
	d := newDecoder(file)
	var p Project
	d.parse(data, &p)
	p.Source = d.src
	if d.probs.fatal() {
		return &p, d.probs.orNil()
	}
	p.applyDefaults()
	return &p, d.probs.merge(p.Validate())
}

// LoadCI reads, decodes and validates dir/ci.yaml against its project.
func LoadCI(dir string, p *Project) (*CI, error) {
	path := filepath.Join(dir, CIFile)
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseCI(displayPath(path), data, p)
	if c != nil {
		c.Dir = dir
	}
	if err == nil {
		err = c.checkModules()
	}
	return c, err
}

// Module is a module a ci.yaml lists, loaded.
type Module struct {
	// Dir is the module's directory as ci.yaml writes it under modules.
	Dir     string
	Project *Project
	CI      *CI
}

// LoadModules loads the slipway.yaml and ci.yaml of each module c (loaded
// by LoadCI) lists, in order.
func (c *CI) LoadModules() ([]Module, error) {
	var out []Module
	for _, m := range c.Modules {
		mp, err := LoadProject(filepath.Join(c.Dir, m))
		if err != nil {
			return nil, fmt.Errorf("loading module %s: %w", m, err)
		}
		mc, err := LoadCI(mp.Dir, mp)
		if err != nil {
			return nil, fmt.Errorf("loading module %s: %w", m, err)
		}
		out = append(out, Module{Dir: m, Project: mp, CI: mc})
	}
	return out, nil
}

// checkModules refuses a module directory reached through a symlink: its
// slipway.yaml and ci.yaml would be read from wherever the link leads.
func (c *CI) checkModules() error {
	v := &validator{src: c.Source}
	for i, m := range c.Modules {
		var pe *projfs.Error
		if err := projfs.CheckPath(c.Dir, m); errors.As(err, &pe) {
			v.add(fmt.Sprintf("modules[%d]", i), "%q: %s", m, pe.Reason())
		}
	}
	return v.probs.orNil()
}

// ParseCI decodes and validates ci.yaml content; p, when non-nil, is the
// project whose environments and registries the pipeline may name.
func ParseCI(file string, data []byte, p *Project) (*CI, error) {
	d := newDecoder(file)
	var c CI
	d.parse(data, &c)
	c.Source = d.src
	if d.probs.fatal() {
		return &c, d.probs.orNil()
	}
	return &c, d.probs.merge(c.Validate(p))
}

func readFile(path string) ([]byte, error) {
	data, err := ReadFile(path, displayPath(path), DefaultLimits)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, remedy.With(fmt.Errorf("reading %s: %w", displayPath(path), ErrNotFound), remedy.Remedy{Kind: remedy.RunInit})
	}
	var probs Problems
	if errors.As(err, &probs) {
		return nil, probs
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", displayPath(path), err)
	}
	return data, nil
}

// displayPath shortens path relative to the working directory when that is
// shorter, so problems read "slipway.yaml:3:1" rather than an absolute path.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, abs); err == nil && len(rel) < len(path) {
		return rel
	}
	return path
}

// applyDefaults fills what the file left out.
func (p *Project) applyDefaults() {
	r := &p.Release
	if !p.Source.Has("release.tagPrefix") {
		r.TagPrefix = "v"
	}
	r.Bump = cmp.Or(r.Bump, "auto")
	r.DefaultBump = cmp.Or(r.DefaultBump, "patch")
	r.SnapshotSuffix = cmp.Or(r.SnapshotSuffix, "SNAPSHOT")
	r.Initial = cmp.Or(r.Initial, "0.1.0")
	r.Remote = cmp.Or(r.Remote, "origin")
	im := &p.Image
	im.Base = cmp.Or(im.Base, "scratch")
	if len(im.Platforms) == 0 {
		im.Platforms = []string{"linux/amd64"}
	}
	if im.User == "" && im.Base == "scratch" {
		im.User = "65532"
	}
	for i := range p.Environments {
		e := &p.Environments[i]
		e.Namespace = cmp.Or(e.Namespace, p.App)
		if g := e.GitOps; g != nil {
			g.Branch = cmp.Or(g.Branch, DefaultGitOpsBranch)
			g.Path = cmp.Or(g.Path, DefaultGitOpsPath)
			g.Engine = cmp.Or(g.Engine, DefaultGitOpsEngine)
		}
		defaultChecks(e.Checks)
	}
	dp := &p.Deploy
	dp.Pod = cmp.Or(dp.Pod, PodFile)
	if dp.Port == 0 {
		dp.Port = 8080
		if len(im.Ports) > 0 {
			dp.Port = im.Ports[0]
		}
	}
	if !p.Source.Has("deploy.drain") {
		dp.Drain.Duration = 15 * time.Second
	}
	if !p.Source.Has("deploy.stability") {
		dp.Stability.Duration = 3 * time.Second
	}
	dp.Timeout.Duration = cmp.Or(dp.Timeout.Duration, 5*time.Minute)
	dp.Surge = cmp.Or(dp.Surge, DefaultSurge)
	defaultChecks(dp.Checks)
	defaultNotify(p.Notify)
}
