package flow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/fleet"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
	"github.com/slipwayhq/slipway/internal/gitremote"
)

// fleetGitOpsTimeout bounds reading one environment repository, and one
// context's engine objects; fleetGitOpsTotal bounds the whole read, which
// reads fleetGitOpsJobs repositories of a context at once: the
// repositories are named by objects tenants write, and a few pointed at a
// server that never answers must not hold a page for minutes.
const (
	fleetGitOpsTimeout = 20 * time.Second
	fleetGitOpsJobs    = 4
)

var fleetGitOpsTotal = 2 * fleetGitOpsTimeout

// fleetRepo is one branch of an environment repository, read once however
// many rows it holds.
type fleetRepo struct{ url, branch, path string }

// readGitOps fills, for the rows of Deployments that a GitOps engine
// applied (Row.GitOps names its Flux Kustomization or Argo CD
// Application), what the environment repository holds for the app: the
// last commit of APP.yaml under the object's path, with its trailers, and
// what the engine did with that commit. The clusters name the
// repositories (each Kustomization's GitRepository, each Application's
// source); no project is needed. Each repository is read once, within
// fleetGitOpsTimeout, and all within fleetGitOpsTotal; one that cannot be
// read says so in its rows.
//
// The repositories are named by objects others may write (a tenant's
// GitRepository), so only https, ssh and loopback http repositories are
// read, and the git variables' credentials (SLIPWAY_GIT_TOKEN and the
// username and password) go only to gitHosts; the SSH agent and a
// credential helper choose by host themselves.
func readGitOps(ctx context.Context, rows []fleet.Row, dyn func(context string) (dynamic.Interface, error), gitHosts []string) {
	ctx, cancel := context.WithTimeout(ctx, fleetGitOpsTotal)
	defer cancel()
	byContext := map[string][]int{}
	for i, r := range rows {
		if r.GitOps != nil {
			byContext[r.Context] = append(byContext[r.Context], i)
		}
	}
	var wg sync.WaitGroup
	repos := &repoReads{m: map[fleetRepo]*repoRead{}, gitHosts: gitHosts}
	for context, idx := range byContext {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readContextGitOps(ctx, rows, idx, context, dyn, repos)
		}()
	}
	wg.Wait()
}

// repoRead is one repository's read, shared by the rows that need it; mu
// keeps one reader at a time, as reading history may fetch more of it.
type repoRead struct {
	once sync.Once
	repo *gitops.Repo
	err  error
	mu   sync.Mutex
}

// repoReads are the repositories read, by URL, branch and path, and the
// hosts the git variables' credentials may go to.
type repoReads struct {
	mu       sync.Mutex
	m        map[fleetRepo]*repoRead
	gitHosts []string
}

// open opens the repository of key once, however many rows ask.
func (rs *repoReads) open(ctx context.Context, key fleetRepo) (*repoRead, error) {
	if msg := clusterRepoProblem(key.url); msg != "" {
		return nil, errors.New(msg)
	}
	rs.mu.Lock()
	rr, ok := rs.m[key]
	if !ok {
		rr = &repoRead{}
		rs.m[key] = rr
	}
	rs.mu.Unlock()
	rr.once.Do(func() {
		octx, cancel := contextWithTimeout(ctx)
		defer cancel()
		auth := gitremote.Auth{Getenv: scopedGitEnv(key.url, rs.gitHosts)}
		rr.repo, rr.err = gitops.Open(octx, gitops.Options{URL: key.url, Branch: key.branch, Path: strings.TrimPrefix(key.path, "./"), Auth: auth})
	})
	return rr, rr.err
}

// clusterRepoProblem says why a repository a cluster object names is not
// read, "" when it is: only https, ssh (and scp-like) and http to a
// loopback host; never a local path or file:// URL, which would show this
// machine's repositories.
func clusterRepoProblem(raw string) string {
	if scpLike.MatchString(raw) {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return "not read: the object names no remote repository (a local path or file:// URL)"
	case u.Scheme == "https" || u.Scheme == "ssh":
		return ""
	case u.Scheme == "http" && fleet.IsLoopback(u.Host):
		return ""
	}
	return "not read: the object names a " + u.Scheme + ":// repository; only https, ssh and loopback http ones are"
}

// scpLike is git's user@host:path form of an ssh remote.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]`)

// scopedGitEnv reads the environment, but gives the git variables'
// credentials only for a repository on one of hosts (HOST or HOST:PORT).
func scopedGitEnv(raw string, hosts []string) func(string) string {
	host := ""
	if u, err := url.Parse(raw); err == nil {
		host = u.Host
	}
	allowed := host != "" && (slices.Contains(hosts, host) || slices.Contains(hosts, hostOnly(host)))
	return func(k string) string {
		switch k {
		case gitremote.EnvGitToken, gitremote.EnvGitUsername, gitremote.EnvGitPassword:
			if !allowed {
				return ""
			}
		}
		return os.Getenv(k)
	}
}

// hostOnly is HOST of HOST:PORT.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// engineObject is a GitOps engine's object as the fleet reads it: what it
// applies, and how to ask what it did with a commit.
type engineObject struct {
	source engine.Source
	look   func(ctx context.Context, commit string) (engine.Outcome, error)
}

