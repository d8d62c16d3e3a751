package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// requestLog notes METHOD KIND of each blob request a registry sees (KIND
// is blob, uploads or session), and lets a test answer some itself.
type requestLog struct {
	mu     sync.Mutex
	seen   []string
	answer func(w http.ResponseWriter, r *http.Request) bool // true when it answered
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			kind := "blob"
			switch {
			case strings.HasSuffix(r.URL.Path, "/blobs/uploads/"):
				kind = "uploads"
			case strings.Contains(r.URL.Path, "/blobs/uploads/"):
				kind = "session"
			}
			l.mu.Lock()
			l.seen = append(l.seen, r.Method+" "+kind)
			l.mu.Unlock()
		}
		if l.answer != nil && l.answer(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) requests() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seen, ", ")
}

// refuse answers code with a registry error body.
func refuse(w http.ResponseWriter, code int, errCode string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, `{"errors":[{"code":"`+errCode+`","message":"refused by the test"}]}`)
}

func isWholePut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 0
}

// TestBlobWriter pins the requests of an upload through BlobWriter, with
// credentials: three for a blob the registry lacks (HEAD, POST, PUT with
// the bytes), one for a blob it has, the whole upload again after a server
// error, the bytes again where the PUT is redirected, and the errors of a registry that refuses the blob sent whole,
// of bytes that do not match the digest, and of an upload Location on an
// internal address.
func TestBlobWriter(t *testing.T) {
	blob := []byte("the bytes of a blob, sent whole")
	h, _, _ := v1.SHA256(bytes.NewReader(blob))
	d := v1.Descriptor{MediaType: types.OCILayer, Size: int64(len(blob)), Digest: h}
	tests := []struct {
		name     string
		present  bool // the registry has the blob already
		bytes    []byte
		answer   func(w http.ResponseWriter, r *http.Request) bool
		want     string
		skipped  bool
		opened   int
		wantErr  error
		wantCode transport.ErrorCode
	}{
		{name: "absent", bytes: blob, want: "HEAD blob, POST uploads, PUT session", opened: 1},
		{name: "present", present: true, bytes: blob, want: "HEAD blob", skipped: true},
		{name: "server error, then retried from the start", bytes: blob, opened: 2,
			answer: failOnce(func(w http.ResponseWriter, r *http.Request) bool {
				if !isWholePut(r) {
					return false
				}
				_, _ = io.Copy(io.Discard, r.Body)
				refuse(w, http.StatusInternalServerError, "UNKNOWN")
				return true
			}),
			want: "HEAD blob, POST uploads, PUT session, HEAD blob, POST uploads, PUT session"},
		{name: "redirected, the bytes sent again", bytes: blob, opened: 2,
			answer: func(w http.ResponseWriter, r *http.Request) bool {
				if !isWholePut(r) || r.URL.Query().Has("moved") {
					return false
				}
				w.Header().Set("Location", r.URL.String()+"&moved=1")
				w.WriteHeader(http.StatusTemporaryRedirect)
				return true
			},
			want: "HEAD blob, POST uploads, PUT session, PUT session"},
		{name: "refused whole", bytes: blob, opened: 1, wantErr: ErrWholeBlobRefused,
			answer: func(w http.ResponseWriter, r *http.Request) bool {
				if !isWholePut(r) {
					return false
				}
				refuse(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID")
				return true
			},
			want: "HEAD blob, POST uploads, PUT session"},
		{name: "other bytes", bytes: bytes.ToUpper(blob), opened: 1, wantCode: transport.DigestInvalidErrorCode,
			want: "HEAD blob, POST uploads, PUT session"},
		// The bytes are opened (read from their source) while the session
		// starts; none are sent.
		{name: "location on an internal address", bytes: blob, opened: 1, wantErr: ErrRedirect,
			answer: func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				w.Header().Set("Location", "http://169.254.169.254/v2/team/hello/blobs/uploads/x")
				w.WriteHeader(http.StatusAccepted)
				return true
			},
			want: "HEAD blob, POST uploads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noDockerConfig(t)
			t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
			t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "s3cret")
			log := &requestLog{}
			s := testutil.Registry(t, log.wrap, testutil.BasicAuth("ci", "s3cret"))
			c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}, Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			repo, _ := c.Repo("hello")
			if tt.present {
				if err := remote.WriteLayer(repo, static.NewLayer(blob, types.OCILayer), c.RemoteOptions(ctx)...); err != nil {
					t.Fatal(err)
				}
			}
			log.mu.Lock()
			log.seen, log.answer = nil, tt.answer
			log.mu.Unlock()
			w, err := c.BlobWriter(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			var opened atomic.Int32
			skipped, err := w.Write(ctx, d, func() (io.ReadCloser, error) {
				opened.Add(1)
				return io.NopCloser(bytes.NewReader(tt.bytes)), nil
			})
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantCode != "":
				var te *transport.Error
				if !errors.As(err, &te) || len(te.Errors) == 0 || te.Errors[0].Code != tt.wantCode || errors.Is(err, ErrWholeBlobRefused) {
					t.Errorf("err = %v, want %s", err, tt.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			}
			if got := log.requests(); got != tt.want {
				t.Errorf("requests: %s\nwant:     %s", got, tt.want)
			}
			if skipped != tt.skipped || int(opened.Load()) != tt.opened {
				t.Errorf("skipped %v, opened %d times; want %v, %d", skipped, opened.Load(), tt.skipped, tt.opened)
			}
			if tt.wantErr == nil && tt.wantCode == "" {
				if has, err := w.has(ctx, d.Digest); err != nil || !has {
					t.Errorf("the registry has the blob: %v, %v; want true", has, err)
				}
			}
		})
	}
}

