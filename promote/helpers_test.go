package promote

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testutil"
)

var fastBackoff = remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2}

// server is an in-process registry that counts requests.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // METHOD PATH, without /v2/ pings
}

func (s *server) host() string { return strings.TrimPrefix(s.URL, "http://") }

// log returns and forgets the requests seen so far.
func (s *server) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

// newServer starts an in-process registry, with the referrers API when
// referrers, behind wrap when not nil.
func newServer(t testing.TB, referrers bool, wrap func(http.Handler) http.Handler) *server {
	t.Helper()
	h := testutil.QuietRegistry(ggcr.WithReferrersSupport(referrers))
	if wrap != nil {
		h = wrap(h)
	}
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			s.mu.Lock()
			s.requests = append(s.requests, r.Method+" "+r.URL.Path)
			s.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// client returns a Client called name for HOST/prefix of s.
func client(t testing.TB, s *server, name, prefix string) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.Options{
		Name:     name,
		Registry: config.Registry{Name: name, URL: s.host() + "/" + prefix, Insecure: true},
		Backoff:  fastBackoff,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dockerRegistry starts a docker-registry for t (testenv.StartRegistry)
// and returns a client, called name, of its team repository.
func dockerRegistry(t *testing.T, name string) *registry.Client {
	t.Helper()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	c, err := registry.New(registry.Options{Registry: reg.Config(name, "team")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// isolate keeps credentials of the machine out of a test.
func isolate(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

// push writes t (an image or index) as app:tag through c.
func push(t testing.TB, c *registry.Client, app, tag string, a remote.Taggable) v1.Hash {
	t.Helper()
	repo, err := c.Repo(app)
	if err != nil {
		t.Fatal(err)
	}
	ref := repo.Tag(tag)
	if err := remote.Push(ref, a, c.RemoteOptions(context.Background())...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := remote.Head(ref, c.RemoteOptions(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

func randomImage(t testing.TB, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// platformIndex is an OCI index of two random images for linux/amd64 and
// linux/arm64.
func platformIndex(t testing.TB) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img := randomImage(t, 2048, 2)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return idx
}

// attach pushes a signature-like artifact whose subject is digest d of
// app, and returns its digest.
func attach(t testing.TB, c *registry.Client, app string, subject v1.Descriptor) v1.Hash {
	t.Helper()
	sig := mutate.ConfigMediaType(mutate.MediaType(randomImage(t, 64, 1), types.OCIManifestSchema1), "application/vnd.dev.cosign.artifact.sig.v1+json")
	art := mutate.Subject(sig, subject).(v1.Image)
	repo, _ := c.Repo(app)
	h, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(h.String()), art, c.RemoteOptions(context.Background())...); err != nil {
		t.Fatal(err)
	}
	return h
}

// descriptor returns the descriptor of app@digest or app:tag in c.
func descriptor(t testing.TB, c *registry.Client, app, id string) *remote.Descriptor {
	t.Helper()
	repo, _ := c.Repo(app)
	ref, err := c.ParseReference(repo.String() + sep(id) + id)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Get(ref, c.RemoteOptions(context.Background())...)
	if err != nil {
		t.Fatalf("getting %s: %v", ref, err)
	}
	return d
}

func sep(id string) string {
	if strings.HasPrefix(id, "sha256:") {
		return "@"
	}
	return ":"
}

// exists reports whether app:tag (or @digest) exists in c.
func exists(t testing.TB, c *registry.Client, app, id string) bool {
	t.Helper()
	repo, _ := c.Repo(app)
	ref, err := c.ParseReference(repo.String() + sep(id) + id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(ref, c.RemoteOptions(context.Background())...)
	if err != nil && !registry.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// events records progress events.
type events struct {
	mu sync.Mutex
	es []Event
}

func (e *events) report(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.es = append(e.es, ev)
}

func (e *events) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.es...)
}

// repoBlobs makes blobs belong to repositories, as they do in real
// registries (the in-process one shares them between repositories), and
// serves cross-repository mounts, which the in-process one lacks.
type repoBlobs struct {
	next http.Handler
	mu   sync.Mutex
	has  map[string]bool // REPO@DIGEST
}

func withRepoBlobs(h http.Handler) http.Handler { return &repoBlobs{next: h, has: map[string]bool{}} }

func (s *repoBlobs) get(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.has[k]
}

func (s *repoBlobs) set(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.has[k] = true
}

func (s *repoBlobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	q := r.URL.Query()
	if i := strings.Index(path, "/blobs/uploads"); i >= 0 {
		repo := path[:i]
		switch {
		case r.Method == http.MethodPost && q.Get("mount") != "" && s.get(q.Get("from")+"@"+q.Get("mount")):
			s.set(repo + "@" + q.Get("mount"))
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+q.Get("mount"))
			w.Header().Set("Docker-Content-Digest", q.Get("mount"))
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodPut:
			sw := &statusWriter{ResponseWriter: w}
			s.next.ServeHTTP(sw, r)
			if sw.status == http.StatusCreated {
				s.set(repo + "@" + q.Get("digest"))
			}
		default:
			s.next.ServeHTTP(w, r)
		}
		return
	}
	if i := strings.Index(path, "/blobs/"); i >= 0 && !s.get(path[:i]+"@"+path[i+len("/blobs/"):]) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`)
		return
	}
	s.next.ServeHTTP(w, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
