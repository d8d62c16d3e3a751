package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/slipwayhq/slipway/internal/cli"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testenv/githttp"
	"github.com/slipwayhq/slipway/internal/testutil"
)

func TestMain(m *testing.M) {
	testscript.Main(stopCluster{m}, map[string]func(){
		"slipway": func() {
			os.Exit(cli.Main(context.Background(), os.Args, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
		},
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: testutil.Update(),
		Setup: func(e *testscript.Env) error {
			home := filepath.Join(e.WorkDir, "home")
			e.Setenv("HOME", home)
			e.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			e.Setenv("GIT_AUTHOR_NAME", "Ada")
			e.Setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
			e.Setenv("GIT_COMMITTER_NAME", "Ada")
			e.Setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
			e.Setenv("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
			e.Setenv("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
			// Scripts that run go build share the host's build cache, not
			// an empty one under their own HOME.
			if c := goCache(); c != "" {
				e.Setenv("GOCACHE", c)
			}
			return os.MkdirAll(home, 0o755)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    exits,
			"cluster":  useCluster,
			"registry": startRegistry,
			"tags":     listTags,
			"gitserve": serveGit,
			"flux":     useFlux,
			"receiver": receiver,
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "git":
				_, err := exec.LookPath("git")
				return err == nil, nil
			case "cluster":
				return testenv.ClusterInstalled() || os.Getenv(testenv.E2EEnv) == "1", nil
			case "flux":
				// Under make test missing controllers must fail, not skip.
				return testenv.FluxInstalled() || os.Getenv(testenv.E2EEnv) == "1", nil
			case "githttp":
				// Under make test a missing backend must fail, not skip.
				_, err := os.Stat(githttp.DefaultBackend)
				return err == nil || os.Getenv(testenv.E2EEnv) == "1", nil
			case "registry":
				// Under make test a missing registry must fail, not skip.
				_, err := os.Stat(testenv.RegistryBinary)
				return err == nil || os.Getenv(testenv.E2EEnv) == "1", nil
			}
			return false, nil
		},
	})
}

// goCache is the host's Go build cache, or "" without go.
var goCache = sync.OnceValue(func() string {
	if c := os.Getenv("GOCACHE"); c != "" {
		return c
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// exits N CMD ARGS... runs CMD and checks it exits with code N, keeping its
// output for the commands that follow.
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// registry NAME [tls] [USER:PASSWORD] starts a real docker-registry on
// 127.0.0.1 for the script and sets $NAME_HOST (and $NAME_CA with tls).
func startRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: registry NAME [tls] [USER:PASSWORD]")
	}
	opts := testenv.RegistryOptions{Dir: ts.MkAbs("registry-" + args[0])}
	ts.Check(os.MkdirAll(opts.Dir, 0o755))
	for _, a := range args[1:] {
		if a == "tls" {
			opts.TLS = true
		} else if user, pass, ok := strings.Cut(a, ":"); ok {
			opts.Users = map[string]string{user: pass}
		}
	}
	r, err := testenv.Start(opts)
	ts.Check(err)
	ts.Defer(func() { _ = r.Stop() })
	ts.Setenv(args[0]+"_HOST", r.Host)
	ts.Setenv(args[0]+"_CA", r.CAFile)
}

// gitserve NAME USER:PASSWORD makes an empty bare repository NAME.git
// (branch main) and serves it over smart HTTP with basic auth on
// 127.0.0.1, setting $NAME_URL to its URL and $NAME_GIT to its directory.
func serveGit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gitserve NAME USER:PASSWORD")
	}
	user, pass, _ := strings.Cut(args[1], ":")
	root := ts.MkAbs("git-" + args[0])
	dir := filepath.Join(root, args[0]+".git")
	out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", dir).CombinedOutput()
	if err != nil {
		ts.Fatalf("git init: %v\n%s", err, out)
	}
	ln, err := githttp.Listen("127.0.0.1:0")
	ts.Check(err)
	srv := githttp.HTTPServer(&githttp.Server{Root: root, User: user, Pass: pass})
	go func() { _ = srv.Serve(ln) }()
	ts.Defer(func() { _ = srv.Close() })
	ts.Setenv(args[0]+"_URL", "http://"+ln.Addr().String()+"/"+args[0]+".git")
	ts.Setenv(args[0]+"_GIT", dir)
}

// tags HOST REPO [CAFILE USER:PASSWORD] prints the repository's tags, one a
// line, as the registry lists them.
func listTags(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 && len(args) != 4 {
		ts.Fatalf("usage: tags HOST REPO [CAFILE USER:PASSWORD]")
	}
	scheme, client := "http", http.DefaultClient
	req, err := http.NewRequest("GET", "", nil)
	ts.Check(err)
	if len(args) == 4 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(ts.ReadFile(args[2])))
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		scheme = "https"
		user, pass, _ := strings.Cut(args[3], ":")
		req.SetBasicAuth(user, pass)
	}
	req.URL, err = req.URL.Parse(fmt.Sprintf("%s://%s/v2/%s/tags/list", scheme, args[0], args[1]))
	ts.Check(err)
	resp, err := client.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	var list struct{ Tags []string }
	if resp.StatusCode == http.StatusOK {
		ts.Check(json.NewDecoder(resp.Body).Decode(&list))
	}
	if neg != (len(list.Tags) == 0) {
		ts.Fatalf("tags: %v (status %d)", list.Tags, resp.StatusCode)
	}
	for _, t := range list.Tags {
		fmt.Fprintln(ts.Stdout(), t)
	}
}

// One control plane serves every script that needs one; each script uses
// namespaces of its own.
var (
	clusterOnce sync.Once
	cluster     *testenv.Cluster
	clusterErr  error
	clusterDir  string
)

// useCluster starts the shared control plane if it is not running yet and
// sets $KUBECONFIG and $KUBECTL for the script.
func useCluster(ts *testscript.TestScript, neg bool, args []string) {
	clusterOnce.Do(func() {
		clusterDir, clusterErr = os.MkdirTemp("", "slipway-cluster-")
		if clusterErr == nil {
			cluster, clusterErr = testenv.StartCluster(clusterDir)
		}
	})
	ts.Check(clusterErr)
	ts.Setenv("KUBECONFIG", cluster.Kubeconfig)
	ts.Setenv("KUBECTL", cluster.Kubectl)
}

// The Flux controllers run once against the shared control plane, for
// every script that needs them.
var (
	fluxOnce sync.Once
	flux     *testenv.Flux
	fluxErr  error
)

// useFlux starts the shared control plane and Flux's source-controller and
// kustomize-controller against it, with the feature gate GitOps mode
// wants, if they are not running yet; it sets $FLUX_NS.
func useFlux(ts *testscript.TestScript, neg bool, args []string) {
	useCluster(ts, neg, args)
	fluxOnce.Do(func() {
		flux, fluxErr = testenv.LaunchFlux(cluster, testenv.FluxOptions{
			KustomizeArgs: []string{"--feature-gates=CancelHealthCheckOnNewRevision=true"}})
	})
	ts.Check(fluxErr)
	ts.Setenv("FLUX_NS", flux.Namespace)
}

// stopCluster stops the shared control plane after the tests.
type stopCluster struct{ m *testing.M }

func (s stopCluster) Run() int {
	code := s.m.Run()
	if flux != nil {
		if code != 0 {
			for _, name := range []string{"source-controller", "kustomize-controller"} {
				fmt.Fprintf(os.Stderr, "last lines of %s's log:\n%s\n", name, flux.LogTail(name, 30))
			}
		}
		if err := flux.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.RemoveAll(clusterDir)
	}
	return code
}
