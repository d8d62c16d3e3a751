package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// The grammars of names that reach generated CI files. A name in one of
// these grammars needs no quoting in a shell word, a Groovy string, a YAML
// scalar, a GitHub expression or a GitLab variable, so a value outside them
// is refused at `slipway config check` rather than escaped.
var (
	// envVarName is a POSIX environment variable name.
	envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// branchGlob is a git branch name, or a glob of them with '*' (any
	// characters within a segment) and '**' (across segments): letters,
	// digits, '.', '_', '-' and '/'-separated segments. GitHub filters give
	// '?', '+', '[' and '!' meanings of their own, so they are left out.
	branchGlob = regexp.MustCompile(`^[A-Za-z0-9_*][A-Za-z0-9._*-]*(/[A-Za-z0-9_*][A-Za-z0-9._*-]*)*$`)
	// agentLabel is a Jenkins label expression or a GitLab runner tag:
	// label words joined by &&, ||, !, -> and parentheses.
	agentLabel = regexp.MustCompile(`^[A-Za-z0-9_.:/() &|!<>-]+$`)
	// modulePath is a directory inside the project: '/'-separated segments
	// of letters, digits, '.', '_' and '-', none starting with '.' or '-'.
	modulePath = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$`)
	// credentialPurpose is a key under credentials: registry-NAME,
	// kubeconfig or any other word.
	credentialPurpose = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	// imageRepository is an image repository without tag or digest: a
	// registry host (with a port only before a path) and path components
	// of lower-case letters and digits joined by '.', '_' or '-'.
	imageRepository = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*((:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+)?$`)
)

// IsImageRepository reports whether s names an image repository without a
// tag or digest, such as registry.example.com/ci/slipway.
func IsImageRepository(s string) bool { return imageRepository.MatchString(s) }

// maxDisplayName bounds step display names, which CI systems show in one line.
const maxDisplayName = 100

// names checks the names of slipway.yaml that generated CI files use and
// that Validate does not check elsewhere: the registry names.
func (v *validator) names(p *Project) {
	for _, r := range p.Registries {
		if !dnsLabel.MatchString(r.Name) {
			v.add("registries."+r.Name, "registry name %q must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit", r.Name)
		}
	}
}

// BranchProblem says what is wrong with a branch name or glob, or returns ""
// when it is valid.
func BranchProblem(b string) string {
	switch {
	case b == "":
		return "a branch name cannot be empty"
	case !branchGlob.MatchString(b) || strings.Contains(b, "..") || strings.HasSuffix(b, ".lock") || strings.HasSuffix(b, "."):
		return fmt.Sprintf("%q is not a branch name or glob; use letters, digits, '.', '_', '-' and '/', with * for any characters within a segment and ** across them", b)
	}
	return ""
}

// DirProblem says what is wrong with a directory inside the repository (a
// module, or where the project lives), or returns "" when it is valid.
func DirProblem(d string) string {
	if !modulePath.MatchString(d) {
		return fmt.Sprintf("%q must be a directory inside the project written with letters, digits, '.', '_', '-' and '/' (no segment starting with '.' or '-')", d)
	}
	return ""
}

// URLCredentials reports whether s holds credentials before a host, as in
// https://user:token@host/... or user:token@host.
func URLCredentials(s string) bool {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return true
	}
	before, _, found := strings.Cut(s, "@")
	return found && strings.Contains(before, ":") && !strings.Contains(before, "/")
}

// lineProblem says what is wrong with a value that must stay on one line
// (a display name, a command prefix), or returns "".
func lineProblem(s string) string {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("must be one line of printable characters, but holds %U", r)
		}
	}
	return ""
}
