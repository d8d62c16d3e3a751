package deploy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"

	"github.com/slipwayhq/slipway/internal/remedy"
)

// CheckStatus is the outcome of one Check.
type CheckStatus string

// Check outcomes.
const (
	CheckOK   CheckStatus = "ok"
	CheckWarn CheckStatus = "warn"
	CheckFail CheckStatus = "fail"
)

// Check is the outcome of one thing Doctor looked at, with the next step
// when it is not ok.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Hint   string      `json:"hint,omitempty"`
	// Next is the next step as data, when the command line has more to
	// say than Hint; it then words Hint from it.
	Next remedy.Remedy `json:"-"`
}

// Names of the checks Doctor makes.
const (
	CheckReachability = "reachability"
	CheckRBAC         = "rbac"
	CheckClientCert   = "client-certificate"
	CheckServerCert   = "server-certificate"
	// CheckChecksAccess is made for environments with checks (ChecksAccess).
	CheckChecksAccess = "checks-access"
)

// CertWarning is how long before a certificate expires Doctor warns.
const CertWarning = 30 * 24 * time.Hour

// permission is one thing a deploy asks the API server to do.
type permission struct {
	verb, group, resource string
	subresource           string
	cluster               bool // cluster scoped: asked about the namespace by name
}

// String is the "verb resource[.group][/subresource]" form kubectl auth
// can-i takes.
func (p permission) String() string { return p.verb + " " + p.qualified() }

func (p permission) qualified() string {
	q := p.resource
	if p.group != "" {
		q += "." + p.group
	}
	if p.subresource != "" {
		q += "/" + p.subresource
	}
	return q
}

// permissions are what a deploy, its wait and its rollback need: the
// namespace and the objects it applies (server-side apply is a patch), the
// Deployment it reads, watches, rolls back and deletes, the
// PodDisruptionBudget it reads and removes when an environment no longer
// has one (removeBudget) or a canary ends, and what it reads to judge a
// rollout.
var permissions = []permission{
	{verb: "get", resource: "namespaces", cluster: true},
	{verb: "patch", resource: "namespaces", cluster: true},
	{verb: "patch", resource: "secrets"},
	{verb: "get", group: "apps", resource: "deployments"},
	{verb: "list", group: "apps", resource: "deployments"},
	{verb: "watch", group: "apps", resource: "deployments"},
	{verb: "patch", group: "apps", resource: "deployments"},
	{verb: "delete", group: "apps", resource: "deployments"},
	{verb: "list", group: "apps", resource: "replicasets"},
	{verb: "watch", group: "apps", resource: "replicasets"},
	{verb: "list", resource: "pods"},
	{verb: "watch", resource: "pods"},
	{verb: "list", resource: "events"},
	{verb: "patch", resource: "services"},
	{verb: "patch", group: "networking.k8s.io", resource: "ingresses"},
	{verb: "patch", group: "policy", resource: "poddisruptionbudgets"},
	{verb: "get", group: "policy", resource: "poddisruptionbudgets"},
	{verb: "delete", group: "policy", resource: "poddisruptionbudgets"},
	{verb: "get", group: "coordination.k8s.io", resource: "leases"},
	{verb: "create", group: "coordination.k8s.io", resource: "leases"},
	{verb: "update", group: "coordination.k8s.io", resource: "leases"},
}

// Doctor checks that a deploy to namespace ns of this cluster can work:
// that the API server answers, that the credentials carry every permission
// a deploy needs there, and that neither the client certificate nor the API
// server's certificate has expired or expires within CertWarning of now. It
// makes every check, whatever the others found.
func (c *Cluster) Doctor(ctx context.Context, ns string, now time.Time) []Check {
	reach := c.reachability(ctx)
	rbac := Check{Name: CheckRBAC, Status: CheckWarn,
		Detail: "not checked: the API server did not answer", Hint: "fix reachability first"}
	if reach.Status == CheckOK {
		rbac = c.rbac(ctx, ns)
	}
	return []Check{reach, rbac, c.clientCert(now), c.serverCert(ctx, now)}
}