// engineObjects lists the objects of both engines in a cluster, by
// ENGINE NAMESPACE/NAME; an engine whose objects cannot be listed (its
// CRD is not installed) has none, and its error.
func engineObjects(ctx context.Context, client dynamic.Interface, engines map[string]bool) (map[string]engineObject, map[string]error) {
	out, errs := map[string]engineObject{}, map[string]error{}
	lctx, cancel := contextWithTimeout(ctx)
	defer cancel()
	if engines["flux"] {
		f := &engine.Flux{Client: client}
		ks, err := f.List(lctx)
		errs["flux"] = err
		for _, k := range ks {
			out["flux "+k.String()] = engineObject{source: k.Source, look: func(ctx context.Context, c string) (engine.Outcome, error) { return f.Look(ctx, k, c) }}
		}
	}
	if engines["argocd"] {
		a := &engine.ArgoCD{Client: client}
		apps, err := a.List(lctx)
		errs["argocd"] = err
		for _, app := range apps {
			if _, seen := out["argocd "+app.String()]; seen || app.Source.URL == "" {
				continue
			}
			out["argocd "+app.String()] = engineObject{source: app.Source, look: func(ctx context.Context, c string) (engine.Outcome, error) { return a.Look(ctx, app, c) }}
		}
	}
	return out, errs
}

// readContextGitOps is readGitOps for the rows idx of one context.
func readContextGitOps(ctx context.Context, rows []fleet.Row, idx []int, context string, dyn func(string) (dynamic.Interface, error), repos *repoReads) {
	client, err := dyn(context)
	if err != nil {
		for _, i := range idx {
			rows[i].GitOps.Error = rowError(err)
		}
		return
	}
	engines := map[string]bool{}
	for _, i := range idx {
		engines[rows[i].GitOps.Engine] = true
	}
	objs, errs := engineObjects(ctx, client, engines)
	var wg sync.WaitGroup
	jobs := make(chan struct{}, fleetGitOpsJobs)
	for _, i := range idx {
		g := rows[i].GitOps
		obj, ok := objs[g.Engine+" "+g.Object]
		switch {
		case errs[g.Engine] != nil:
			g.Error = rowError(errs[g.Engine])
			continue
		case !ok:
			g.Error = "the object that applied it is gone, or applies no git repository"
			continue
		}
		jobs <- struct{}{}
		wg.Go(func() {
			defer func() { <-jobs }()
			readRowGitOps(ctx, g, obj, rows[i], repos)
		})
	}
	wg.Wait()
}

// readRowGitOps fills g, of row r, from the repository obj applies.
func readRowGitOps(ctx context.Context, g *fleet.GitOpsState, obj engineObject, r fleet.Row, repos *repoReads) {
	g.Repo, g.Branch, g.Path = obj.source.URL, obj.source.Branch, obj.source.Path
	branch := g.Branch
	switch {
	case branch == "HEAD":
		branch = "" // the default branch, taken to be main
	case branch == "" || commitish.MatchString(branch):
		g.Error = "not read: the object applies a tag, a version range or a commit, not a branch"
		return
	}
	rr, err := repos.open(ctx, fleetRepo{url: g.Repo, branch: branch, path: g.Path})
	switch {
	case ctx.Err() != nil:
		g.Error = fmt.Sprintf("not read: the fleet's repositories are read within %s, and this one was not done by then", fleetGitOpsTotal)
		return
	case err != nil:
		g.Error = rowError(err)
		return
	}
	rr.mu.Lock()
	fillGitOps(ctx, g, rr.repo, obj, r)
	rr.mu.Unlock()
}

// fillGitOps fills g from the last commit of r's app file in repo, and
// what the engine's object did with it.
func fillGitOps(ctx context.Context, g *fleet.GitOpsState, repo *gitops.Repo, obj engineObject, r fleet.Row) {
	hctx, cancel := contextWithTimeout(ctx)
	defer cancel()
	hist, err := repo.History(hctx, 1, gitops.AppFile(r.App))
	if err != nil {
		g.Error = rowError(err)
		return
	}
	if len(hist) == 0 {
		return
	}
	h := hist[0]
	t := h.Trailers
	g.Commit, g.Version, g.Digest, g.By, g.When, g.Reason = h.Commit, t.Version, t.Digest, t.By, h.When, t.Reason
	if g.By == "" {
		g.By = h.Author
	}
	out, err := obj.look(hctx, h.Commit)
	if err != nil {
		g.Error = rowError(err)
		return
	}
	g.Outcome, g.Message = outcomeWord(out.State), out.Message
	g.Pending = g.Digest != "" && g.Digest != r.Digest && out.State == engine.Pending
}

// commitish is a revision that names a commit rather than a branch.
var commitish = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// outcomeWord is an engine state as the fleet's schema spells it.
func outcomeWord(s engine.State) string {
	if s == engine.NotPickedUp {
		return "notPickedUp"
	}
	return string(s)
}

// contextWithTimeout bounds one read of the GitOps side.
func contextWithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, fleetGitOpsTimeout)
}

// dynamicOf is the dynamic client of a connected cluster.
func dynamicOf(c *deploy.Cluster) (dynamic.Interface, error) {
	if c == nil || c.Config == nil {
		return nil, errors.New("no cluster configuration to read the GitOps engine's objects with")
	}
	d, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, fmt.Errorf("creating a client for the GitOps engine's objects: %w", err)
	}
	return d, nil
}
