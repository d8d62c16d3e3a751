package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// Errors from reaching a cluster.
var (
	// ErrNoContext is matched when the kubeconfig lacks the context asked for.
	ErrNoContext = errors.New("kubeconfig context not found")
	// ErrClusterAuth is matched when the cluster refuses the credentials or
	// the permissions they carry.
	ErrClusterAuth = errors.New("the cluster refused the request")
	// ErrUnreachable is matched when the cluster's API server cannot be reached.
	ErrUnreachable = errors.New("cluster unreachable")
)

// ClusterOptions override where an environment's cluster is found.
type ClusterOptions struct {
	Kubeconfig string // a kubeconfig file, instead of the environment's or $KUBECONFIG
	Context    string // a context, instead of the environment's
	// Timeouts bound every API request; zero fields are taken from
	// SLIPWAY_NETWORK_TIMEOUT, then deadline.Defaults. Timeouts in a
	// request's context (deadline.WithContext) win over them. The TLS
	// handshake is also bounded by client-go's own 10s.
	Timeouts Timeouts
}

// Timeouts bound the waits of each API request: connect, TLS handshake,
// response headers and a body that stops moving (Idle; a watch that
// sends nothing for that long is closed, and Wait opens another).
type Timeouts = deadline.Timeouts

// maxRetryAfter caps the Retry-After client-go honours: it retries 429s
// and 5xx that carry one up to 10 times, sleeping as long as asked, so
// this bounds those retries to 20s of sleep. A variable for tests.
var maxRetryAfter = 2 * time.Second

// Cluster is a connection to an environment's cluster.
type Cluster struct {
	Client  kubernetes.Interface
	Config  *rest.Config
	Context string // the kubeconfig context in use
	Server  string
	Env     string // the environment it was opened for, for messages

	timeouts Timeouts // resolved; zero for NewCluster

	// Retries of API calls (see call): on only in copies made by with;
	// api is shared by the copies, rep receives the retries, spell bounds
	// them (0: no bound of the run's own), retryFirst is the first pause
	// (0: retryFirst).
	retrying   bool
	api        *apiState
	rep        progress.Reporter
	spell      time.Duration
	retryFirst time.Duration
}

// Timeouts are the timeouts of the cluster's requests made with ctx.
func (c *Cluster) Timeouts(ctx context.Context) Timeouts {
	return deadline.FromContext(ctx).Or(c.timeouts).Or(deadline.Defaults)
}

// Connect opens the cluster of env: the kubeconfig from the options, the
// environment or the usual places ($KUBECONFIG, ~/.kube/config), and the
// context from the options, the environment or the kubeconfig's current one.
func Connect(env config.Environment, o ClusterOptions) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path := cmp.Or(o.Kubeconfig, env.Kubeconfig); path != "" {
		rules.ExplicitPath = path
	}
	ctxName := cmp.Or(o.Context, env.Context)
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig for %s: %w", env.Name, err)
	}
	ctxName = cmp.Or(ctxName, raw.CurrentContext)
	if _, ok := raw.Contexts[ctxName]; !ok || ctxName == "" {
		var names []string
		for n := range raw.Contexts {
			names = append(names, n)
		}
		slices.Sort(names)
		where := strings.Join(rules.GetLoadingPrecedence(), ":")
		if rules.ExplicitPath != "" {
			where = rules.ExplicitPath
		}
		what := fmt.Sprintf("context %q", ctxName)
		if ctxName == "" {
			what = "current context"
		}
		return nil, remedy.With(fmt.Errorf("connecting to %s: %w: the kubeconfig (%s) has no %s; valid: %s",
			env.Name, ErrNoContext, where, what, orNone(names)), remedy.Remedy{Kind: remedy.ChooseContext, Env: env.Name, File: config.ProjectFile})
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, rules)
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig context %s: %w", ctxName, err)
	}
	rc.QPS, rc.Burst = 50, 100
	rc.UserAgent = "slipway"
	timeouts, err := deadline.Resolve(o.Timeouts)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", env.Name, err)
	}
	withDeadlines(rc, timeouts)
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("creating client for context %s: %w", ctxName, err)
	}
	return &Cluster{Client: client, Config: rc, Context: ctxName, Server: rc.Host, Env: env.Name, timeouts: timeouts, api: &apiState{}}, nil
}

