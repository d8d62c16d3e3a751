package flow

import (
	"context"
	"errors"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/fleet"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
	"github.com/slipwayhq/slipway/internal/termtext"
	"github.com/slipwayhq/slipway/promote"
)

// Bounds of reading the registries of a fleet: images read at once, and
// the time one image's reads may take.
const (
	fleetRegistryJobs    = 8
	fleetRegistryTimeout = 10 * time.Second
)

// fleetImage is one image a fleet runs, as its registry is asked about
// it: a repository, a digest and the version its tag should point at.
type fleetImage struct{ repo, digest, version string }

// readRegistries asks the registry of every image the rows run what it
// says of it (see fleet.RegistryState), each distinct image once, a few
// at once, each within fleetRegistryTimeout; a registry that cannot be
// read says so in its rows and holds up nothing else. With v, signatures
// are verified with it.
func readRegistries(ctx context.Context, rows []fleet.Row, v sign.Verifier, userAgent string) {
	index := map[fleetImage]int{}
	var images []fleetImage
	for _, r := range rows {
		if im, ok := imageOf(r); ok {
			if _, seen := index[im]; !seen {
				index[im] = len(images)
				images = append(images, im)
			}
		}
	}
	// Each worker writes its own element: no map is shared.
	states := make([]*fleet.RegistryState, len(images))
	jobs := make(chan struct{}, fleetRegistryJobs)
	var wg sync.WaitGroup
	for i, im := range images {
		wg.Add(1)
		jobs <- struct{}{}
		go func() {
			defer func() { <-jobs; wg.Done() }()
			states[i] = askRegistry(ctx, im, v, userAgent)
		}()
	}
	wg.Wait()
	for i := range rows {
		if im, ok := imageOf(rows[i]); ok {
			rows[i].Registry = states[index[im]]
		} else if rows[i].Image != "" {
			rows[i].Registry = &fleet.RegistryState{Signature: fleet.SigUnknown, Error: "not asked: the pod runs an image by tag, not by digest"}
		}
	}
}

// imageOf is the image row r runs: what the pod template runs, when it is
// a reference by digest.
func imageOf(r fleet.Row) (fleetImage, bool) {
	ref := r.Image
	if !strings.Contains(ref, "@sha256:") {
		return fleetImage{}, false
	}
	repo, digest, _ := strings.Cut(ref, "@")
	return fleetImage{repo: repo, digest: digest, version: r.Version}, true
}

// askRegistry reads what im's registry says of it.
func askRegistry(ctx context.Context, im fleetImage, v sign.Verifier, userAgent string) *fleet.RegistryState {
	ctx, cancel := context.WithTimeout(ctx, fleetRegistryTimeout)
	defer cancel()
	st := &fleet.RegistryState{Signature: fleet.SigUnknown}
	ref, err := name.NewRepository(im.repo)
	if err != nil {
		st.Error = rowError(err)
		return st
	}
	host := ref.RegistryStr()
	dir, app := path.Split(ref.RepositoryStr())
	url := host
	if dir != "" {
		url += "/" + strings.TrimSuffix(dir, "/")
	}
	c, err := registry.New(registry.Options{Registry: config.Registry{URL: url, Insecure: fleet.IsLoopback(host)}, UserAgent: userAgent})
	if err != nil {
		st.Error = rowError(err)
		return st
	}
	h, err := v1.NewHash(im.digest)
	if err != nil {
		st.Error = rowError(err)
		return st
	}
	repo, err := c.Repo(app)
	if err != nil {
		st.Error = rowError(err)
		return st
	}
	var errs []error
	st.Signature, st.SignatureProblem, err = signatureOf(ctx, c, repo.Digest(im.digest), v)
	errs = append(errs, err)
	st.Promotion, err = newestPromotion(ctx, c, app, h)
	errs = append(errs, err)
	if im.version != "" {
		got, err := c.Resolve(ctx, app, registry.VersionTag(im.version))
		switch {
		case errors.Is(err, registry.ErrNotFound):
			st.TagDrift = true
		case err != nil:
			errs = append(errs, err)
		default:
			st.TagDigest, st.TagDrift = got.String(), got != h
		}
	}
	if err := errors.Join(errs...); err != nil {
		st.Error = rowError(err)
	}
	return st
}

// signatureOf says whether d has a cosign signature: with v, whether one
// verifies with it; without, whether its signature tag exists.
func signatureOf(ctx context.Context, c *registry.Client, d name.Digest, v sign.Verifier) (state, problem string, err error) {
	if v != nil {
		err := sign.Verify(ctx, d, v, c.RemoteOptions(ctx))
		var ue *sign.UnverifiedError
		switch {
		case errors.As(err, &ue):
			return fleet.SigUnverified, termtext.Clean(ue.Reason), nil
		case err != nil:
			return fleet.SigUnknown, "", c.Classify(err, registry.SideNone)
		}
		return fleet.SigVerified, "", nil
	}
	t, err := sign.SignatureTag(d)
	if err != nil {
		return fleet.SigUnknown, "", err
	}
	_, err = remote.Head(t, c.RemoteOptions(ctx)...)
	if err == nil {
		return fleet.SigSigned, "", nil
	}
	if err = c.Classify(err, registry.SideNone); errors.Is(err, registry.ErrNotFound) {
		return fleet.SigUnsigned, "", nil
	}
	return fleet.SigUnknown, "", err
}

// newestPromotion is the newest promotion record of digest h of app in
// c, nil when there is none.
func newestPromotion(ctx context.Context, c *registry.Client, app string, h v1.Hash) (*fleet.Promotion, error) {
	recs, err := promote.Records(ctx, c, app, h)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	r := recs[len(recs)-1]
	return &fleet.Promotion{From: termtext.Clean(r.From), Source: termtext.Clean(r.Source), When: r.When, Who: termtext.Clean(r.Who)}, nil
}

// rowError is err's message for a fleet row: one line, cleaned, bounded.
func rowError(err error) string { return termtext.CleanLines(err.Error(), 300) }