// failOnce answers with f the first request it answers, then lets every
// request through.
func failOnce(f func(w http.ResponseWriter, r *http.Request) bool) func(w http.ResponseWriter, r *http.Request) bool {
	var done atomic.Bool
	return func(w http.ResponseWriter, r *http.Request) bool {
		if done.Load() {
			return false
		}
		if f(w, r) {
			done.Store(true)
			return true
		}
		return false
	}
}

func TestRefusedWhole(t *testing.T) {
	tests := []struct {
		status int
		code   transport.ErrorCode
		want   bool
	}{
		{http.StatusBadRequest, transport.BlobUploadInvalidErrorCode, true},
		{http.StatusNotFound, transport.BlobUploadUnknownErrorCode, true},
		{http.StatusMethodNotAllowed, transport.UnsupportedErrorCode, true},
		{http.StatusRequestEntityTooLarge, transport.SizeInvalidErrorCode, true},
		{http.StatusNotImplemented, "", true},
		{http.StatusBadRequest, transport.DigestInvalidErrorCode, false},
		{http.StatusUnauthorized, transport.UnauthorizedErrorCode, false},
		{http.StatusForbidden, transport.DeniedErrorCode, false},
		{http.StatusTooManyRequests, transport.TooManyRequestsErrorCode, false},
		{http.StatusRequestTimeout, "", false},
		{http.StatusInternalServerError, "", false},
		{http.StatusBadGateway, "", false},
	}
	for _, tt := range tests {
		te := &transport.Error{StatusCode: tt.status}
		if tt.code != "" {
			te.Errors = []transport.Diagnostic{{Code: tt.code}}
		}
		if got := refusedWhole(te); got != tt.want {
			t.Errorf("refusedWhole(%d %s) = %v, want %v", tt.status, tt.code, got, tt.want)
		}
	}
	if refusedWhole(io.ErrUnexpectedEOF) {
		t.Error("a broken connection is no refusal")
	}
}

// TestBlobWriterOpensWhileSessionStarts: with the gate free, a blob's bytes
// are opened while its upload session starts, not after: the registry
// holds the POST until they are (a writer that waited for the session
// first would show it waiting the whole hold).
func TestBlobWriterOpensWhileSessionStarts(t *testing.T) {
	noDockerConfig(t)
	blob := []byte("bytes read while the session starts")
	h, _, _ := v1.SHA256(bytes.NewReader(blob))
	d := v1.Descriptor{Digest: h, Size: int64(len(blob)), MediaType: types.OCILayer}
	opened := make(chan struct{})
	var sawOpen atomic.Bool
	log := &requestLog{answer: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			select {
			case <-opened:
				sawOpen.Store(true)
			case <-time.After(2 * time.Second):
			}
		}
		return false
	}}
	s := testutil.Registry(t, log.wrap)
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, _ := c.Repo("hello")
	w, err := c.BlobWriter(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	gate := func(context.Context) (func(error), error) { return func(error) {}, nil }
	if _, err := w.WriteGated(ctx, d, func() (io.ReadCloser, error) {
		close(opened)
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, gate); err != nil {
		t.Fatal(err)
	}
	if !sawOpen.Load() {
		t.Error("the bytes were opened only after the upload session started")
	}
	if got, want := log.requests(), "HEAD blob, POST uploads, PUT session"; got != want {
		t.Errorf("requests: %s\nwant:     %s", got, want)
	}
}
