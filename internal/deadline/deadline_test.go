package deadline_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/faultnet"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    deadline.Timeouts
		wantErr bool
	}{
		{"", deadline.Timeouts{}, false},
		{"45s", deadline.Timeouts{Connect: 45 * time.Second, TLS: 45 * time.Second, Headers: 45 * time.Second, Idle: 45 * time.Second, Document: 45 * time.Second}, false},
		{"headers=2m, idle=5m,retries=10m", deadline.Timeouts{Headers: 2 * time.Minute, Idle: 5 * time.Minute, Retries: 10 * time.Minute}, false},
		{"5s,idle=1m", deadline.Timeouts{Connect: 5 * time.Second, TLS: 5 * time.Second, Headers: 5 * time.Second, Idle: time.Minute, Document: 5 * time.Second}, false},
		{"document=1m", deadline.Timeouts{Document: time.Minute}, false},
		{"TLS=3s", deadline.Timeouts{TLS: 3 * time.Second}, false},
		{"30", deadline.Timeouts{}, true},
		{"-5s", deadline.Timeouts{}, true},
		{"0s", deadline.Timeouts{}, true},
		{"body=5s", deadline.Timeouts{}, true},
		{"idle=", deadline.Timeouts{}, true},
	}
	for _, tt := range tests {
		got, err := deadline.Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, deadline.ErrInvalid) {
			t.Errorf("Parse(%q) error %v does not match ErrInvalid", tt.in, err)
		}
		if err == nil {
			back, err := deadline.Parse(got.String())
			if err != nil || back != got {
				t.Errorf("Parse(%q).String() = %q does not read back: %+v, %v", tt.in, got.String(), back, err)
			}
		}
	}
}

