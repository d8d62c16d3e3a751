package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/fleet"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
)

// fleetGitOpsTimeout bounds reading one environment repository, and one
// context's engine objects.
const fleetGitOpsTimeout = 20 * time.Second

// fleetRepo is one branch of an environment repository, read once however
// many rows it holds.
type fleetRepo struct{ url, branch, path string }

// readGitOps fills, for the rows of Deployments that Flux applies (their
// Row.GitOps names the Kustomization), what the environment repository
// holds for the app: the last commit of APP.yaml under the Kustomization's
// path, with its trailers, and what Flux did with that commit. The
// clusters name the repositories (each Kustomization's GitRepository); no
// project is needed. Each repository is read once, within
// fleetGitOpsTimeout; one that cannot be read says so in its rows.
func readGitOps(ctx context.Context, rows []fleet.Row, dyn func(context string) (dynamic.Interface, error)) {
	byContext := map[string][]int{}
	for i, r := range rows {
		if r.GitOps != nil && r.GitOps.Engine == "flux" {
			byContext[r.Context] = append(byContext[r.Context], i)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	repos := map[fleetRepo]*repoRead{}
	for context, idx := range byContext {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readContextGitOps(ctx, rows, idx, context, dyn, &mu, repos)
		}()
	}
	wg.Wait()
}

// repoRead is one repository's read, shared by the rows that need it.
type repoRead struct {
	once sync.Once
	repo *gitops.Repo
	err  error
}

// readContextGitOps is readGitOps for the rows idx of one context.
func readContextGitOps(ctx context.Context, rows []fleet.Row, idx []int, context string, dyn func(string) (dynamic.Interface, error), mu *sync.Mutex, repos map[fleetRepo]*repoRead) {
	fail := func(err error) {
		for _, i := range idx {
			rows[i].GitOps.Error = rowError(err)
		}
	}
	client, err := dyn(context)
	if err != nil {
		fail(err)
		return
	}
	f := &engine.Flux{Client: client}
	lctx, cancel := contextWithTimeout(ctx)
	defer cancel()
	all, err := f.List(lctx)
	if err != nil {
		fail(err)
		return
	}
	byName := map[string]engine.Kustomization{}
	for _, k := range all {
		byName[k.String()] = k
	}
	for _, i := range idx {
		g := rows[i].GitOps
		k, ok := byName[g.Object]
		if !ok {
			g.Error = "the Kustomization that applied it is gone, or applies no GitRepository"
			continue
		}
		g.Repo, g.Branch, g.Path = k.Source.URL, k.Source.Branch, k.Source.Path
		mu.Lock()
		key := fleetRepo{url: g.Repo, branch: g.Branch, path: g.Path}
		rr, ok := repos[key]
		if !ok {
			rr = &repoRead{}
			repos[key] = rr
		}
		mu.Unlock()
		rr.once.Do(func() {
			octx, cancel := contextWithTimeout(ctx)
			defer cancel()
			rr.repo, rr.err = gitops.Open(octx, gitops.Options{URL: key.url, Branch: key.branch, Path: strings.TrimPrefix(key.path, "./")})
		})
		if rr.err != nil {
			g.Error = rowError(rr.err)
			continue
		}
		fillGitOps(ctx, g, rr.repo, f, k, rows[i])
	}
}

// fillGitOps fills g from the last commit of r's app file in repo, and
// what Flux's Kustomization k did with it.
func fillGitOps(ctx context.Context, g *fleet.GitOpsState, repo *gitops.Repo, f *engine.Flux, k engine.Kustomization, r fleet.Row) {
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
	out, err := f.Look(hctx, k, h.Commit)
	if err != nil {
		g.Error = rowError(err)
		return
	}
	g.Outcome, g.Message = outcomeWord(out.State), out.Message
	g.Pending = g.Digest != "" && g.Digest != r.Digest && out.State == engine.Pending
}

// outcomeWord is an engine state as the fleet's schema spells it.
func outcomeWord(s engine.State) string {
	if s == engine.NotPickedUp {
		return "notPickedUp"
	}
	return string(s)
}

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
