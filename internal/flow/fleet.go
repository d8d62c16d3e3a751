package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/fleet"
	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/sign"
)

// Fleet is what Slipway runs across clusters (status --all).
type Fleet = fleet.Fleet

// FleetRow is one app in one environment of one cluster.
type FleetRow = fleet.Row

// FleetFilter chooses rows of a Fleet.
type FleetFilter = fleet.Filter

// FleetOptions configure ReadFleet.
type FleetOptions struct {
	// Contexts are the kubeconfig contexts to read; none is the
	// kubeconfig's current one.
	Contexts   []string
	Kubeconfig string
	Filter     FleetFilter
	// Timeout bounds each cluster's list calls (default 10s).
	Timeout time.Duration
	// Cluster connects to a context (default deploy.Connect), for tests.
	Cluster func(env config.Environment, o deploy.ClusterOptions) (*deploy.Cluster, error)
	// Now is the time the fleet is read at (default time.Now).
	Now func() time.Time
	// Registries also asks the registry of each image what it says of it:
	// its signature, promotions and version tag (see readRegistries).
	// Filter.Unsigned implies it.
	Registries bool
	// Key verifies the images' signatures: a cosign public key file, or
	// env://NAME; without it a signature is only looked for.
	Key       string
	UserAgent string
	// GitHosts are the hosts (HOST or HOST:PORT) that SLIPWAY_GIT_TOKEN,
	// or SLIPWAY_GIT_USERNAME and SLIPWAY_GIT_PASSWORD, are sent to when
	// GitOps environments are read through their repositories: those are
	// named by cluster objects others may write.
	GitHosts []string
	// Dynamic makes the client that reads a cluster's GitOps engine
	// objects (default: from its configuration), for tests.
	Dynamic func(c *deploy.Cluster) (dynamic.Interface, error)

	verifier sign.Verifier
}

// loadKey reads o.Key, once.
func (o *FleetOptions) loadKey() error {
	if o.Key == "" || o.verifier != nil {
		return nil
	}
	pem, err := sign.ReadKey(o.Key, ".", os.LookupEnv)
	if err != nil {
		return fmt.Errorf("reading the fleet's verify key %s: %w", o.Key, err)
	}
	if o.verifier, err = sign.LoadVerifier(pem); err != nil {
		return fmt.Errorf("reading the key %s: %w", o.Key, err)
	}
	return nil
}

// ReadFleet reads every Slipway-managed Deployment in each context, with
// list calls, and keeps the rows o.Filter chooses. It needs no project:
// the clusters hold what runs. A context that cannot be read is reported
// as unreachable in the result; it does not fail the rest. With
// o.Registries, the registries of the rows kept are asked too; the error
// is only for an o.Key that cannot be read.
func ReadFleet(ctx context.Context, o FleetOptions) (Fleet, error) {
	if err := o.loadKey(); err != nil {
		return Fleet{}, err
	}
	return readFleet(ctx, o), nil
}

// readFleet is ReadFleet once its key is read.
func readFleet(ctx context.Context, o FleetOptions) Fleet {
	connect := o.Cluster
	if connect == nil {
		connect = deploy.Connect
	}
	names := o.Contexts
	if len(names) == 0 {
		names = []string{""}
	}
	srcs := make([]fleet.Source, len(names))
	clusters := map[string]*deploy.Cluster{}
	for i, n := range names {
		c, err := connect(config.Environment{Name: "context " + cmp.Or(n, "(current)")}, deploy.ClusterOptions{Context: n, Kubeconfig: o.Kubeconfig})
		srcs[i] = fleet.Source{Context: cmp.Or(n, "(current context)"), Err: err}
		if err == nil {
			srcs[i].Client = c.Client
			if n == "" {
				srcs[i].Context = c.Context
			}
			clusters[srcs[i].Context] = c
		}
	}
	f := fleet.Collect(ctx, srcs, fleet.Options{Timeout: o.Timeout, Now: o.Now})
	// What the registries decide is chosen once they were asked, and only
	// the rows the rest chooses are asked about.
	first := o.Filter
	first.Unsigned, first.Drift = false, false
	f.Rows = fleet.Select(f.Rows, first)
	if o.Registries || o.Filter.Unsigned {
		readRegistries(ctx, f.Rows, o.verifier, o.UserAgent)
	}
	dyn := o.Dynamic
	if dyn == nil {
		dyn = func(c *deploy.Cluster) (dynamic.Interface, error) { return dynamicOf(c) }
	}
	readGitOps(ctx, f.Rows, func(context string) (dynamic.Interface, error) { return dyn(clusters[context]) }, o.GitHosts)
	f.Rows = fleet.Select(f.Rows, o.Filter)
	return f
}

// FleetNotes are what a reader should know of a row besides its columns:
// a deploy rolled back since, drift, a canary in progress, an error.
func FleetNotes(r FleetRow, now time.Time) []string { return fleet.Notes(r, now) }

// WriteFleetPage renders f as a self-contained HTML page and writes it to
// file: an absolute path, or one relative to dir that stays below it,
// never through a symlink. It returns the path written.
func WriteFleetPage(dir, file string, f Fleet) (string, error) {
	page, err := fleet.Page(f)
	if err != nil {
		return "", err
	}
	root, rel := dir, file
	if filepath.IsAbs(file) {
		root, rel = filepath.Dir(file), filepath.Base(file)
	}
	if err := projfs.WriteFile(root, rel, page, 0o644); err != nil {
		return "", err
	}
	return filepath.Join(root, rel), nil
}

// ServeOptions configure ServeFleet.
type ServeOptions struct {
	FleetOptions
	// Addr is where to listen (default 127.0.0.1:7070: loopback).
	Addr string
	// Hosts are names answered off loopback besides IP addresses,
	// localhost and this machine's name (see fleet.Handler).
	Hosts []string
	// Refresh is how often the page reloads itself and the clusters are
	// read again (default 30s).
	Refresh time.Duration
	// Listening is told the URL once the server listens.
	Listening func(url string)
}

// ServeFleet serves the fleet page and its JSON, read-only, until ctx is
// done (see fleet.Handler).
func ServeFleet(ctx context.Context, o ServeOptions) error {
	addr := cmp.Or(o.Addr, "127.0.0.1:7070")
	if err := o.loadKey(); err != nil {
		return err
	}
	refresh := cmp.Or(o.Refresh, 30*time.Second)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	read := func(ctx context.Context) Fleet { return readFleet(ctx, o.FleetOptions) }
	srv := &http.Server{Handler: fleet.Handler(read, refresh, ln.Addr().String(), o.Hosts...), ReadHeaderTimeout: 10 * time.Second}
	if o.Listening != nil {
		o.Listening("http://" + ln.Addr().String() + "/")
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the fleet page: %w", err)
	}
	return nil
}