func TestResolve(t *testing.T) {
	t.Setenv(deadline.EnvVar, "headers=7s")
	got, err := deadline.Resolve(deadline.Timeouts{Idle: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := deadline.Defaults
	want.Headers, want.Idle = 7*time.Second, 3*time.Second
	if got != want {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
	t.Setenv(deadline.EnvVar, "soon")
	if _, err := deadline.Resolve(deadline.Timeouts{}); !errors.Is(err, deadline.ErrInvalid) || !strings.Contains(err.Error(), deadline.EnvVar) {
		t.Errorf("Resolve with a bad %s = %v", deadline.EnvVar, err)
	}
}

// short are the timeouts of these tests: long enough for a loaded
// machine to do the healthy part, short enough to run fast.
var short = deadline.Timeouts{Connect: 300 * time.Millisecond, TLS: 300 * time.Millisecond, Headers: 300 * time.Millisecond, Idle: 300 * time.Millisecond}

func client(next http.RoundTripper) *http.Client {
	return &http.Client{Transport: &deadline.Transport{
		Next:     next,
		Timeouts: short,
		Describe: func(r *http.Request) (string, string) { return "registry", "testing " + r.URL.Path },
	}}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

func TestFaults(t *testing.T) {
	blob := bytes.Repeat([]byte("x"), 1<<20)
	tests := []struct {
		name string
		// serve returns the URL to send to and the transport below.
		serve  func(t *testing.T) (string, http.RoundTripper)
		method string
		body   io.Reader
		wait   deadline.Wait
	}{
		{
			name: "never connects",
			serve: func(t *testing.T) (string, http.RoundTripper) {
				// A dialer that never completes stands for an address
				// that drops SYNs.
				tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				}}
				t.Cleanup(tr.CloseIdleConnections)
				return "http://127.0.0.1:9/v2/", tr
			},
			wait: deadline.WaitConnect,
		},
		{
			name: "accepts TCP, never answers",
			serve: func(t *testing.T) (string, http.RoundTripper) {
				return "http://" + faultnet.Silent(t) + "/v2/", http.DefaultTransport.(*http.Transport).Clone()
			},
			wait: deadline.WaitHeaders,
		},
		{
			name: "accepts TLS, never finishes the handshake",
			serve: func(t *testing.T) (string, http.RoundTripper) {
				return "https://" + faultnet.Silent(t) + "/v2/", http.DefaultTransport.(*http.Transport).Clone()
			},
			wait: deadline.WaitTLS,
		},
		{
			name: "headers, then the body stalls",
			serve: func(t *testing.T) (string, http.RoundTripper) {
				hp := faultnet.Serve(t, faultnet.StallBody(blob, len(blob)/2))
				return "http://" + hp + "/blob", http.DefaultTransport.(*http.Transport).Clone()
			},
			wait: deadline.WaitBody,
		},
		{
			name: "the server stops taking the upload",
			serve: func(t *testing.T) (string, http.RoundTripper) {
				hp := faultnet.Serve(t, faultnet.StallRequest())
				return "http://" + hp + "/upload", http.DefaultTransport.(*http.Transport).Clone()
			},
			method: http.MethodPut,
			body:   endless{},
			wait:   deadline.WaitSend,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, next := tt.serve(t)
			var err error
			faultnet.Within(t, 0, func() {
				req, _ := http.NewRequest(cmp.Or(tt.method, http.MethodGet), url, tt.body)
				var resp *http.Response
				resp, err = client(next).Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			var de *deadline.Error
			if !errors.As(err, &de) || !errors.Is(err, deadline.ErrTimeout) {
				t.Fatalf("got %v, want a *deadline.Error", err)
			}
			if de.Wait != tt.wait || de.Server != "registry" || de.Limit != 300*time.Millisecond || !strings.HasPrefix(de.Doing, "testing /") {
				t.Errorf("got %+v, want wait %d", de, tt.wait)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("%v is not a net.Error that timed out", err)
			}
			host := strings.Split(strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"), "/")[0]
			if !strings.HasPrefix(de.Error(), "registry "+host+": ") {
				t.Errorf("message %q does not name the server %s", de.Error(), host)
			}
		})
	}
}

// slowReader yields one chunk per tick.
type slowReader struct {
	chunks int
	tick   time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.chunks == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.tick)
	s.chunks--
	return copy(p, "0123456789"), nil
}

// TestSlowButMoving checks that transfers longer than every timeout pass
// as long as they keep moving, and that a reader (or an upload's source)
// that takes its time does not count against the server.
func TestSlowButMoving(t *testing.T) {
	tick := short.Idle / 4
	chunks := 12 // three times the idle limit in all
	tests := []struct {
		name    string
		handler http.Handler
		method  string
		body    func() io.Reader
		pause   time.Duration // between reads of the response
	}{
		{
			name: "slow download",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				for range chunks {
					_, _ = w.Write([]byte("0123456789"))
					w.(http.Flusher).Flush()
					time.Sleep(tick)
				}
			}),
		},
		{
			name: "slow upload source",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}),
			method: http.MethodPut,
			body:   func() io.Reader { return &slowReader{chunks: chunks, tick: tick} },
		},
		{
			name: "slow reader",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(bytes.Repeat([]byte("x"), 4<<10))
			}),
			pause: 3 * short.Idle,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hp := faultnet.Serve(t, tt.handler)
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			faultnet.Within(t, 0, func() {
				req, _ := http.NewRequest(cmp.Or(tt.method, http.MethodGet), "http://"+hp+"/", body)
				resp, err := client(http.DefaultTransport.(*http.Transport).Clone()).Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				buf := make([]byte, 1024)
				for {
					time.Sleep(tt.pause)
					_, err := resp.Body.Read(buf)
					if err == io.EOF {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestContextWins checks that timeouts in the request's context win over
// the transport's.
func TestContextWins(t *testing.T) {
	hp := faultnet.Silent(t)
	ctx := deadline.WithContext(context.Background(), deadline.Timeouts{Headers: 50 * time.Millisecond})
	var err error
	faultnet.Within(t, 0, func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hp+"/", nil)
		tr := &deadline.Transport{Next: http.DefaultTransport.(*http.Transport).Clone(), Timeouts: deadline.Timeouts{Headers: time.Hour}}
		_, err = (&http.Client{Transport: tr}).Do(req)
	})
	var de *deadline.Error
	if !errors.As(err, &de) || de.Limit != 50*time.Millisecond || de.Wait != deadline.WaitHeaders {
		t.Fatalf("got %v, want no response headers within 50ms", err)
	}
}

// TestNoSecrets checks that a timeout names the host and never the
// credentials or tokens a URL carries.
func TestNoSecrets(t *testing.T) {
	hp := faultnet.Silent(t)
	var err error
	faultnet.Within(t, 0, func() {
		req, _ := http.NewRequest(http.MethodGet, "http://ada:hunter2@"+hp+"/v2/?_state=s3cr3t&X-Amz-Signature=sig", nil)
		_, err = (&http.Client{Transport: &deadline.Transport{Timeouts: short}}).Do(req)
	})
	var de *deadline.Error
	if !errors.As(err, &de) {
		t.Fatalf("got %v, want a timeout", err)
	}
	for _, secret := range []string{"ada", "hunter2", "s3cr3t", "sig"} {
		if strings.Contains(de.Error(), secret) {
			t.Errorf("%q shows %q", de.Error(), secret)
		}
	}
	if !strings.Contains(de.Error(), hp) {
		t.Errorf("%q does not name %s", de.Error(), hp)
	}
}

// TestHTTP2 checks the waits over HTTP/2, as Kubernetes API servers speak
// it: a healthy request passes, one whose answer never comes times out
// waiting for the headers.
func TestHTTP2(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			<-r.Context().Done()
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	next := s.Client().Transport.(*http.Transport).Clone()
	next.ForceAttemptHTTP2 = true
	c := client(next)
	faultnet.Within(t, 0, func() {
		resp, err := c.Post(s.URL+"/", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || string(b) != "ok" {
			t.Errorf("got %s %q, want HTTP/2 and ok", resp.Proto, b)
		}
		_, err = c.Get(s.URL + "/stall")
		var de *deadline.Error
		if !errors.As(err, &de) || de.Wait != deadline.WaitHeaders {
			t.Errorf("got %v, want no response headers", err)
		}
	})
}

// TestDocumentDrip checks that a small document's body must arrive whole
// within Timeouts.Document, however it moves, while a blob that keeps
// moving may take as long as it needs.
func TestDocumentDrip(t *testing.T) {
	tick := short.Idle / 4
	chunks := 12 // three times the idle limit, and twice the document limit
	drip := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for range chunks {
			_, _ = w.Write([]byte("{"))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(tick):
			case <-r.Context().Done():
				return
			}
		}
	})
	lim := short
	lim.Document = 6 * tick / 2
	tests := []struct {
		path    string
		wantErr bool
	}{
		{"/v2/app/manifests/1.0.0", true},
		{"/v2/app/blobs/sha256:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			hp := faultnet.Serve(t, drip)
			c := &http.Client{Transport: &deadline.Transport{
				Next:     http.DefaultTransport.(*http.Transport).Clone(),
				Timeouts: lim,
				Describe: func(r *http.Request) (string, string) { return "registry", "pulling " + r.URL.Path },
				Document: func(r *http.Request, _ *http.Response) bool { return strings.Contains(r.URL.Path, "/manifests/") },
			}}
			var n int64
			var err error
			faultnet.Within(t, 0, func() {
				var resp *http.Response
				if resp, err = c.Get("http://" + hp + tt.path); err != nil {
					return
				}
				defer resp.Body.Close()
				n, err = io.Copy(io.Discard, resp.Body)
			})
			if !tt.wantErr {
				if err != nil || n != int64(chunks) {
					t.Fatalf("read %d bytes, %v; want all %d", n, err, chunks)
				}
				return
			}
			var de *deadline.Error
			if !errors.As(err, &de) || de.Wait != deadline.WaitDocument || de.Limit != lim.Document {
				t.Fatalf("got %v after %d bytes, want the document's limit of %s", err, n, lim.Document)
			}
			if want := "the response was not complete within " + lim.Document.String() + " while pulling " + tt.path; !strings.Contains(de.Error(), want) {
				t.Errorf("message %q should say %q", de.Error(), want)
			}
		})
	}
}
