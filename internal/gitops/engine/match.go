package engine

import (
	"cmp"
	"net"
	"net/url"
	"path"
	"strings"
)

// RepoKey is what two URLs of one repository share: the host (lower case,
// with a port other than the scheme's default) and the path without a
// trailing ".git" or "/". Scheme and user differ between Slipway's URL and
// the engine's (https for one, ssh for the other), so they are left out.
// An scp-like "user@host:path" is read as ssh://user@host/path.
func RepoKey(raw string) string {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		if at := strings.Index(raw, "@"); at >= 0 {
			if colon := strings.Index(raw[at:], ":"); colon > 0 {
				raw = "ssh://" + raw[:at+colon] + "/" + strings.TrimPrefix(raw[at+colon+1:], "/")
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(strings.TrimRight(raw, "/"), ".git")
	}
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && p != defaultPort[strings.ToLower(u.Scheme)] {
		host = net.JoinHostPort(host, p)
	}
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), ".git")
	return host + "/" + strings.TrimPrefix(p, "/")
}

var defaultPort = map[string]string{"http": "80", "https": "443", "ssh": "22", "git": "9418"}

// PathKey is a path in a repository as a Kustomization's spec.path and an
// environment's path both name it: "./envs/dev", "envs/dev/" and
// "envs/dev" are "envs/dev"; "", "." and "./" are ".".
func PathKey(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+strings.TrimSpace(p)), "/")
	if p == "" {
		return "."
	}
	return p
}

// flux's default branch when a GitRepository names no ref.
const fluxDefaultBranch = "master"

// Source is where a Kustomization takes its manifests from.
type Source struct {
	URL, Branch, Path string
}

// matches says whether s is the environment at url, branch and path.
func (s Source) matches(url, branch, p string) bool {
	return RepoKey(s.URL) == RepoKey(url) && s.Branch == branch && PathKey(s.Path) == PathKey(p)
}

// isObject says whether the object ns/name is the one object names:
// NAMESPACE/NAME, or NAME in namespace (def when namespace is "").
func isObject(object, namespace, def, ns, name string) bool {
	wantNS, wantName, ok := strings.Cut(object, "/")
	if !ok {
		wantNS, wantName = cmp.Or(namespace, def), object
	}
	return ns == wantNS && name == wantName
}
