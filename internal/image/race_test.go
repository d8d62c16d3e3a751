package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// tagBarrier is a proxy in front of a registry that holds the first two
// writes of a tag (PUT /v2/.../manifests/TAG, not by digest) until both
// have arrived, then lets them through one after the other in arrival
// order: both writers have looked at the tag and found it free, the
// worst interleaving of two runs tagging one version at once.
type tagBarrier struct {
	next    http.Handler
	mu      sync.Mutex
	arrived int
	both    chan struct{}
	turn    chan struct{}
}

func newTagBarrier(t *testing.T, target string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	b := &tagBarrier{next: httputil.NewSingleHostReverseProxy(u), both: make(chan struct{}), turn: make(chan struct{}, 1)}
	b.turn <- struct{}{}
	s := httptest.NewServer(b)
	t.Cleanup(s.Close)
	return s
}

func (b *tagBarrier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := strings.LastIndex(r.URL.Path, "/manifests/")
	if r.Method != http.MethodPut || i < 0 || strings.HasPrefix(r.URL.Path[i+len("/manifests/"):], "sha256:") {
		b.next.ServeHTTP(w, r)
		return
	}
	b.mu.Lock()
	b.arrived++
	n := b.arrived
	if n == 2 {
		close(b.both)
	}
	b.mu.Unlock()
	if n <= 2 {
		select {
		case <-b.both:
		case <-time.After(20 * time.Second): // the other never came: let this one go
		}
		if n == 2 {
			time.Sleep(20 * time.Millisecond) // the first goes first
		}
		<-b.turn
		defer func() { b.turn <- struct{}{} }()
	}
	b.next.ServeHTTP(w, r)
}

// complete checks that ref resolves to an image or index whose every
// manifest and blob is in the registry and matches its digest.
func complete(c *registry.Client, ref string) (v1.Hash, error) {
	r, err := name.ParseReference(ref, c.NameOptions()...)
	if err != nil {
		return v1.Hash{}, err
	}
	return testutil.ReadComplete(r, c.RemoteOptions(context.Background())...)
}

// TestRacePushSameVersion pushes one version from two clones (different
// digests) at once, to Debian's docker-registry, many times: directly, and
// through a proxy that makes both find the tag free before either writes
// it. Whatever the interleaving, exactly one push succeeds, the tag points
// at its image, complete, and the other fails with a *registry.TagConflictError.
func TestRacePushSameVersion(t *testing.T) {
	noSourceDateEpoch(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	barrier := newTagBarrier(t, reg.URL)

	// Two clones of one version, built from different sources.
	clones := make([]string, 2)
	digests := make([]string, 2)
	for i := range clones {
		clones[i] = t.TempDir()
		writeProject(t, clones[i], map[string]file{"bin/hello": {content: fmt.Sprintf("clone %d", i), mode: 0o755}})
		o := testOptions(clones[i])
		o.Meta.Revision = fmt.Sprintf("%d123456789abcdef0123456789abcdef01234567", i)
		digests[i] = build(t, o).Digest
	}

	clientFor := func(host string) *registry.Client {
		c, err := registry.New(registry.Options{Name: "local", Registry: config.Registry{Name: "local", URL: host + "/team", Insecure: true}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	direct := clientFor(reg.Host)
	tests := []struct {
		name string
		host string
	}{
		{"at once", reg.Host},
		{"both find the tag free", testutil.Host(barrier)},
	}
	var tally testutil.FaultTally
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 3
			if tc.host != reg.Host {
				n = 1 // the barrier holds the first two tag writes only
			}
			for try := range n {
				tally.Tries++
				app := fmt.Sprintf("race-%d-%d", len(tc.name), try)
				client := clientFor(tc.host)
				errs := make([]error, 2)
				var wg sync.WaitGroup
				start := time.Now()
				for i := range clones {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = Push(context.Background(), PushOptions{Dir: clones[i], App: app, Registry: client})
					}()
				}
				wg.Wait()
				tally.Recovered(time.Since(start))
				got, err := complete(direct, reg.Host+"/team/"+app+":1.2.3")
				if err != nil {
					tally.Lost++
					t.Errorf("try %d: the tag is not a complete image: %v", try, err)
					continue
				}
				var winners []int
				for i, e := range errs {
					var tce *registry.TagConflictError
					switch {
					case e == nil:
						winners = append(winners, i)
					case errors.As(e, &tce):
						if tce.Existing != got || tce.New.String() != digests[i] {
							t.Errorf("try %d: clone %d lost with %v; the tag points at %s", try, i, e, got)
						}
						t.Logf("try %d: clone %d lost: %v", try, i, e)
					default:
						t.Errorf("try %d: clone %d: %v", try, i, e)
					}
				}
				switch {
				case len(winners) == 1 && digests[winners[0]] == got.String():
					tally.Correct++
				case len(winners) == 2:
					// Both said they succeeded: the one whose image the
					// tag does not hold was lost.
					tally.Lost++
					t.Errorf("try %d: both pushes succeeded; the tag points at %s", try, got)
				default:
					t.Errorf("try %d: winners %v, errors %v, tag at %s", try, winners, errs, got)
				}
			}
		})
	}
	tally.Row(t, "push: same version from two clones at once")
}