func (c *Cluster) reachability(ctx context.Context) Check {
	type answer struct {
		v   *version.Info
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := c.Client.Discovery().ServerVersion()
		ch <- answer{v, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		a.err = ctx.Err()
	}
	v, err := a.v, a.err
	if err != nil {
		return withNext(Check{Name: CheckReachability, Status: CheckFail,
			Detail: fmt.Sprintf("asking %s (context %s) for its version: %v", c.Server, c.Context, err)}, c.nextStep(err))
	}
	detail := fmt.Sprintf("Kubernetes %s at %s (context %s)", v.GitVersion, c.Server, c.Context)
	if major, minor, ok := serverVersion(v); ok && (major < MinKubernetes[0] || major == MinKubernetes[0] && minor < MinKubernetes[1]) {
		return Check{Name: CheckReachability, Status: CheckFail,
			Detail: fmt.Sprintf("%s is older than %d.%d, the oldest Slipway deploys to: the preStop sleep action it renders needs %d.%d", detail, MinKubernetes[0], MinKubernetes[1], MinKubernetes[0], MinKubernetes[1]),
			Hint:   "upgrade the cluster; until then set deploy.drain: 0s (no preStop sleep) and accept that rollouts may drop requests"}
	}
	return Check{Name: CheckReachability, Status: CheckOK, Detail: detail}
}

// MinKubernetes is the oldest Kubernetes (major, minor) whose API takes
// every object Slipway renders: the preStop sleep action is 1.30's.
var MinKubernetes = [2]int{1, 30}

// serverVersion reads major and minor from a version answer ("30+" on some
// managed clusters).
func serverVersion(v *version.Info) (major, minor int, ok bool) {
	num := func(s string) (int, bool) {
		s = strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		n, err := strconv.Atoi(s)
		return n, err == nil
	}
	major, ok1 := num(v.Major)
	minor, ok2 := num(v.Minor)
	return major, minor, ok1 && ok2
}

// nextStep says what to do about an error from the API server, as explain
// does: a hint, or one that another context is the other way.
func (c *Cluster) nextStep(err error) remedy.Remedy {
	switch {
	case apierrors.IsUnauthorized(err):
		return otherContext(fmt.Sprintf("the credentials of kubeconfig context %s are not accepted; refresh them (e.g. your cloud's get-credentials command)", c.Context))
	case apierrors.IsForbidden(err):
		return remedy.Remedy{Hint: fmt.Sprintf("the user of context %s needs RBAC permission for this; ask the cluster's admin", c.Context)}
	case strings.Contains(err.Error(), "certificate"):
		return otherContext(fmt.Sprintf("the API server's certificate is not trusted by context %s; fetch a fresh kubeconfig for it (certificate-authority-data)", c.Context))
	case isUnreachable(err) || errors.Is(err, context.DeadlineExceeded):
		return otherContext(fmt.Sprintf("check that the cluster is running and that %s is reachable from here (VPN, firewall, proxy),", c.Server))
	}
	return remedy.Remedy{Hint: "check the kubeconfig context with `kubectl --context " + c.Context + " version`"}
}

// otherContext is hint, or picking another context.
func otherContext(hint string) remedy.Remedy {
	return remedy.Remedy{Kind: remedy.PickContext, Hint: hint}
}

// withNext gives ch the hint of next: its Hint, and next itself when the
// command line words more.
func withNext(ch Check, next remedy.Remedy) Check {
	ch.Hint = next.Hint
	if next.Kind != remedy.None {
		ch.Next = next
	}
	return ch
}

// rbac asks the API server, one SelfSubjectAccessReview per permission,
// whether the credentials may do what a deploy does in ns.
func (c *Cluster) rbac(ctx context.Context, ns string) Check {
	return c.access(ctx, ns, CheckRBAC, "a deploy needs", permissions)
}

// ChecksAccess asks whether the credentials may run an environment's
// after-rollout checks in ns: get pods/proxy for HTTP checks (proxy),
// create pods/portforward for the SLIPWAY_URL of task checks (forward),
// and create, get and delete Jobs and read their pods' logs for Job
// checks (jobs).
func (c *Cluster) ChecksAccess(ctx context.Context, ns string, proxy, forward, jobs bool) Check {
	var perms []permission
	if proxy {
		perms = append(perms, permission{verb: "get", resource: "pods", subresource: "proxy"})
	}
	if forward {
		perms = append(perms, permission{verb: "create", resource: "pods", subresource: "portforward"})
	}
	if jobs {
		for _, verb := range []string{"create", "get", "delete"} {
			perms = append(perms, permission{verb: verb, group: "batch", resource: "jobs"})
		}
		perms = append(perms, permission{verb: "get", resource: "pods", subresource: "log"})
	}
	return c.access(ctx, ns, CheckChecksAccess, "the checks need", perms)
}

// access is the Check called name of whether the credentials carry perms
// in ns, which what needs.
func (c *Cluster) access(ctx context.Context, ns, name, what string, perms []permission) Check {
	allowed := make([]bool, len(perms))
	errs := make([]error, len(perms))
	var wg sync.WaitGroup
	for i, p := range perms {
		wg.Go(func() { allowed[i], errs[i] = c.canI(ctx, ns, p) })
	}
	wg.Wait()

	var missing []permission
	for i, p := range perms {
		if errs[i] != nil {
			return withNext(Check{Name: name, Status: CheckWarn,
				Detail: fmt.Sprintf("not checked: asking whether it may %s: %v", p, errs[i])}, c.nextStep(errs[i]))
		}
		if !allowed[i] {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		all := fmt.Sprintf("all %d permissions", len(perms))
		if len(perms) == 1 {
			all = "the 1 permission"
		}
		return Check{Name: name, Status: CheckOK, Detail: fmt.Sprintf("%s %s in namespace %s", all, what, ns)}
	}
	names := make([]string, len(missing))
	for i, p := range missing {
		names[i] = p.String()
	}
	return Check{Name: name, Status: CheckFail,
		Detail: fmt.Sprintf("context %s may not %s in namespace %s", c.Context, strings.Join(names, ", "), ns),
		Hint: fmt.Sprintf("confirm with `%s`, then ask the cluster's admin for a Role (and a ClusterRole for namespaces) granting them",
			c.canIHint(ns, missing[0]))}
}

func (c *Cluster) canI(ctx context.Context, ns string, p permission) (bool, error) {
	attrs := &authorizationv1.ResourceAttributes{Verb: p.verb, Group: p.group, Resource: p.resource, Subresource: p.subresource, Namespace: ns}
	if p.cluster {
		attrs.Namespace, attrs.Name = "", ns
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: attrs}}
	got, err := c.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return got.Status.Allowed, nil
}

// canIHint is the kubectl command that asks what p asks.
func (c *Cluster) canIHint(ns string, p permission) string {
	if p.cluster {
		return fmt.Sprintf("kubectl auth can-i %s %s/%s --context %s", p.verb, p.qualified(), ns, c.Context)
	}
	return fmt.Sprintf("kubectl auth can-i %s %s -n %s --context %s", p.verb, p.qualified(), ns, c.Context)
}

func (c *Cluster) clientCert(now time.Time) Check {
	if c.Config == nil {
		return Check{Name: CheckClientCert, Status: CheckOK, Detail: "not checked: no kubeconfig"}
	}
	data, where := c.Config.CertData, "the kubeconfig's client-certificate-data"
	if len(data) == 0 && c.Config.CertFile != "" {
		where = c.Config.CertFile
		var err error
		if data, err = os.ReadFile(c.Config.CertFile); err != nil {
			return Check{Name: CheckClientCert, Status: CheckFail,
				Detail: fmt.Sprintf("reading client certificate: %v", err),
				Hint:   fmt.Sprintf("fix client-certificate of context %s's user in the kubeconfig", c.Context)}
		}
	}
	if len(data) == 0 {
		return Check{Name: CheckClientCert, Status: CheckOK, Detail: "not checked: context " + c.Context + " uses no client certificate"}
	}
	cert, err := parseCert(data)
	if err != nil {
		return Check{Name: CheckClientCert, Status: CheckFail,
			Detail: fmt.Sprintf("parsing client certificate from %s: %v", where, err),
			Hint:   fmt.Sprintf("fix client-certificate of context %s's user in the kubeconfig", c.Context)}
	}
	ch := certCheck(CheckClientCert, cert, now)
	if ch.Status != CheckOK {
		ch.Hint = fmt.Sprintf("renew the client certificate of context %s (e.g. your cloud's get-credentials command, or `kubeadm kubeconfig user`)", c.Context)
	}
	return ch
}

// parseCert parses the first certificate of PEM data: the leaf.
func parseCert(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

func (c *Cluster) serverCert(ctx context.Context, now time.Time) Check {
	if c.Config == nil {
		return Check{Name: CheckServerCert, Status: CheckOK, Detail: "not checked: no kubeconfig"}
	}
	rc := c.Config
	defaultTLS := len(rc.CAData) > 0 || rc.CAFile != "" || len(rc.CertData) > 0 || rc.CertFile != "" || rc.Insecure || rc.ServerName != ""
	u, _, err := rest.DefaultServerURL(rc.Host, "", schema.GroupVersion{}, defaultTLS)
	if err != nil {
		return Check{Name: CheckServerCert, Status: CheckWarn, Detail: fmt.Sprintf("not checked: server %q: %v", rc.Host, err)}
	}
	if u.Scheme != "https" {
		return Check{Name: CheckServerCert, Status: CheckOK, Detail: "not checked: " + u.Host + " is plain HTTP"}
	}
	cfg, err := rest.TLSConfigFor(rc)
	if err != nil {
		return Check{Name: CheckServerCert, Status: CheckWarn, Detail: fmt.Sprintf("not checked: reading the kubeconfig's TLS settings: %v", err)}
	}
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	t := c.Timeouts(ctx)
	hctx, cancel := context.WithTimeout(ctx, t.Connect+t.TLS)
	defer cancel()
	cert, err := peerCert(hctx, addr, cfg)
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &verify) && len(verify.UnverifiedCertificates) > 0:
		ch := certCheck(CheckServerCert, verify.UnverifiedCertificates[0], now)
		if ch.Status == CheckOK {
			ch.Status, ch.Detail = CheckFail, fmt.Sprintf("%s, but not trusted: %v", ch.Detail, verify.Err)
			return withNext(ch, otherContext(fmt.Sprintf("fetch a fresh kubeconfig for context %s (certificate-authority-data),", c.Context)))
		}
		ch.Hint = "the cluster's admin must renew the API server's certificate (e.g. `kubeadm certs renew apiserver`)"
		return ch
	case err != nil:
		return Check{Name: CheckServerCert, Status: CheckWarn, Detail: fmt.Sprintf("not checked: connecting to %s: %v", addr, err)}
	}
	ch := certCheck(CheckServerCert, cert, now)
	if ch.Status != CheckOK {
		ch.Hint = "the cluster's admin must renew the API server's certificate (e.g. `kubeadm certs renew apiserver`)"
	}
	return ch
}

