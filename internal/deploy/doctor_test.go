package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

var doctorNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDoctorCertCheck(t *testing.T) {
	day := 24 * time.Hour
	cert := func(cn string, from, to time.Time) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: from, NotAfter: to}
	}
	tests := []struct {
		name   string
		cert   *x509.Certificate
		status CheckStatus
		detail string
	}{
		{"a year left", cert("admin", doctorNow.Add(-day), doctorNow.Add(365*day)), CheckOK, `certificate "admin" valid until 2027-03-01 12:00 UTC (365 days)`},
		{"just over 30 days", cert("", doctorNow.Add(-day), doctorNow.Add(CertWarning+time.Minute)), CheckOK, "certificate valid until 2026-03-31 12:01 UTC (30 days)"},
		{"exactly 30 days", cert("", doctorNow.Add(-day), doctorNow.Add(CertWarning)), CheckOK, "(30 days)"},
		{"29 days", cert("admin", doctorNow.Add(-day), doctorNow.Add(29*day)), CheckWarn, `certificate "admin" expires on 2026-03-30 12:00 UTC (in 29 days)`},
		{"one day", cert("admin", doctorNow.Add(-day), doctorNow.Add(day+time.Hour)), CheckWarn, "(in 1 day)"},
		{"hours", cert("admin", doctorNow.Add(-day), doctorNow.Add(time.Hour)), CheckWarn, "(in less than a day)"},
		{"expires now", cert("admin", doctorNow.Add(-day), doctorNow), CheckFail, `certificate "admin" expired on 2026-03-01 12:00 UTC`},
		{"expired", cert("admin", doctorNow.Add(-10*day), doctorNow.Add(-day)), CheckFail, "expired on 2026-02-28 12:00 UTC"},
		{"not yet valid", cert("admin", doctorNow.Add(day), doctorNow.Add(10*day)), CheckFail, "not valid until 2026-03-02 12:00 UTC"},
		{"local time", cert("", doctorNow.Add(-day), doctorNow.Add(100*day).In(time.FixedZone("X", 3600))), CheckOK, "2026-06-09 12:00 UTC"},
		{"none", nil, CheckOK, "not checked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := certCheck("cert", tt.cert, doctorNow)
			if got.Name != "cert" || got.Status != tt.status || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("certCheck = %+v; want status %s, detail containing %q", got, tt.status, tt.detail)
			}
		})
	}
}

// reviews answers SelfSubjectAccessReviews on a fake clientset: allowed
// unless denied, and records what was asked.
type reviews struct {
	deny map[string]bool // "verb resource[.group][/subresource]"
	err  error

	mu    sync.Mutex
	asked []authorizationv1.ResourceAttributes
}

func (r *reviews) react(a k8stesting.Action) (bool, runtime.Object, error) {
	if r.err != nil {
		return true, nil, r.err
	}
	review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
	attrs := review.Spec.ResourceAttributes
	r.mu.Lock()
	r.asked = append(r.asked, *attrs)
	r.mu.Unlock()
	p := permission{verb: attrs.Verb, group: attrs.Group, resource: attrs.Resource, subresource: attrs.Subresource}
	review.Status.Allowed = !r.deny[p.String()]
	return true, review, nil
}

func fakeDoctorCluster(r *reviews) (*Cluster, *fake.Clientset) {
	f := fake.NewClientset()
	f.PrependReactor("create", "selfsubjectaccessreviews", r.react)
	return NewCluster(f, "dev"), f
}

func checkNamed(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, checks)
	return Check{}
}

func TestDoctorRBAC(t *testing.T) {
	tests := []struct {
		name   string
		deny   []string
		err    error
		status CheckStatus
		detail string
		hint   string
	}{
		{name: "all allowed", status: CheckOK, detail: "all 21 permissions a deploy needs in namespace hello-dev"},
		{name: "namespaced user", deny: []string{"patch namespaces", "delete deployments.apps", "patch ingresses.networking.k8s.io"},
			status: CheckFail,
			detail: "context test may not patch namespaces, delete deployments.apps, patch ingresses.networking.k8s.io in namespace hello-dev",
			hint:   "kubectl auth can-i patch namespaces/hello-dev --context test"},
		{name: "one namespaced", deny: []string{"watch pods"}, status: CheckFail,
			detail: "may not watch pods in", hint: "kubectl auth can-i watch pods -n hello-dev --context test"},
		{name: "budgets", deny: []string{"get poddisruptionbudgets.policy", "delete poddisruptionbudgets.policy"}, status: CheckFail,
			detail: "may not get poddisruptionbudgets.policy, delete poddisruptionbudgets.policy in namespace hello-dev",
			hint:   "kubectl auth can-i get poddisruptionbudgets.policy -n hello-dev --context test"},
		{name: "review refused", err: apierrors.NewUnauthorized("token expired"), status: CheckWarn,
			detail: "not checked: asking whether it may", hint: "are not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &reviews{deny: map[string]bool{}, err: tt.err}
			for _, d := range tt.deny {
				r.deny[d] = true
			}
			c, _ := fakeDoctorCluster(r)
			checks := c.Doctor(context.Background(), "hello-dev", doctorNow)
			if got := checkNamed(t, checks, CheckReachability); got.Status != CheckOK || !strings.Contains(got.Detail, " at test (context test)") {
				t.Errorf("reachability = %+v", got)
			}
			got := checkNamed(t, checks, CheckRBAC)
			if got.Status != tt.status || !strings.Contains(got.Detail, tt.detail) || !strings.Contains(got.Hint, tt.hint) {
				t.Errorf("rbac = %+v\nwant status %s, detail containing %q, hint containing %q", got, tt.status, tt.detail, tt.hint)
			}
			if tt.err != nil {
				return
			}
			if len(r.asked) != len(permissions) {
				t.Errorf("asked %d reviews, want %d", len(r.asked), len(permissions))
			}
			for _, a := range r.asked {
				if a.Resource == "namespaces" && (a.Namespace != "" || a.Name != "hello-dev") ||
					a.Resource != "namespaces" && (a.Namespace != "hello-dev" || a.Name != "") {
					t.Errorf("review %+v: wrong scope", a)
				}
			}
		})
	}
}

