package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/sign"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// doctorProject is a project tagged v1.2.3 at HEAD whose environment dev
// pulls from the registry at host.
func doctorProject(t *testing.T, host string, pullSecret bool) *config.Project {
	t.Helper()
	yaml := fmt.Sprintf(`apiVersion: slipway/v1
app: hello
registries:
  local: {url: %s/team, insecure: true, pullSecret: %t}
environments:
  dev: {registry: local, namespace: hello-dev}
`, host, pullSecret)
	repo := testutil.NewGitRepo(t)
	if _, err := repo.Git.CreateTag("v1.2.3", repo.Commit("feat: hello", map[string]string{config.ProjectFile: yaml}), nil); err != nil {
		t.Fatal(err)
	}
	dir := repo.Dir
	p, err := config.LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// unreachableKubeconfig writes a kubeconfig whose context dev points at a
// port nothing listens on.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	s.Close()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	data := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: dev, cluster: {server: %q}}]
users: [{name: dev, user: {token: secret}}]
contexts: [{name: dev, context: {cluster: dev, user: dev}}]
current-context: dev
`, s.URL)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDoctor(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SLIPWAY_REGISTRY_LOCAL_USERNAME", "")
	t.Setenv("SLIPWAY_REGISTRY_LOCAL_PASSWORD", "")

	open := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer open.Close()
	openHost := strings.TrimPrefix(open.URL, "http://")
	ref, err := name.NewTag(openHost+"/team/hello:1.2.3", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	empty := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer empty.Close()
	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer locked.Close()
	kubeconfig := unreachableKubeconfig(t)

	tests := []struct {
		name       string
		registry   string
		pullSecret bool
		creds      bool
		cluster    deploy.ClusterOptions
		want       map[string]deploy.CheckStatus
		hints      map[string]string
	}{
		{
			name: "no kubeconfig", registry: open.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckOK},
		},
		{
			name: "unreachable cluster", registry: open.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig},
			want: map[string]deploy.CheckStatus{
				CheckKubeconfig: deploy.CheckOK, deploy.CheckReachability: deploy.CheckFail, deploy.CheckRBAC: deploy.CheckWarn,
				deploy.CheckClientCert: deploy.CheckOK, deploy.CheckServerCert: deploy.CheckOK,
				CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckOK,
			},
		},
		{
			name: "not pushed", registry: empty.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckWarn, CheckPullSecret: deploy.CheckOK},
			hints:   map[string]string{CheckPull: "next: PushOrPromote dev"},
		},
		{
			name: "registry wants a login", registry: locked.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckFail, CheckPullSecret: deploy.CheckOK},
			hints:   map[string]string{CheckPull: "log in to 127.0.0.1"},
		},
		{
			name: "pull secret without credentials", registry: open.URL, pullSecret: true,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckFail},
			hints:   map[string]string{CheckPullSecret: "SLIPWAY_REGISTRY_LOCAL_USERNAME and SLIPWAY_REGISTRY_LOCAL_PASSWORD"},
		},
		{
			name: "pull secret", registry: open.URL, pullSecret: true, creds: true,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.creds {
				t.Setenv("SLIPWAY_REGISTRY_LOCAL_USERNAME", "puller")
				t.Setenv("SLIPWAY_REGISTRY_LOCAL_PASSWORD", "hunter2")
			}
			p := doctorProject(t, strings.TrimPrefix(tt.registry, "http://"), tt.pullSecret)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := NewRunner(p, Factory{Words: sayRemedy}).Doctor(ctx, "dev", DoctorOptions{Cluster: tt.cluster})
			if err != nil {
				t.Fatal(err)
			}
			if r.Env != "dev" {
				t.Errorf("Env = %q", r.Env)
			}
			got := map[string]deploy.CheckStatus{}
			failed := false
			for _, c := range r.Checks {
				got[c.Name] = c.Status
				failed = failed || c.Status == deploy.CheckFail
				if h := tt.hints[c.Name]; !strings.Contains(c.Hint, h) {
					t.Errorf("%s hint = %q; want it to contain %q", c.Name, c.Hint, h)
				}
				if c.Status != deploy.CheckOK && c.Detail == "" {
					t.Errorf("%s: %s without detail", c.Name, c.Status)
				}
				if strings.Contains(c.Detail+c.Hint, "hunter2") {
					t.Errorf("%s shows the password: %+v", c.Name, c)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("checks:\n%+v\nwant statuses %v", r.Checks, tt.want)
			}
			if r.Failed() != failed {
				t.Errorf("Failed() = %v; want %v", r.Failed(), failed)
			}
		})
	}
}

func TestDoctorUnknownEnvironment(t *testing.T) {
	p := &config.Project{App: "hello"}
	_, err := NewRunner(p, Factory{}).Doctor(context.Background(), "nope", DoctorOptions{})
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("Doctor(nope) = %v; want ErrInvalid", err)
	}
}

func TestDoctorReportFailed(t *testing.T) {
	tests := []struct {
		statuses []deploy.CheckStatus
		want     bool
	}{
		{nil, false},
		{[]deploy.CheckStatus{deploy.CheckOK, deploy.CheckWarn}, false},
		{[]deploy.CheckStatus{deploy.CheckOK, deploy.CheckFail, deploy.CheckWarn}, true},
	}
	for _, tt := range tests {
		var r DoctorReport
		for _, s := range tt.statuses {
			r.Checks = append(r.Checks, deploy.Check{Name: "x", Status: s})
		}
		if r.Failed() != tt.want {
			t.Errorf("Failed(%v) = %v; want %v", tt.statuses, r.Failed(), tt.want)
		}
	}
}

// TestKeyChecks checks doctor's key checks, and that none of them prints a
// key or a password.
func TestKeyChecks(t *testing.T) {
	const password = "doctor-pass-s3cret"
	dir := t.TempDir()
	write := func(file string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kp, err := sign.GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	other, err := sign.GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	write("cosign.key", kp.Private)
	write("cosign.pub", kp.Public)
	write("lone.key", kp.Private)
	write("mixed.key", kp.Private)
	write("mixed.pub", other.Public)
	write("other.pub", other.Public)
	write("junk.pub", []byte("not a key"))
	plain := testutil.PlainKey(t)
	write("plain.key", plain)
	env := func(m map[string]string) sign.Getenv {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	withPassword := env(map[string]string{sign.CosignPasswordEnv: password})
	type want struct {
		name   string
		status deploy.CheckStatus
		detail string
	}
	tests := []struct {
		name    string
		signing string // signing.key, "" for none
		verify  string // verify.key, "" for none
		getenv  sign.Getenv
		want    []want
	}{
		{"no keys", "", "", withPassword, nil},
		{"pair that matches", "cosign.key", "cosign.pub", withPassword, []want{
			{CheckSigningKey, deploy.CheckOK, "cosign.pub is its public half"},
			{CheckVerifyKey, deploy.CheckOK, "is the public half of signing.key"}}},
		{"slipway's password variable", "lone.key", "", env(map[string]string{sign.PasswordEnv: password}), []want{
			{CheckSigningKey, deploy.CheckOK, "$" + sign.PasswordEnv}}},
		{"wrong password", "cosign.key", "", env(map[string]string{sign.CosignPasswordEnv: "wrong-" + password}), []want{
			{CheckSigningKey, deploy.CheckFail, "the wrong password"}}},
		{"no password variable", "cosign.key", "", env(nil), []want{
			{CheckSigningKey, deploy.CheckWarn, "no password variable"}}},
		{"key variable not set here", "env://SIGNING_KEY", "", withPassword, []want{
			{CheckSigningKey, deploy.CheckWarn, "not set here"}}},
		{"key from a variable", "env://SIGNING_KEY", "", env(map[string]string{sign.CosignPasswordEnv: password, "SIGNING_KEY": string(kp.Private)}), []want{
			{CheckSigningKey, deploy.CheckOK, "loads"}}},
		{"unencrypted key from a variable, no password", "env://PLAIN", "", env(map[string]string{"PLAIN": string(plain)}), []want{
			{CheckSigningKey, deploy.CheckOK, "not encrypted, so keep the variable in a secret store"}}},
		{"unencrypted key file", "plain.key", "", withPassword, []want{
			{CheckSigningKey, deploy.CheckFail, "not encrypted: a key file must be"}}},
		{"missing key file", "gone.key", "", withPassword, []want{
			{CheckSigningKey, deploy.CheckFail, "gone.key"}}},
		{"public key beside it is another's", "mixed.key", "", withPassword, []want{
			{CheckSigningKey, deploy.CheckFail, "mixed.pub beside signing.key mixed.key is not its public half"}}},
		{"verify key of another pair", "cosign.key", "other.pub", withPassword, []want{
			{CheckSigningKey, deploy.CheckOK, ""},
			{CheckVerifyKey, deploy.CheckFail, "would be refused at deploy"}}},
		{"verify key that does not parse", "", "junk.pub", withPassword, []want{
			{CheckVerifyKey, deploy.CheckFail, "not a PEM public key"}}},
		{"verify key alone", "", "other.pub", withPassword, []want{
			{CheckVerifyKey, deploy.CheckOK, "is a public key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &config.Project{App: "hello", Dir: dir}
			if tt.signing != "" {
				p.Signing = &config.Signing{Key: tt.signing}
			}
			e := config.Environment{Name: "prod"}
			if tt.verify != "" {
				e.Verify = &config.Verify{Key: tt.verify}
			}
			got := keyChecks(p, e, tt.getenv)
			if len(got) != len(tt.want) {
				t.Fatalf("checks %+v, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				c := got[i]
				if c.Name != w.name || c.Status != w.status || !strings.Contains(c.Detail, w.detail) {
					t.Errorf("check %d = %+v, want %s %s with %q", i, c, w.name, w.status, w.detail)
				}
				if c.Status != deploy.CheckOK && c.Hint == "" {
					t.Errorf("check %+v has no hint", c)
				}
				for _, secret := range []string{password, "BEGIN", string(kp.Private[60:100])} {
					if strings.Contains(c.Detail+c.Hint, secret) {
						t.Errorf("check %+v prints a secret", c)
					}
				}
			}
		})
	}
}

// sayRemedy words next steps for tests: their kind and what they are
// about, where the command line says them in its own terms.
func sayRemedy(r remedy.Remedy) string {
	switch r.Kind {
	case remedy.LoginRegistry, remedy.LoginAsOther, remedy.LoginForLimit:
		return "; log in to " + r.Host
	}
	return fmt.Sprintf("; next: %v %s", r.Kind, r.Env)
}

// said is err's message with its next steps as sayRemedy words them.
func said(err error) string { return remedy.Message(err, sayRemedy) }
