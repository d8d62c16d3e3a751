package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/slipwayhq/slipway/internal/config"
)

// RegistryBinary is the Debian docker-registry program the harness runs.
const RegistryBinary = "/usr/bin/docker-registry"

// E2EEnv, when "1", turns skips for missing tools into failures; make test
// sets it.
const E2EEnv = "SLIPWAY_E2E"

// ErrNotInstalled is returned by Start when docker-registry is missing.
var ErrNotInstalled = errors.New("docker-registry is not installed; run: apt-get install docker-registry")

// RegistryOptions configure a registry.
type RegistryOptions struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1 and localhost
	// signed by a test CA written to Registry.CAFile.
	TLS bool
	// Users enables basic authentication with these user names and
	// passwords (htpasswd, bcrypt).
	Users map[string]string
	// Dir holds the configuration, certificates and storage (default: a
	// new temporary directory, removed by Stop).
	Dir string
	// Port is the port on 127.0.0.1 to listen on (default: a free one).
	Port int
}

// Registry is a running docker-registry.
type Registry struct {
	// Host is 127.0.0.1:PORT.
	Host string
	// URL is http://Host or https://Host.
	URL string
	// CAFile is the PEM file of the test CA when TLS, else "".
	CAFile string
	// Dir holds the configuration, certificates and storage.
	Dir string

	cmd     *exec.Cmd
	tempDir bool
	out     *syncBuffer
	done    chan struct{}
	stop    sync.Once
	stopErr error
}

// StartRegistry starts a registry for a test and stops it when the test
// ends. Without docker-registry it skips the test, or fails it when
// SLIPWAY_E2E=1.
func StartRegistry(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	r, err := Start(opts)
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv(E2EEnv) == "1" {
			t.Fatalf("%v (%s=1 requires it)", err, E2EEnv)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stopping registry: %v", err)
		}
	})
	return r
}

// Start starts a registry and waits until it answers /v2/. Call Stop when
// done. It is usable outside tests, e.g. from a testscript Setup.
func Start(opts RegistryOptions) (*Registry, error) {
	if _, err := os.Stat(RegistryBinary); err != nil {
		return nil, ErrNotInstalled
	}
	r := &Registry{Dir: opts.Dir}
	if r.Dir == "" {
		d, err := os.MkdirTemp("", "slipway-registry-")
		if err != nil {
			return nil, fmt.Errorf("creating registry directory: %w", err)
		}
		r.Dir, r.tempDir = d, true
	}
	var err error
	for try := 0; try < 3; try++ {
		if err = r.start(opts); err == nil {
			return r, nil
		}
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	if r.tempDir {
		os.RemoveAll(r.Dir)
	}
	return nil, err
}

var errPortTaken = errors.New("port taken")

func (r *Registry) start(opts RegistryOptions) error {
	port := opts.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	r.Host = fmt.Sprintf("127.0.0.1:%d", port)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n")
	fmt.Fprintf(&cfg, "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n", filepath.Join(r.Dir, "storage"))
	fmt.Fprintf(&cfg, "http:\n  addr: %s\n  secret: %s\n", r.Host, randomHex(16))
	r.URL = "http://" + r.Host
	if opts.TLS {
		cert, key, err := writeTLSFiles(r.Dir)
		if err != nil {
			return err
		}
		r.CAFile = filepath.Join(r.Dir, "ca.pem")
		r.URL = "https://" + r.Host
		fmt.Fprintf(&cfg, "  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	if len(opts.Users) > 0 {
		htpasswd := filepath.Join(r.Dir, "htpasswd")
		if err := writeHtpasswd(htpasswd, opts.Users); err != nil {
			return err
		}
		fmt.Fprintf(&cfg, "auth:\n  htpasswd:\n    realm: slipway-test\n    path: %s\n", htpasswd)
	}
	cfgFile := filepath.Join(r.Dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		return fmt.Errorf("writing registry config: %w", err)
	}

	r.out = &syncBuffer{}
	r.cmd = exec.Command(RegistryBinary, "serve", cfgFile)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("starting docker-registry: %w", err)
	}
	r.done = make(chan struct{})
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	if err := r.waitReady(opts.TLS, 15*time.Second); err != nil {
		_ = r.kill()
		if strings.Contains(r.out.String(), "address already in use") {
			return errPortTaken
		}
		return fmt.Errorf("starting docker-registry: %w\n%s", err, r.out.String())
	}
	return nil
}

// waitReady polls /v2/ until it answers 200 or 401.
func (r *Registry) waitReady(useTLS bool, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	if useTLS {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			return err
		}
		pool.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-r.done:
			return errors.New("docker-registry exited")
		default:
		}
		resp, err := client.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from %s/v2/ after %s (last error: %v)", r.URL, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the registry process it started (SIGTERM, then SIGKILL after
// 5s) and removes its directory when Start created it.
func (r *Registry) Stop() error {
	r.stop.Do(func() {
		r.stopErr = r.kill()
		if r.tempDir {
			if err := os.RemoveAll(r.Dir); err != nil && r.stopErr == nil {
				r.stopErr = err
			}
		}
	})
	return r.stopErr
}

func (r *Registry) kill() error {
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	select {
	case <-r.done:
		return nil
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping docker-registry (pid %d): %w", r.cmd.Process.Pid, err)
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing docker-registry (pid %d): %w", r.cmd.Process.Pid, err)
	}
	<-r.done
	return nil
}

// Output is what the registry process printed.
func (r *Registry) Output() string { return r.out.String() }

// Config returns a slipway.yaml registry entry for this registry with the
// repository prefix prefix: insecure for plain HTTP, with ca: for TLS.
func (r *Registry) Config(name, prefix string) config.Registry {
	c := config.Registry{Name: name, URL: r.Host, CA: r.CAFile, Insecure: r.CAFile == ""}
	if prefix != "" {
		c.URL += "/" + prefix
	}
	return c
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeTLSFiles writes ca.pem, server.pem and server-key.pem into dir: a
// test CA and a server certificate for 127.0.0.1 and localhost.
func writeTLSFiles(dir string) (certFile, keyFile string, err error) {
	ca, caKey, err := newCert(&x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Slipway test CA"},
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
	}, nil, nil)
	if err != nil {
		return "", "", err
	}
	cert, key, err := newCert(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}, ca, caKey)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{
		{filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw},
		{certFile, "CERTIFICATE", cert.Raw},
		{keyFile, "EC PRIVATE KEY", keyDER},
	} {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(f.path, b, 0o600); err != nil {
			return "", "", fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return certFile, keyFile, nil
}

// newCert makes a P-256 key and the certificate of tmpl for it, valid
// from an hour ago for a day, signed by parentKey as parent, or by the new
// key when parent is nil (a CA's own).
func newCert(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	name := tmpl.Subject.CommonName
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = tmpl.NotBefore.Add(25 * time.Hour)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the key of %s: %w", name, err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the certificate of %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writeHtpasswd(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, u := range names {
		h, err := bcrypt.GenerateFromPassword([]byte(users[u]), bcrypt.MinCost)
		if err != nil {
			return fmt.Errorf("hashing password of %s: %w", u, err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing htpasswd: %w", err)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