func TestDoctorUnreachable(t *testing.T) {
	r := &reviews{}
	c, f := fakeDoctorCluster(r)
	f.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dial tcp 10.0.0.1:6443: connect: connection refused")
	})
	checks := c.Doctor(context.Background(), "hello-dev", doctorNow)
	var names []string
	for _, ch := range checks {
		names = append(names, ch.Name)
	}
	if want := []string{CheckReachability, CheckRBAC, CheckClientCert, CheckServerCert}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("checks %v; want %v", names, want)
	}
	reach := checkNamed(t, checks, CheckReachability)
	if reach.Status != CheckFail || !strings.Contains(reach.Detail, "connection refused") || !strings.Contains(reach.Hint, "is reachable from here") {
		t.Errorf("reachability = %+v", reach)
	}
	if rbac := checkNamed(t, checks, CheckRBAC); rbac.Status != CheckWarn || !strings.Contains(rbac.Detail, "not checked") {
		t.Errorf("rbac = %+v", rbac)
	}
	if len(r.asked) != 0 {
		t.Errorf("asked %d reviews of an unreachable server", len(r.asked))
	}
	// NewCluster has no rest config: nothing to read certificates from.
	for _, name := range []string{CheckClientCert, CheckServerCert} {
		if ch := checkNamed(t, checks, name); ch.Status != CheckOK || !strings.Contains(ch.Detail, "not checked") {
			t.Errorf("%s = %+v", name, ch)
		}
	}
}

// testCert is a self-signed certificate for 127.0.0.1, valid from from to to.
func testCert(t *testing.T, cn string, from, to time.Time) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             from,
		NotAfter:              to,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestDoctorClientCert(t *testing.T) {
	now := time.Now()
	_, soon := testCert(t, "alice", now.Add(-time.Hour), now.Add(5*24*time.Hour))
	_, later := testCert(t, "bob", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	file := filepath.Join(t.TempDir(), "client.crt")
	if err := os.WriteFile(file, append([]byte("junk\n"), soon...), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tls    rest.TLSClientConfig
		status CheckStatus
		detail string
	}{
		{"data", rest.TLSClientConfig{CertData: later}, CheckOK, `certificate "bob" valid until`},
		{"data over file", rest.TLSClientConfig{CertData: later, CertFile: file}, CheckOK, `"bob"`},
		{"file", rest.TLSClientConfig{CertFile: file}, CheckWarn, `certificate "alice" expires on`},
		{"missing file", rest.TLSClientConfig{CertFile: file + ".gone"}, CheckFail, "reading client certificate"},
		{"not PEM", rest.TLSClientConfig{CertData: []byte("nope")}, CheckFail, "no PEM CERTIFICATE block"},
		{"token user", rest.TLSClientConfig{}, CheckOK, "uses no client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{Context: "dev", Config: &rest.Config{TLSClientConfig: tt.tls}}
			got := c.clientCert(now)
			if got.Status != tt.status || !strings.Contains(got.Detail, tt.detail) || (got.Status != CheckOK) != (got.Hint != "") {
				t.Errorf("clientCert = %+v; want status %s, detail containing %q", got, tt.status, tt.detail)
			}
		})
	}
}

// tlsServer serves HTTPS with cert, quietly: handshakes the test makes
// fail on purpose.
func tlsServer(cert tls.Certificate) *httptest.Server {
	s := httptest.NewUnstartedServer(http.NotFoundHandler())
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	return s
}

