package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
)

func httpCheck(path string) config.HTTPCheck {
	return config.HTTPCheck{Path: path, Status: 200, Count: 3, Interval: config.Duration{Duration: time.Millisecond},
		Timeout: config.Duration{Duration: time.Second}}
}

func TestJudge(t *testing.T) {
	h := httpCheck("/")
	h.Body = `"status":\s*"ok"`
	tests := []struct {
		name string
		a    Answer
		err  error
		want string // "" passes
	}{
		{"ok", Answer{Status: 200, Body: []byte(`{"status": "ok"}`)}, nil, ""},
		{"wrong status", Answer{Status: 500, Body: []byte(`{"status": "ok"}`)}, nil, "answered 500, want 200"},
		{"wrong body", Answer{Status: 200, Body: []byte(`{"status": "degraded"}`)}, nil, `the body does not match "\"status\":\\s*\"ok\""`},
		{"cut body", Answer{Status: 200, Body: []byte("x"), Cut: true}, nil, "the body's first 64 KiB does not match"},
		{"timeout", Answer{}, fmt.Errorf("requesting: %w", context.DeadlineExceeded), "no answer within 1s"},
		{"refused", Answer{}, errors.New("dial tcp: connection refused\x1b[2J"), `the request failed: dial tcp: connection refused\x1b[2J`},
	}
	re := regexp.MustCompile(h.Body)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judge(h, re, tt.a, tt.err)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("judge = %q, want %q", got, tt.want)
			}
		})
	}
}

// serverProber is a Prober that sends its requests to an httptest server,
// recording the pods asked for.
type serverProber struct {
	url  string
	mu   sync.Mutex
	pods []string
}

func (s *serverProber) Get(ctx context.Context, ns, pod string, port int, path string) (Answer, error) {
	s.mu.Lock()
	s.pods = append(s.pods, pod)
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return Answer{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	a := Answer{Status: resp.StatusCode, Body: body}
	if len(body) > MaxBody {
		a.Body, a.Cut = body[:MaxBody], true
	}
	return a, err
}

var target = deploy.CheckTarget{Env: "prod", Namespace: "hello", Deployment: "hello", Version: "1.2.4",
	Image: "registry.example.com/hello@sha256:abc", Revision: 2, Pods: []string{"hello-1", "hello-2"}, Port: 8080}

// app plays the app's pages for HTTP checks; n counts the requests since
// the last reset.
type app struct {
	mu sync.Mutex
	n  int
}

func (a *app) reset() {
	a.mu.Lock()
	a.n = 0
	a.mu.Unlock()
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.n++
	i := a.n
	a.mu.Unlock()
	switch r.URL.Path {
	case "/ok":
		fmt.Fprint(w, "ok\n")
	case "/second-fails":
		if i%3 == 2 {
			w.WriteHeader(500)
			fmt.Fprint(w, "line 1\nline 2\n\x1b]0;owned\x07database unreachable\n\n")
			return
		}
		fmt.Fprint(w, "ok")
	case "/slow":
		time.Sleep(300 * time.Millisecond)
	case "/big":
		fmt.Fprint(w, strings.Repeat("x", MaxBody+100)+"ok")
	default:
		http.NotFound(w, r)
	}
}

func TestHTTPCheck(t *testing.T) {
	pages := &app{}
	srv := httptest.NewServer(pages)
	defer srv.Close()
	tests := []struct {
		name, path, body string
		timeout          time.Duration
		passed           bool
		message          string
		output           []string
	}{
		{"passes", "/ok", `^ok\s*$`, 0, true, "3 requests answered 200", nil},
		{"second request fails", "/second-fails", "", 0, false, "request 2 of 3, to pod hello-2: answered 500, want 200",
			[]string{"line 1", "line 2", `\x1b]0;owned\x07database unreachable`}},
		{"no answer in time", "/slow", "", 50 * time.Millisecond, false, "request 1 of 3, to pod hello-1: no answer within 50ms", nil},
		{"big body", "/big", "ok$", 0, false, "the body's first 64 KiB does not match", nil},
		{"not found", "/missing", "", 0, false, "answered 404, want 200", []string{"404 page not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages.reset()
			h := httpCheck(tt.path)
			h.Body = tt.body
			if tt.timeout > 0 {
				h.Timeout.Duration = tt.timeout
			}
			p := &serverProber{url: srv.URL}
			r := &Runner{Checks: []config.Check{{HTTP: &h}}, Prober: p}
			got, err := r.Check(context.Background(), target)
			if err != nil || len(got) != 1 {
				t.Fatalf("Check = %v, %v", got, err)
			}
			res := got[0]
			if res.Check != "http GET "+tt.path || res.Passed != tt.passed || !strings.Contains(res.Message, tt.message) {
				t.Errorf("result = %+v, want passed %v with %q", res, tt.passed, tt.message)
			}
			if tt.output != nil && strings.Join(res.Output, "\n") != strings.Join(tt.output, "\n") {
				t.Errorf("output = %q, want %q", res.Output, tt.output)
			}
			for _, l := range res.Output {
				if len(l) > maxTailLine || strings.ContainsRune(l, 0x1b) {
					t.Errorf("output line not cleaned or cut: %q", l)
				}
			}
			if tt.passed && strings.Join(p.pods, ",") != "hello-1,hello-2,hello-1" {
				t.Errorf("asked pods %v, want each in turn", p.pods)
			}
		})
	}
}

// TestChecksStopAtFirstFailure runs three checks; the second fails, and
// the third is not run.
func TestChecksStopAtFirstFailure(t *testing.T) {
	var ran []string
	r := &Runner{
		Checks: []config.Check{{Task: "a"}, {Task: "b"}, {Task: "c"}},
		Task: func(_ context.Context, name string, _ []string, _ io.Writer) error {
			ran = append(ran, name)
			if name == "b" {
				return exitErr(1)
			}
			return nil
		},
	}
	got, err := r.Check(context.Background(), target)
	if err != nil || len(got) != 2 || !got[0].Passed || got[1].Passed || strings.Join(ran, "") != "ab" {
		t.Errorf("Check = %+v, %v (ran %v); want a passed, b failed, c not run", got, err, ran)
	}
}

type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }

func TestTaskCheck(t *testing.T) {
	tests := []struct {
		name    string
		run     TaskFunc
		passed  bool
		message string
		output  string
	}{
		{"exits 0", func(_ context.Context, _ string, env []string, out io.Writer) error {
			fmt.Fprintln(out, strings.Join(env, " "))
			return nil
		}, true, "exited 0", ""},
		{"exits 1", func(_ context.Context, _ string, _ []string, out io.Writer) error {
			for i := range 50 {
				fmt.Fprintf(out, "line %d\n", i)
			}
			fmt.Fprint(out, "FAIL: GET / answered 500\x1b[31m\n")
			return exitErr(1)
		}, false, "exited with status 1", "line 41\nline 42\nline 43\nline 44\nline 45\nline 46\nline 47\nline 48\nline 49\nFAIL: GET / answered 500\\x1b[31m"},
		{"too slow", func(ctx context.Context, _ string, _ []string, out io.Writer) error {
			fmt.Fprintln(out, "waiting")
			<-ctx.Done()
			return ctx.Err()
		}, false, "did not finish within 50ms, and was stopped", "waiting"},
		{"cannot start", func(context.Context, string, []string, io.Writer) error {
			return errors.New(`unknown task "smoke"`)
		}, false, `running task smoke: unknown task "smoke"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			run := func(ctx context.Context, name string, e []string, out io.Writer) error {
				env = e
				return tt.run(ctx, name, e, out)
			}
			r := &Runner{Checks: []config.Check{{Task: "smoke"}}, Task: run, TaskTimeout: 50 * time.Millisecond}
			got, err := r.Check(context.Background(), target)
			if err != nil || len(got) != 1 {
				t.Fatalf("Check = %v, %v", got, err)
			}
			res := got[0]
			if res.Check != "task smoke" || res.Passed != tt.passed || res.Message != tt.message || strings.Join(res.Output, "\n") != tt.output {
				t.Errorf("result = %+v, want passed %v, %q, output %q", res, tt.passed, tt.message, tt.output)
			}
			want := "SLIPWAY_ENVIRONMENT=prod SLIPWAY_NAMESPACE=hello SLIPWAY_VERSION=1.2.4 SLIPWAY_DIGEST=sha256:abc"
			if strings.Join(env, " ") != want {
				t.Errorf("env = %q, want %q", env, want)
			}
		})
	}
}

// TestCheckInterrupted returns ctx's error when it ends during a check.
func TestCheckInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{Checks: []config.Check{{Task: "smoke"}}, Task: func(ctx context.Context, _ string, _ []string, _ io.Writer) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}}
	if _, err := r.Check(ctx, target); !errors.Is(err, context.Canceled) {
		t.Errorf("Check = %v, want context.Canceled", err)
	}
}

func TestNoPods(t *testing.T) {
	h := httpCheck("/")
	r := &Runner{Checks: []config.Check{{HTTP: &h}}, Prober: &serverProber{}}
	tg := target
	tg.Pods = nil
	got, _ := r.Check(context.Background(), tg)
	if len(got) != 1 || got[0].Passed || !strings.Contains(got[0].Message, "no ready pod") {
		t.Errorf("Check = %+v, want failed: no pods", got)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 10}
	for _, s := range []string{"abc", "defgh", "ijklmnop", strings.Repeat("z", 30) + "0123456789"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if b.String() != "0123456789" {
		t.Errorf("kept %q", b.String())
	}
	b = &tailBuffer{max: 10}
	b.Write([]byte("abcdefgh"))
	b.Write([]byte("ijkl"))
	if b.String() != "cdefghijkl" {
		t.Errorf("kept %q", b.String())
	}
}

// TestProxyProber plays the API server: the request goes to the pod
// proxy path with the kubeconfig's token, and the body read is bounded.
func TestProxyProber(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		if strings.HasSuffix(r.URL.Path, "/down") {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"kind":"Status","message":"error trying to reach service: dial tcp 10.0.0.1:8080: connect: connection refused"}`)
			return
		}
		fmt.Fprint(w, strings.Repeat("y", 2*MaxBody))
	}))
	defer srv.Close()
	p, err := NewProxyProber(&rest.Config{Host: srv.URL, BearerToken: "t0ken"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Get(context.Background(), "hello", "hello-abc-1", 8080, "/api/ready/")
	if err != nil {
		t.Fatal(err)
	}
	if want := "/api/v1/namespaces/hello/pods/hello-abc-1:8080/proxy/api/ready/"; gotPath != want {
		t.Errorf("path = %s, want %s", gotPath, want)
	}
	if gotAuth != "Bearer t0ken" {
		t.Errorf("Authorization = %q", gotAuth)
	}
	if a.Status != 200 || len(a.Body) != MaxBody || !a.Cut {
		t.Errorf("answer %d, %d bytes, cut %v; want 200, %d bytes, cut", a.Status, len(a.Body), a.Cut, MaxBody)
	}
	a, err = p.Get(context.Background(), "hello", "hello-abc-1", 8080, "/down")
	if err != nil || a.Status != 503 || !strings.Contains(string(a.Body), "connection refused") {
		t.Errorf("Get = %d %q, %v; want the API server's 503", a.Status, a.Body, err)
	}
	if _, err := NewProxyProber(nil); err == nil {
		t.Error("NewProxyProber(nil) = nil error")
	}
}

// fakeForwarder forwards nothing; it records what it was asked.
type fakeForwarder struct {
	err     error
	asked   string
	stopped bool
}

func (f *fakeForwarder) Forward(_ context.Context, ns, pod string, port int) (string, func(), error) {
	f.asked = fmt.Sprintf("%s/%s:%d", ns, pod, port)
	if f.err != nil {
		return "", nil, f.err
	}
	return "http://127.0.0.1:40123", func() { f.stopped = true }, nil
}

// TestTaskCheckURL gives a task check SLIPWAY_URL forwarded to the first
// new pod while it runs; a forward that fails is a warning, and the task
// runs without it.
func TestTaskCheckURL(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"forwarded", nil, "SLIPWAY_URL=http://127.0.0.1:40123"},
		{"forward fails", errors.New("pods \"hello-1\" is forbidden: portforward\x1b[2J"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeForwarder{err: tt.err}
			var env []string
			var stoppedDuring bool
			var warned []string
			r := &Runner{Checks: []config.Check{{Task: "smoke"}}, Forwarder: f,
				Progress: reporter(func(msg string) { warned = append(warned, msg) }),
				Task: func(_ context.Context, _ string, e []string, _ io.Writer) error {
					env, stoppedDuring = e, f.stopped
					return nil
				}}
			if _, err := r.Check(context.Background(), target); err != nil {
				t.Fatal(err)
			}
			url := ""
			for _, e := range env {
				if strings.HasPrefix(e, "SLIPWAY_URL=") {
					url = e
				}
			}
			if url != tt.want || f.asked != "hello/hello-1:8080" || stoppedDuring {
				t.Errorf("SLIPWAY_URL %q (asked %s, stopped during the task %v), want %q", url, f.asked, stoppedDuring, tt.want)
			}
			if tt.err == nil && !f.stopped {
				t.Error("the forward was not stopped")
			}
			if tt.err != nil && !strings.Contains(strings.Join(warned, "\n"), `SLIPWAY_URL is not set: pods "hello-1" is forbidden: portforward\x1b[2J`) {
				t.Errorf("warnings %q, want the forward's error, cleaned", warned)
			}
		})
	}
}

// reporter passes the messages of warnings to f.
type reporter func(msg string)

func (r reporter) Report(e progress.Event) {
	if e.Kind == progress.Warn {
		r(e.Msg)
	}
}
