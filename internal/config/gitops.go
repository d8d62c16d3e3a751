package config

import (
	"net/url"
	"path"
	"slices"
	"strings"
)

// GitOps makes an environment a GitOps one: deploy commits the rendered
// manifests to an environment repository, and an engine (Flux, Argo CD)
// applies them.
type GitOps struct {
	Repo   string `yaml:"repo" required:"true" doc:"environment repository: https://HOST/PATH, ssh://HOST/PATH or user@host:path, without credentials (they come from SLIPWAY_GIT_TOKEN, SLIPWAY_GIT_USERNAME and SLIPWAY_GIT_PASSWORD, the SSH agent or a git credential helper, as for release --push)"`
	Branch string `yaml:"branch" doc:"branch to commit to (default main); a branch per environment, such as env/prod, is one layout"`
	Path   string `yaml:"path" doc:"the environment's directory in the branch, relative and clean, such as envs/prod (default ., the branch's root); Slipway writes APP.yaml there and nothing else"`
	Engine string `yaml:"engine" enum:"flux,argocd,none" doc:"what applies the repository (default none: Slipway commits, and the verdict is left to you)"`
	Object string `yaml:"object" doc:"the Flux Kustomization or Argo CD Application that applies the path, as NAME or NAMESPACE/NAME (default: the one whose source matches repo, branch and path)"`
}

// GitOps engines.
var gitOpsEngines = []string{"flux", "argocd", "none"}

// Defaults of a GitOps section's fields.
const (
	DefaultGitOpsBranch = "main"
	DefaultGitOpsPath   = "."
	DefaultGitOpsEngine = "none"
)

// gitOps checks every environment's gitops section.
func (v *validator) gitOps(p *Project) {
	for _, e := range p.Environments {
		g := e.GitOps
		if g == nil {
			continue
		}
		at := "environments." + e.Name + ".gitops"
		if v.src.Has(at + ".repo") {
			if msg := gitOpsURLProblem(g.Repo); msg != "" {
				v.add(at+".repo", "%s", msg)
			}
		}
		if g.Branch != "" && !validBranch(g.Branch) {
			v.add(at+".branch", "%q is not a valid branch name; use a git ref name such as main or env/prod (no spaces, '..', '~^:?*[\\', or leading '-' or '/')", g.Branch)
		}
		if msg := gitOpsPathProblem(g.Path); msg != "" {
			v.add(at+".path", "%q %s", g.Path, msg)
		}
		if g.Engine != "" && !slices.Contains(gitOpsEngines, g.Engine) {
			v.add(at+".engine", "%s", notValid(g.Engine, gitOpsEngines))
		}
		if g.Object != "" && !validObject(g.Object) {
			v.add(at+".object", "%q is not NAME or NAMESPACE/NAME of lower-case DNS names", g.Object)
		}
		if e.CanaryOf != "" {
			v.add(at, "a canary environment cannot be a GitOps one yet; drop canaryOf or gitops")
		}
		if p.App == "kustomization" {
			v.add(at, "app %q would write its manifests to kustomization.yaml under the path, the file Flux and Argo CD build the directory from; rename the app, or make this environment a direct one", p.App)
		}
	}
}

// gitOpsURLProblem says what is wrong with an environment repository's
// URL, "" when nothing. It never quotes a URL that holds credentials.
func gitOpsURLProblem(raw string) string {
	switch {
	case strings.TrimSpace(raw) == "":
		return "the repository URL is empty; give e.g. https://git.example.com/team/env.git"
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "the repository URL holds spaces or control characters"
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return "the repository URL is not a valid URL; give e.g. https://git.example.com/team/env.git"
		}
		_, password := u.User.Password()
		web := u.Scheme == "http" || u.Scheme == "https"
		if password || (web && u.User != nil) {
			return "the repository URL holds credentials; remove them (the URL is not shown here) and set SLIPWAY_GIT_TOKEN, or SLIPWAY_GIT_USERNAME and SLIPWAY_GIT_PASSWORD, or configure a git credential helper"
		}
		if !slices.Contains([]string{"https", "http", "ssh", "file"}, u.Scheme) {
			return "the repository URL's scheme " + quoted(u.Scheme) + " is not one of https, http, ssh, file"
		}
		return ""
	}
	// scp-like user@host:path; a colon before any '@' would be user:pass.
	if at := strings.IndexByte(raw, '@'); at >= 0 && strings.Contains(raw[:at], ":") {
		return "the repository URL holds credentials; remove them (the URL is not shown here) and use the SSH agent"
	}
	return ""
}

// gitOpsPathProblem says what is wrong with an environment's path, ""
// when nothing.
func gitOpsPathProblem(p string) string {
	switch {
	case p == "" || p == ".":
		return ""
	case strings.HasPrefix(p, "/") || strings.Contains(p, `\`):
		return "is not a relative, slash-separated path; give e.g. envs/prod"
	case path.Clean(p) != p:
		return "is not clean; give it as " + quoted(path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../"):
		return "leaves the repository; give a directory inside it, e.g. envs/prod"
	case strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "holds control characters"
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".git" {
			return "names .git; give a directory of the repository's files"
		}
	}
	return ""
}

// validBranch reports whether name is a valid branch name, by the rules of
// git check-ref-format.
func validBranch(name string) bool {
	if name == "@" || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") ||
		strings.Contains(name, "..") || strings.Contains(name, "@{") || strings.Contains(name, "//") || len(name) > 255 {
		return false
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("~^:?*[\\", r) }) {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".lock") {
			return false
		}
	}
	return true
}

// validObject reports whether s is NAME or NAMESPACE/NAME.
func validObject(s string) bool {
	ns, name, found := strings.Cut(s, "/")
	if !found {
		name, ns = ns, ""
	}
	return len(name) <= 253 && dnsSubdomain(name) && (!found || dnsLabel.MatchString(ns))
}

func dnsSubdomain(s string) bool {
	for _, l := range strings.Split(s, ".") {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return s != ""
}

func quoted(s string) string { return `"` + clip(s, maxQuoted) + `"` }