func TestDoctorServerCert(t *testing.T) {
	now := time.Now()
	serve := func(cert tls.Certificate) string {
		s := tlsServer(cert)
		t.Cleanup(s.Close)
		return s.URL
	}
	good, goodPEM := testCert(t, "kube-apiserver", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	soon, soonPEM := testCert(t, "kube-apiserver", now.Add(-time.Hour), now.Add(3*24*time.Hour))
	old, oldPEM := testCert(t, "kube-apiserver", now.Add(-10*24*time.Hour), now.Add(-time.Hour))
	goodURL, soonURL, oldURL := serve(good), serve(soon), serve(old)
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	closed := httptest.NewTLSServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name   string
		rc     rest.Config
		status CheckStatus
		detail string
	}{
		{"valid", rest.Config{Host: goodURL, TLSClientConfig: rest.TLSClientConfig{CAData: goodPEM}}, CheckOK, `certificate "kube-apiserver" valid until`},
		{"host:port with CA", rest.Config{Host: strings.TrimPrefix(goodURL, "https://"), TLSClientConfig: rest.TLSClientConfig{CAData: goodPEM}}, CheckOK, "valid until"},
		{"expiring", rest.Config{Host: soonURL, TLSClientConfig: rest.TLSClientConfig{CAData: soonPEM}}, CheckWarn, "expires on"},
		{"expired", rest.Config{Host: oldURL, TLSClientConfig: rest.TLSClientConfig{CAData: oldPEM}}, CheckFail, "expired on"},
		{"expired, insecure", rest.Config{Host: oldURL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, CheckFail, "expired on"},
		{"untrusted", rest.Config{Host: goodURL, TLSClientConfig: rest.TLSClientConfig{CAData: soonPEM}}, CheckFail, "but not trusted"},
		{"plain HTTP", rest.Config{Host: plain.URL}, CheckOK, "plain HTTP"},
		{"closed", rest.Config{Host: closed.URL}, CheckWarn, "not checked: connecting to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{Context: "dev", Config: &tt.rc}
			got := c.serverCert(context.Background(), now)
			if got.Status != tt.status || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("serverCert = %+v; want status %s, detail containing %q", got, tt.status, tt.detail)
			}
			if got.Status == CheckFail && got.Hint == "" || got.Status == CheckOK && got.Hint != "" {
				t.Errorf("serverCert hint = %q for status %s", got.Hint, got.Status)
			}
		})
	}
}

// TestDoctor runs every check: a fake API that allows all, a client
// certificate about to expire, and a real TLS endpoint for the server's.
func TestDoctor(t *testing.T) {
	now := time.Now()
	srv, srvPEM := testCert(t, "kube-apiserver", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	_, client := testCert(t, "alice", now.Add(-time.Hour), now.Add(2*24*time.Hour))
	s := tlsServer(srv)
	defer s.Close()

	c, _ := fakeDoctorCluster(&reviews{})
	c.Config = &rest.Config{Host: s.URL, TLSClientConfig: rest.TLSClientConfig{CAData: srvPEM, CertData: client}}
	want := map[string]CheckStatus{CheckReachability: CheckOK, CheckRBAC: CheckOK, CheckClientCert: CheckWarn, CheckServerCert: CheckOK}
	checks := c.Doctor(context.Background(), "hello-dev", now)
	if len(checks) != len(want) {
		t.Fatalf("got %d checks, want %d: %+v", len(checks), len(want), checks)
	}
	for _, ch := range checks {
		if ch.Status != want[ch.Name] {
			t.Errorf("%s = %+v; want %s", ch.Name, ch, want[ch.Name])
		}
	}
}

func TestDoctorServerVersion(t *testing.T) {
	tests := []struct {
		major, minor string
		status       CheckStatus
		detail       string
	}{
		{"1", "36", CheckOK, "Kubernetes v1.36"},
		{"1", "30+", CheckOK, "Kubernetes v1.30+"},
		{"1", "29", CheckFail, "older than 1.30, the oldest Slipway deploys to: the preStop sleep action"},
		{"0", "99", CheckFail, "older than 1.30"},
		{"2", "0", CheckOK, "Kubernetes v2.0"},
		{"", "", CheckOK, "Kubernetes v."}, // unknown: not judged
	}
	for _, tt := range tests {
		client := fake.NewSimpleClientset()
		fd := client.Discovery().(*fakediscovery.FakeDiscovery)
		fd.FakedServerVersion = &version.Info{Major: tt.major, Minor: tt.minor, GitVersion: "v" + tt.major + "." + tt.minor}
		c := &Cluster{Client: client, Server: "https://127.0.0.1:6443", Context: "test"}
		got := c.reachability(context.Background())
		if got.Status != tt.status || !strings.Contains(got.Detail, tt.detail) {
			t.Errorf("%s.%s: %+v, want %s with %q", tt.major, tt.minor, got, tt.status, tt.detail)
		}
		if tt.status == CheckFail && !strings.Contains(got.Hint, "upgrade the cluster") {
			t.Errorf("%s.%s: hint %q", tt.major, tt.minor, got.Hint)
		}
	}
}