// peerCert completes a TLS handshake with addr and returns the leaf
// certificate it presented.
func peerCert(ctx context.Context, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg.Clone()}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s presented no certificate", addr)
	}
	return certs[0], nil
}

// certCheck judges a certificate's validity at now: fail when it has
// expired or is not valid yet, warn when it expires within CertWarning.
func certCheck(name string, cert *x509.Certificate, now time.Time) Check {
	if cert == nil {
		return Check{Name: name, Status: CheckOK, Detail: "not checked: no certificate"}
	}
	what := "certificate"
	if cn := cert.Subject.CommonName; cn != "" {
		what = fmt.Sprintf("certificate %q", cn)
	}
	date := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }
	left := cert.NotAfter.Sub(now)
	switch {
	case now.Before(cert.NotBefore):
		return Check{Name: name, Status: CheckFail,
			Detail: fmt.Sprintf("%s is not valid until %s (is this machine's clock right?)", what, date(cert.NotBefore))}
	case left <= 0:
		return Check{Name: name, Status: CheckFail,
			Detail: fmt.Sprintf("%s expired on %s", what, date(cert.NotAfter))}
	case left < CertWarning:
		return Check{Name: name, Status: CheckWarn,
			Detail: fmt.Sprintf("%s expires on %s (in %s)", what, date(cert.NotAfter), days(left))}
	}
	return Check{Name: name, Status: CheckOK,
		Detail: fmt.Sprintf("%s valid until %s (%s)", what, date(cert.NotAfter), days(left))}
}

// days says how long d is in whole days, "less than a day" below one.
func days(d time.Duration) string {
	switch n := int(d / (24 * time.Hour)); n {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	default:
		return fmt.Sprintf("%d days", n)
	}
}
