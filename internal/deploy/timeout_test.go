package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/remedy"
)

var apiTimeouts = Timeouts{
	Connect: 250 * time.Millisecond, TLS: 250 * time.Millisecond,
	Headers: 250 * time.Millisecond, Idle: 250 * time.Millisecond,
}

// connectTo opens a cluster whose kubeconfig points at server.
func connectTo(t *testing.T, server string) *Cluster {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: s3cr3t-token}
contexts:
- name: test
  context: {cluster: c, user: u}
current-context: test
`, server)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(config.Environment{Name: "dev"}, ClusterOptions{Kubeconfig: kc, Timeouts: apiTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAPITimeouts checks that client-go against an API server that
// misbehaves ends in bounded time with an error naming the server and
// the wait, and never the token.
func TestAPITimeouts(t *testing.T) {
	old := maxRetryAfter
	maxRetryAfter = 0
	t.Cleanup(func() { maxRetryAfter = old })
	tests := []struct {
		name   string
		server func(t *testing.T) string
		want   []string
		errIs  error
		next   remedy.Kind
	}{
		{"accepts TCP, never answers", func(t *testing.T) string { return "http://" + faultnet.Silent(t) },
			[]string{"Kubernetes API server 127.0.0.1:", "no response headers within 250ms while reading /api/v1/namespaces/hello"}, ErrUnreachable, remedy.RaiseClusterTimeout},
		{"accepts TLS, never finishes the handshake", func(t *testing.T) string { return "https://" + faultnet.Silent(t) },
			[]string{"Kubernetes API server 127.0.0.1:", "no TLS handshake within 250ms"}, ErrUnreachable, remedy.RaiseClusterTimeout},
		{"429 forever, asking for a day", func(t *testing.T) string {
			return "http://" + faultnet.Serve(t, faultnet.Status(http.StatusTooManyRequests, "Retry-After", "86400"))
		}, nil, nil, remedy.None},
		{"5xx forever, asking for a day", func(t *testing.T) string {
			return "http://" + faultnet.Serve(t, faultnet.Status(http.StatusServiceUnavailable, "Retry-After", "86400"))
		}, nil, nil, remedy.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connectTo(t, tt.server(t))
			var err error
			faultnet.Within(t, 0, func() {
				_, err = c.Client.CoreV1().Namespaces().Get(context.Background(), "hello", metav1.GetOptions{})
			})
			if err == nil {
				t.Fatal("want an error")
			}
			err = c.explain(err, "reading namespace hello")
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("%v does not match %v", err, tt.errIs)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if r, _ := remedy.Of(err); tt.next != remedy.None && r.Kind != tt.next {
				t.Errorf("remedy of %q = %+v, want kind %d", err, r, tt.next)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("%q shows the token", err)
			}
		})
	}
}

// TestWaitWithStalledWatch checks that a rollout wait ends at its timeout
// when the API server answers reads but its watches never send anything,
// and when it answers nothing at all.
func TestWaitWithStalledWatch(t *testing.T) {
	dep := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"hello","namespace":"hello","generation":2,"uid":"d1"},
"spec":{"replicas":1,"selector":{"matchLabels":{"app":"hello"}},"template":{"metadata":{"labels":{"app":"hello"}},"spec":{"containers":[{"name":"app","image":"hello:v2"}]}}},
"status":{"observedGeneration":1}}`
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Query().Get("watch") == "true":
			// Headers, then nothing, ever.
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case strings.HasSuffix(r.URL.Path, "/deployments/hello"):
			fmt.Fprint(w, dep)
		case strings.HasSuffix(r.URL.Path, "/replicasets"):
			fmt.Fprint(w, `{"apiVersion":"apps/v1","kind":"ReplicaSetList","items":[]}`)
		case strings.HasSuffix(r.URL.Path, "/pods"):
			fmt.Fprint(w, `{"apiVersion":"v1","kind":"PodList","items":[]}`)
		case strings.HasSuffix(r.URL.Path, "/events"):
			fmt.Fprint(w, `{"apiVersion":"v1","kind":"EventList","items":[]}`)
		default:
			http.NotFound(w, r)
		}
	})
	tests := []struct {
		name    string
		server  func(t *testing.T) string
		wantErr bool
	}{
		{"watches never send", func(t *testing.T) string { return "http://" + faultnet.Serve(t, api) }, false},
		{"nothing answers", func(t *testing.T) string { return "http://" + faultnet.Silent(t) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connectTo(t, tt.server(t))
			var v Verdict
			var err error
			faultnet.Within(t, 0, func() {
				v, err = Wait(context.Background(), c.Client, WaitOptions{Namespace: "hello", Name: "hello", Timeout: time.Second, Poll: 100 * time.Millisecond})
			})
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if v.Phase != PhaseFailed || v.Reason != ReasonTimeout {
				t.Errorf("verdict %+v, want a failed one with ReasonTimeout", v)
			}
		})
	}
}

// TestTimeoutsFromContextAndEnv checks where a cluster's timeouts come
// from: the request's context, then the options, then
// SLIPWAY_NETWORK_TIMEOUT, then the defaults.
func TestTimeoutsFromContextAndEnv(t *testing.T) {
	t.Setenv(deadline.EnvVar, "idle=7s,retries=7s")
	c := connectTo(t, "http://127.0.0.1:1")
	want := deadline.Defaults
	want.Retries = 7 * time.Second
	want.Connect, want.TLS, want.Headers, want.Idle = apiTimeouts.Connect, apiTimeouts.TLS, apiTimeouts.Headers, apiTimeouts.Idle
	if got := c.Timeouts(context.Background()); got != want {
		t.Errorf("Timeouts = %+v, want %+v", got, want)
	}
	ctx := deadline.WithContext(context.Background(), Timeouts{Headers: time.Minute})
	if got := c.Timeouts(ctx).Headers; got != time.Minute {
		t.Errorf("Timeouts(ctx).Headers = %s, want 1m", got)
	}
	t.Setenv(deadline.EnvVar, "never")
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	_ = os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\ncontexts: [{name: test, context: {cluster: c}}]\ncurrent-context: test\n"), 0o600)
	if _, err := Connect(config.Environment{Name: "dev"}, ClusterOptions{Kubeconfig: kc}); !errors.Is(err, deadline.ErrInvalid) {
		t.Errorf("Connect with a bad %s = %v", deadline.EnvVar, err)
	}
}