// withDeadlines bounds every request of rc: the dialer by the connect
// timeout of the request's context or t, and each request's waits by a
// deadline.Transport; Retry-After answers are capped at maxRetryAfter.
func withDeadlines(rc *rest.Config, t Timeouts) {
	rc.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: deadline.Backstop(deadline.FromContext(ctx).Or(t).Connect), KeepAlive: 30 * time.Second}
		return d.DialContext(ctx, network, addr)
	}
	rc.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return capRetryAfter{&deadline.Transport{Next: next, Timeouts: t, Describe: describeAPIRequest}}
	})
}

// describeAPIRequest names the API server and the request for a timeout
// message, e.g. "watching /apis/apps/v1/namespaces/hello/deployments".
func describeAPIRequest(r *http.Request) (string, string) {
	verb := map[string]string{
		http.MethodGet: "reading", http.MethodPost: "creating", http.MethodPut: "replacing",
		http.MethodPatch: "applying", http.MethodDelete: "deleting",
	}[r.Method]
	verb = cmp.Or(verb, r.Method)
	if r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true" {
		verb = "watching"
	}
	return "Kubernetes API server", verb + " " + r.URL.Path
}

// capRetryAfter shortens a Retry-After longer than maxRetryAfter, so that
// client-go's retries stay bounded in time.
type capRetryAfter struct{ next http.RoundTripper }

func (c capRetryAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil || resp.Header.Get("Retry-After") == "" {
		return resp, err
	}
	// client-go reads whole seconds: 0 retries at once.
	if s, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr != nil || time.Duration(s)*time.Second > maxRetryAfter {
		resp.Header.Set("Retry-After", strconv.Itoa(int(maxRetryAfter/time.Second)))
	}
	return resp, nil
}

// NewCluster wraps an existing client, for tests.
func NewCluster(c kubernetes.Interface, env string) *Cluster {
	return &Cluster{Client: c, Context: "test", Server: "test", Env: env, api: &apiState{}}
}

// explain turns an API error into one that says what to do next.
func (c *Cluster) explain(err error, doing string) error {
	if err == nil {
		return nil
	}
	if doing == "" {
		// The error already says what was being done.
		doing = "talking to the cluster"
		if !isUnreachable(err) && !apierrors.IsUnauthorized(err) && !apierrors.IsForbidden(err) {
			return err
		}
	}
	var de *deadline.Error
	switch {
	case errors.As(err, &de):
		return remedy.With(fmt.Errorf("%s: %w: %s (context %s): %w", doing, ErrUnreachable, redactServer(c.Server), c.Context, de),
			remedy.Remedy{Kind: remedy.RaiseClusterTimeout})
	case apierrors.IsUnauthorized(err):
		return remedy.With(fmt.Errorf("%s: %w: the credentials of kubeconfig context %s are not accepted by %s", doing, ErrClusterAuth, c.Context, c.Server),
			remedy.Remedy{Kind: remedy.OtherContext})
	case apierrors.IsForbidden(err):
		return remedy.With(fmt.Errorf("%s: %w: %v; the user of context %s needs RBAC permission for this", doing, ErrClusterAuth, apiMessage(err), c.Context),
			remedy.Remedy{Kind: remedy.RunDoctor})
	case isUnreachable(err):
		return fmt.Errorf("%s: %w: %s (context %s) does not answer: %v", doing, ErrUnreachable, redactServer(c.Server), c.Context, redactText(err.Error(), c.Server))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return se.Status().Message
	}
	return err.Error()
}

// redactServer returns the API server URL without user info or query,
// which may carry credentials.
func redactServer(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return server
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// redactText replaces the server URL in msg by its redacted form.
func redactText(msg, server string) string {
	if r := redactServer(server); r != server && server != "" {
		return strings.ReplaceAll(msg, server, r)
	}
	return msg
}

func isUnreachable(err error) bool {
	var de *deadline.Error
	if errors.As(err, &de) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "no such host", "i/o timeout", "network is unreachable", "EOF", "certificate"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
