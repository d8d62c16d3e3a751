package registry

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
)

// Set holds a Client for each registry of a project and picks the right
// one for an image reference, e.g. a base image that lives in one of them.
// References to other registries get a Client with default settings:
// Docker credentials, and verified TLS except for loopback hosts, which
// Docker also treats as insecure. It is safe for concurrent use.
type Set struct {
	defaults Options
	clients  []*Client
	open     func(Options) (*Client, error)

	mu     sync.Mutex
	others map[string]*Client
}

// NewSet returns a Set for registries. o supplies Jobs, UserAgent,
// Progress, Keychain, Backoff and Timeouts for every Client; its Name and
// Registry are ignored.
func NewSet(registries config.Registries, o Options) (*Set, error) {
	return NewSetWith(registries, o, New)
}

// NewSetWith is NewSet with the constructor that opens each Client (New
// in production; tests pass one that opens fakes).
func NewSetWith(registries config.Registries, o Options, open func(Options) (*Client, error)) (*Set, error) {
	o.Name, o.Registry = "", config.Registry{}
	s := &Set{defaults: o, others: map[string]*Client{}, open: open}
	for _, r := range registries {
		co := o
		co.Name, co.Registry = r.Name, r
		c, err := open(co)
		if err != nil {
			return nil, fmt.Errorf("setting up registry %s: %w", r.Name, err)
		}
		s.clients = append(s.clients, c)
	}
	return s, nil
}

// Client returns the Client of the registry called name.
func (s *Set) Client(name string) (*Client, bool) {
	for _, c := range s.clients {
		if c.name == name {
			return c, true
		}
	}
	return nil, false
}

// For returns the Client for a repository: the project registry on the
// same host with the longest matching repository prefix, else a default
// Client for the host.
func (s *Set) For(repo name.Repository) (*Client, error) {
	if c := s.match(repo.RegistryStr(), repo.RepositoryStr()); c != nil {
		return c, nil
	}
	host := repo.RegistryStr()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.others[host]; ok {
		return c, nil
	}
	o := s.defaults
	// Like Docker, trust loopback registries without TLS.
	o.Registry = config.Registry{URL: host, Insecure: isLoopback(host)}
	c, err := s.open(o)
	if err != nil {
		return nil, fmt.Errorf("setting up registry %s: %w", host, err)
	}
	s.others[host] = c
	return c, nil
}

func (s *Set) match(host, repo string) *Client {
	var best, sameHost *Client
	for _, c := range s.clients {
		if c.Host() != host {
			continue
		}
		if sameHost == nil {
			sameHost = c
		}
		if matchesPrefix(repo, c.prefix) && (best == nil || len(c.prefix) > len(best.prefix)) {
			best = c
		}
	}
	if best != nil {
		return best
	}
	return sameHost
}

func matchesPrefix(repo, prefix string) bool {
	return prefix == "" || repo == prefix || strings.HasPrefix(repo, prefix+"/")
}

// ParseReference parses an image reference, as insecure when it is in an
// insecure project registry.
func (s *Set) ParseReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	c, err := s.For(r.Context())
	if err != nil {
		return nil, err
	}
	return c.ParseReference(ref)
}

// OptionsFor returns the remote options for the registry of ref.
func (s *Set) OptionsFor(ctx context.Context, ref name.Reference) ([]remote.Option, error) {
	c, err := s.For(ref.Context())
	if err != nil {
		return nil, err
	}
	return c.RemoteOptions(ctx), nil
}

// ClassifyFor classifies an error from the registry of ref; see Classify.
func (s *Set) ClassifyFor(err error, side Side, ref name.Reference) error {
	c, cerr := s.For(ref.Context())
	if cerr != nil {
		return Classify(err, Target{Side: side, Host: ref.Context().RegistryStr()})
	}
	return c.ClassifyFor(err, side, ref)
}

// isLoopback reports whether host (with an optional port) is localhost or
// a loopback address.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
