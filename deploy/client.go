package deploy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipwayhq/slipway/config"
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
}

// Cluster is a connection to an environment's cluster.
type Cluster struct {
	Client  kubernetes.Interface
	Config  *rest.Config
	Context string // the kubeconfig context in use
	Server  string
	Env     string // the environment it was opened for, for messages
}

// Connect opens the cluster of env: the kubeconfig from the options, the
// environment or the usual places ($KUBECONFIG, ~/.kube/config), and the
// context from the options, the environment or the kubeconfig's current one.
func Connect(env config.Environment, o ClusterOptions) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path := firstOf(o.Kubeconfig, env.Kubeconfig); path != "" {
		rules.ExplicitPath = path
	}
	ctxName := firstOf(o.Context, env.Context)
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig for %s: %w", env.Name, err)
	}
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	if _, ok := raw.Contexts[ctxName]; !ok || ctxName == "" {
		var names []string
		for n := range raw.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		where := strings.Join(rules.GetLoadingPrecedence(), ":")
		if rules.ExplicitPath != "" {
			where = rules.ExplicitPath
		}
		what := fmt.Sprintf("context %q", ctxName)
		if ctxName == "" {
			what = "a current context"
		}
		return nil, fmt.Errorf("connecting to %s: %w: the kubeconfig (%s) has no %s; valid: %s; set environments.%s.context in %s, pass --context, or point KUBECONFIG at the right file",
			env.Name, ErrNoContext, where, what, orNone(names), env.Name, config.ProjectFile)
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, rules)
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig context %s: %w", ctxName, err)
	}
	rc.QPS, rc.Burst = 50, 100
	rc.UserAgent = "slipway"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("creating client for context %s: %w", ctxName, err)
	}
	return &Cluster{Client: client, Config: rc, Context: ctxName, Server: rc.Host, Env: env.Name}, nil
}

// NewCluster wraps an existing client, for tests.
func NewCluster(c kubernetes.Interface, env string) *Cluster {
	return &Cluster{Client: c, Context: "test", Server: "test", Env: env}
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
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s: %w: the credentials of kubeconfig context %s are not accepted by %s; refresh them (e.g. your cloud's get-credentials command) or pick another context with --context",
			doing, ErrClusterAuth, c.Context, c.Server)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s: %w: %v; the user of context %s needs RBAC permission for this (see `slipway doctor`)",
			doing, ErrClusterAuth, apiMessage(err), c.Context)
	case isUnreachable(err):
		return fmt.Errorf("%s: %w: %s (context %s) does not answer: %v", doing, ErrUnreachable, c.Server, c.Context, err)
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

func isUnreachable(err error) bool {
	msg := err.Error()
	for _, s := range []string{"connection refused", "no such host", "i/o timeout", "network is unreachable", "EOF", "certificate"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
