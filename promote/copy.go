package promote

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/slipwayhq/slipway/internal/registry"
)

// copier copies manifests and blobs from a source repository to a target
// repository. It collects what the target lacks in a plan with add, then
// copies it: blobs first (copyBlobs, which several plans may run at once,
// Jobs blobs at a time in all), then manifests, children before parents
// (putManifests); flush does both.
type copier struct {
	from, to  Registry // to counts its requests in Stats, when it can
	records   Registry // the target, uncounted
	src, dst  name.Repository
	srcOpts   []remote.Option
	dstOpts   []remote.Option
	srcPuller *remote.Puller
	dstPuller *remote.Puller
	pusher    *remote.Pusher // uploads the image's blobs through go-containerregistry, counted
	// putter puts every manifest and tag, and uploads the record's blobs
	// (uncounted: they are not the image's). The record's blobs go up
	// while the image's copy, which opens putter's session with the
	// target then (its ping, and token where the registry wants one), so
	// the puts that end a promotion need no session of their own.
	putter *remote.Pusher
	mount  bool // same host: mount blobs instead of copying them
	// blobs reads the source's blobs; it authenticates with the source
	// on first use only, as every blob may be mounted or skipped.
	blobs func() (blobOpener, error)
	// writer uploads blobs to the target in three requests each (nil
	// when the target is not one of Slipway's clients); set up on first
	// use. Once the target refused a blob sent whole (wholeRefused), the
	// rest go as go-containerregistry uploads them.
	writer       func() (*registry.BlobWriter, error)
	wholeRefused atomic.Bool
	// recordWriter is writer for the record's blobs, which the counts
	// of the promotion leave out.
	recordWriter func() (*registry.BlobWriter, error)
	jobs         int
	// slots holds a token per blob being copied, so that plans copied at
	// once stay within jobs together.
	slots chan struct{}
	rep   func(Event)
	meter meter
	// meterMu guards stopMeter, the progress reporter of the blobs being
	// copied, running while it is not nil.
	meterMu   sync.Mutex
	stopMeter func()
	seen      map[v1.Hash]bool // manifests planned or found in the target
	looks     map[v1.Hash]look // manifests looked up ahead (lookAhead), not yet planned
	held      int64            // bytes of the manifests planned (maxManifestBytes)
	listed    map[v1.Hash]bool // subjects whose referrers were copied
	// dstRefs caches the target's referrers of a subject, listed once
	// (under refsMu, as the record and the referrers ask at once).
	refsMu  sync.Mutex
	dstRefs map[v1.Hash][]v1.Descriptor
	// srcTags are the source repository's tags, listed once (when
	// tagsListed) to find cosign's tags without a request each; nil when
	// the source would not list them.
	srcTags    map[string]bool
	tagsListed bool
}

// plan is what a copy writes to the target: blobs, then manifests in the
// order planned (children first).
type plan struct {
	blobs     map[v1.Hash]v1.Descriptor
	manifests []node
}

// blobList returns the planned blobs and forgets them.
func (pl *plan) blobList() []v1.Descriptor {
	blobs := make([]v1.Descriptor, 0, len(pl.blobs))
	for _, b := range pl.blobs {
		blobs = append(blobs, b)
	}
	clear(pl.blobs)
	return blobs
}

// node is a manifest with its raw bytes.
type node struct {
	desc v1.Descriptor
	raw  []byte
}

func newCopier(ctx context.Context, from, to Registry, stats *registry.Stats, src, dst name.Repository, jobs int, rep func(Event)) (*copier, error) {
	counted := withStats(to, stats)
	c := &copier{
		from: from, to: counted, records: to, src: src, dst: dst,
		srcOpts: from.RemoteOptions(ctx),
		dstOpts: counted.RemoteOptions(ctx),
		mount:   from.Host() == to.Host(),
		jobs:    max(jobs, 1),
		slots:   make(chan struct{}, max(jobs, 1)),
		rep:     rep,
		seen:    map[v1.Hash]bool{},
		listed:  map[v1.Hash]bool{},
		dstRefs: map[v1.Hash][]v1.Descriptor{},
	}
	c.blobs = sync.OnceValues(func() (blobOpener, error) { return openBlobs(ctx, from, src) })
	c.writer = sync.OnceValues(func() (*registry.BlobWriter, error) { return openWriter(ctx, counted, dst) })
	c.recordWriter = sync.OnceValues(func() (*registry.BlobWriter, error) { return openWriter(ctx, to, dst) })
	var err error
	if c.srcPuller, err = remote.NewPuller(c.srcOpts...); err != nil {
		return nil, fmt.Errorf("setting up the source registry: %w", err)
	}
	if c.dstPuller, err = remote.NewPuller(c.dstOpts...); err != nil {
		return nil, fmt.Errorf("setting up the target registry: %w", err)
	}
	if c.pusher, err = remote.NewPusher(c.dstOpts...); err != nil {
		return nil, fmt.Errorf("setting up the target registry: %w", err)
	}
	if c.putter, err = remote.NewPusher(to.RemoteOptions(ctx)...); err != nil {
		return nil, fmt.Errorf("setting up the target registry: %w", err)
	}
	return c, nil
}

// sourceError marks an error as the source registry's while it travels
// through a target request, e.g. a failed blob read during an upload.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// srcErr and dstErr name the source or target registry in err.
func (c *copier) srcErr(err error) error { return named(c.from, registry.SideSource, err) }
func (c *copier) dstErr(err error) error { return named(c.to, registry.SideTarget, err) }

// classify names the side an error came from: the source when it is marked
// so, else the target.
func (c *copier) classify(err error) error {
	var se *sourceError
	if errors.As(err, &se) {
		return c.srcErr(err)
	}
	return c.dstErr(err)
}

// ErrCorruptBlob is returned when the bytes read from the source do not
// match the blob's digest, as the target registry found when it checked
// them.
var ErrCorruptBlob = errors.New("the bytes read from the source do not match the blob's digest")

// isDigestInvalid reports whether a registry refused an upload because its
// bytes do not match the digest.
func isDigestInvalid(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.DigestInvalidErrorCode {
			return true
		}
	}
	return false
}

// headSource returns the descriptor of ref in the source, or nil when it
// does not exist.
func (c *copier) headSource(ctx context.Context, ref name.Reference) (*v1.Descriptor, error) {
	d, err := c.srcPuller.Head(ctx, ref)
	if registry.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", ref, c.srcErr(err))
	}
	return d, nil
}

// headTarget returns the digest ref points at in the target, or the zero
// hash when it does not exist.
func (c *copier) headTarget(ctx context.Context, ref name.Reference) (v1.Hash, error) {
	d, err := c.dstPuller.Head(ctx, ref)
	if registry.IsNotFound(err) {
		return v1.Hash{}, nil
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("checking %s: %w", ref, c.dstErr(err))
	}
	return d.Digest, nil
}

// getSource reads the manifest ref names in the source, or returns nil when
// it does not exist. By tag too, the digest is that of the bytes read.
func (c *copier) getSource(ctx context.Context, ref name.Reference) (*node, error) {
	d, err := c.srcPuller.Get(ctx, ref)
	if registry.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, c.srcErr(err))
	}
	return &node{desc: v1.Descriptor{MediaType: d.MediaType, Size: int64(len(d.Manifest)), Digest: digestOf(d.Manifest)}, raw: d.Manifest}, nil
}

// fetch gets a manifest from the source by digest, verified against it.
func (c *copier) fetch(ctx context.Context, h v1.Hash) (node, error) {
	ref := c.src.Digest(h.String())
	d, err := c.srcPuller.Get(ctx, ref)
	if err != nil {
		return node{}, fmt.Errorf("reading %s: %w", ref, c.srcErr(err))
	}
	return node{desc: v1.Descriptor{MediaType: d.MediaType, Size: int64(len(d.Manifest)), Digest: d.Digest}, raw: d.Manifest}, nil
}

// add plans in pl copying the manifest n (fetched when n.raw is nil) and
// everything it refers to that the target lacks. A manifest the target
// has is complete there, since registries accept a manifest only when what
// it refers to is present; with put, it is put again all the same (which
// lets the target's referrers tag be brought up to date). add returns n
// with its raw bytes when it fetched them.
func (c *copier) add(ctx context.Context, pl *plan, n node, put bool) (node, error) {
	return c.addAt(ctx, pl, n, put, 1)
}

// Bounds of what one promotion plans, far above any image's: indexes of
// registry.MaxIndexChildren nested registry.MaxIndexDepth deep, and
// manifests of registry.MaxDocumentSize, could list millions of
// manifests, blobs and bytes, all held until the copy. maxManifests
// bounds the manifests, maxSubjects the subjects whose referrers are
// listed, maxManifestBytes the manifests' bytes held at once, maxBlobs
// the blobs of a plan.
var (
	maxManifests     = 10_000
	maxSubjects      = 10_000
	maxManifestBytes = int64(64 << 20)
	maxBlobs         = 50_000
)

// bytesOf says n bytes in MiB, when whole.
func bytesOf(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// bound is the error of a promotion past one of its bounds, at src's ref.
func (c *copier) bound(ref name.Reference, what, bound string) error {
	return fmt.Errorf("copying %s: %w", ref, c.srcErr(&registry.BoundError{What: what, Bound: bound}))
}

// addAt is add of a manifest depth deep: 1 for one that no index being
// copied lists, 2 for a manifest of such an index. Indexes nested deeper
// than registry.MaxIndexDepth, manifests declared larger than
// registry.MaxDocumentSize and more than maxManifests manifests in all are
// refused (registry.ErrTooLarge).
func (c *copier) addAt(ctx context.Context, pl *plan, n node, put bool, depth int) (node, error) {
	if c.seen[n.desc.Digest] {
		return n, nil
	}
	c.seen[n.desc.Digest] = true
	ref := c.src.Digest(n.desc.Digest.String())
	if len(c.seen) > maxManifests {
		return n, c.bound(ref, fmt.Sprintf("the image and what is attached to it list more than %d manifests", maxManifests),
			fmt.Sprintf("%d manifests in one promotion", maxManifests))
	}
	exists, n, err := c.lookUp(ctx, n, put)
	if err != nil || (exists && !put) {
		return n, err
	}
	if c.held += int64(len(n.raw)); c.held > maxManifestBytes {
		return n, c.bound(ref, fmt.Sprintf("the manifests of the image and what is attached to it are more than %s", bytesOf(maxManifestBytes)),
			fmt.Sprintf("%s of manifests in one promotion", bytesOf(maxManifestBytes)))
	}
	if !exists {
		r, err := references(n.raw, n.desc.MediaType)
		if err != nil {
			return n, fmt.Errorf("copying %s: %w", c.src.Digest(n.desc.Digest.String()), err)
		}
		if len(r.manifests) > 0 {
			if err := registry.CheckIndex(n.desc.Digest, nil, depth); err != nil {
				return n, fmt.Errorf("copying %s: %w", c.src.Digest(n.desc.Digest.String()), c.srcErr(err))
			}
		}
		if err := c.lookAhead(ctx, r.manifests); err != nil {
			return n, err
		}
		for _, m := range r.manifests {
			if _, err := c.addAt(ctx, pl, node{desc: m}, false, depth+1); err != nil {
				return n, err
			}
		}
		if pl.blobs == nil {
			pl.blobs = map[v1.Hash]v1.Descriptor{}
		}
		for _, b := range r.blobs {
			pl.blobs[b.Digest] = b
		}
		if len(pl.blobs) > maxBlobs {
			return n, c.bound(ref, fmt.Sprintf("the image and what is attached to it list more than %d blobs", maxBlobs),
				fmt.Sprintf("%d blobs in one promotion", maxBlobs))
		}
	}
	pl.manifests = append(pl.manifests, n)
	return n, nil
}

// look is what lookUp found of a manifest.
type look struct {
	exists bool
	n      node
}

// lookUp finds whether the target has manifest n and, unless it has it
// and put is false, reads n from the source when its bytes are not known
// (refused unread when declared over registry.MaxDocumentSize). A look
// that lookAhead made (for put false) is taken instead.
func (c *copier) lookUp(ctx context.Context, n node, put bool) (bool, node, error) {
	if l, ok := c.looks[n.desc.Digest]; ok {
		delete(c.looks, n.desc.Digest)
		if !put {
			return l.exists, l.n, nil
		}
	}
	return c.lookUpNow(ctx, n, put)
}

// lookUpNow is lookUp without the looks made ahead; it is safe for
// concurrent use.
//
// When n's bytes are not known, they are read from the source while the
// target answers, not after: most manifests looked up are missing there.
func (c *copier) lookUpNow(ctx context.Context, n node, put bool) (bool, node, error) {
	if n.raw != nil {
		has, err := c.headTarget(ctx, c.dst.Digest(n.desc.Digest.String()))
		return has == n.desc.Digest, n, err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fetched node
	ferr := make(chan error, 1)
	go func() {
		if err := registry.CheckManifestSize(n.desc); err != nil {
			ferr <- fmt.Errorf("copying %s: %w", c.src.Digest(n.desc.Digest.String()), c.srcErr(err))
			return
		}
		var err error
		fetched, err = c.fetch(fctx, n.desc.Digest)
		ferr <- err
	}()
	has, err := c.headTarget(ctx, c.dst.Digest(n.desc.Digest.String()))
	if err != nil {
		return false, n, err
	}
	exists := has == n.desc.Digest
	if exists && !put {
		return exists, n, nil // the read is cancelled, its bytes not needed
	}
	if err := <-ferr; err != nil {
		return exists, n, err
	}
	return exists, fetched, nil
}

// lookAhead looks up (see lookUp) the manifests of an index at once, Jobs
// at a time, for addAt to take: one after the other, each platform's
// manifest would cost two round trips (the target's HEAD, the source's
// GET) on the way to the first blob. Those seen already are left out,
// and so is every one when they would take the promotion past
// maxManifests, where addAt refuses them one by one.
func (c *copier) lookAhead(ctx context.Context, descs []v1.Descriptor) error {
	var declared int64
	for _, d := range descs {
		declared += max(d.Size, 0)
	}
	if len(descs) < 2 || len(c.seen)+len(descs) > maxManifests || c.held+declared > maxManifestBytes {
		return nil
	}
	todo := make([]v1.Descriptor, 0, len(descs))
	listed := make(map[v1.Hash]bool, len(descs))
	for _, d := range descs {
		if _, looked := c.looks[d.Digest]; !looked && !c.seen[d.Digest] && !listed[d.Digest] {
			listed[d.Digest] = true
			todo = append(todo, d)
		}
	}
	looks := make([]look, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.jobs)
	for i, d := range todo {
		g.Go(func() (err error) {
			looks[i].exists, looks[i].n, err = c.lookUpNow(gctx, node{desc: d}, false)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if c.looks == nil {
		c.looks = map[v1.Hash]look{}
	}
	for i, d := range todo {
		c.looks[d.Digest] = looks[i]
	}
	return nil
}

// flush copies the blobs planned in pl, then puts its manifests.
func (c *copier) flush(ctx context.Context, pl *plan) error {
	err := c.copyBlobs(ctx, pl.blobList())
	c.endMeter()
	if err != nil {
		return err
	}
	return c.putManifests(ctx, pl)
}

// putManifests puts the manifests planned in pl by digest, children
// before the indexes that list them, and forgets them. Their blobs must be
// in the target. Manifests next to each other in the plan that need not
// stand alone (see standsAlone), such as the platforms' manifests of an
// index, are put at once, Jobs at a time: one after the other they cost a
// round trip each before the index can follow.
func (c *copier) putManifests(ctx context.Context, pl *plan) error {
	manifests := pl.manifests
	pl.manifests = nil
	put := func(ctx context.Context, n node) error {
		ref := c.dst.Digest(n.desc.Digest.String())
		if err := c.putter.Put(ctx, ref, rawManifest{raw: n.raw, mt: n.desc.MediaType}); err != nil {
			return fmt.Errorf("writing manifest %s: %w", ref, c.dstErr(err))
		}
		return nil
	}
	for len(manifests) > 0 {
		run := 0
		for run < len(manifests) && !standsAlone(manifests[run]) {
			run++
		}
		if run == 0 { // planned after everything before it, and before the rest
			if err := put(ctx, manifests[0]); err != nil {
				return err
			}
			manifests = manifests[1:]
			continue
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(c.jobs)
		for _, n := range manifests[:run] {
			g.Go(func() error { return put(gctx, n) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		manifests = manifests[run:]
	}
	return nil
}

// standsAlone reports whether manifest n must be put with no other put of
// its plan under way: an index or any manifest that lists others, which
// the target refuses until they are in, and a manifest with a subject,
// whose put also rewrites the subject's referrers tag where the registry
// lacks the referrers API (two such puts at once could each drop the
// other's entry). One that cannot be read stands alone too.
func standsAlone(n node) bool {
	if n.desc.MediaType.IsIndex() {
		return true
	}
	var m struct {
		Manifests json.RawMessage `json:"manifests"`
		Subject   json.RawMessage `json:"subject"`
	}
	return json.Unmarshal(n.raw, &m) != nil || m.Manifests != nil || m.Subject != nil
}

// slotsAhead is how many blobs more than Jobs may have their upload
// session open while they wait for a slot to send their bytes.
const slotsAhead = 8

// smallBlob is the size under which a blob goes first: its bytes take no
// time, and at the end it would cost a round of its own.
const smallBlob = 1 << 20

// largestFirst sorts blobs small ones (a config) first, then by size,
// largest first, then by digest.
func largestFirst(blobs []v1.Descriptor) {
	slices.SortFunc(blobs, func(a, b v1.Descriptor) int {
		as, bs := a.Size < smallBlob, b.Size < smallBlob
		switch {
		case as && !bs:
			return -1
		case bs && !as:
			return 1
		}
		return cmp.Or(cmp.Compare(b.Size, a.Size), cmp.Compare(a.Digest.String(), b.Digest.String()))
	})
}

// slots hands out the slots of one copyBlobs: a blob given up (with an
// error) marks the group failed before its slot is free, so that a blob
// that waited for it sends nothing.
type slots struct {
	c      *copier
	failed atomic.Bool
}

// wait waits for a slot to send a blob's bytes in, and returns the
// function that gives it back, told how the blob ended; it fails when ctx
// ends first or another blob of the group failed.
func (s *slots) wait(ctx context.Context) (func(error), error) {
	select {
	case s.c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := cmp.Or(ctx.Err(), s.stopped()); err != nil {
		<-s.c.slots
		return nil, err
	}
	return func(err error) {
		// A blob refused whole goes again the other way: no failure.
		if err != nil && !errors.Is(err, registry.ErrWholeBlobRefused) && !errors.Is(err, errStopped) {
			s.failed.Store(true)
		}
		<-s.c.slots
	}, nil
}

// unslotted is wait for a blob that sends no bytes: it takes no slot,
// and fails only when ctx ended or another blob of the group failed.
func (s *slots) unslotted(ctx context.Context) (func(error), error) {
	if err := cmp.Or(ctx.Err(), s.stopped()); err != nil {
		return nil, err
	}
	return func(err error) {
		if err != nil && !errors.Is(err, errStopped) {
			s.failed.Store(true)
		}
	}, nil
}

// stopped is errStopped once a blob of the group failed.
func (s *slots) stopped() error {
	if s.failed.Load() {
		return errStopped
	}
	return nil
}

// errStopped ends a blob that waited for a slot while another failed; the
// other's error is the one reported.
var errStopped = errors.New("another blob failed")

// whole is wait for a blob sent whole, which gives up when the target has
// refused one meanwhile (registry.ErrWholeBlobRefused): its session,
// opened ahead, is left to expire, and the blob goes the other way.
func (s *slots) whole(ctx context.Context) (func(error), error) {
	release, err := s.wait(ctx)
	if err == nil && s.c.wholeRefused.Load() {
		release(nil)
		return nil, registry.ErrWholeBlobRefused
	}
	return release, err
}

// copyBlobs copies blobs to the target (see copyBlob), largest first, at
// most Jobs at a time together with any other copyBlobs running. It stops
// starting blobs at the first error and returns it, or ctx's error when
// ctx ended first. Progress is reported until endMeter.
func (c *copier) copyBlobs(ctx context.Context, blobs []v1.Descriptor) error {
	if len(blobs) == 0 {
		return nil
	}
	largestFirst(blobs)
	for _, b := range blobs {
		c.meter.total.Add(b.Size)
	}
	c.meter.blobsAll.Add(int64(len(blobs)))
	c.startMeter()
	if !c.mount {
		// The first upload sets up the target's blob writer, then reads
		// from the source's blob reader: each pings its registry (and asks
		// for a token where the registry wants one). Set up the reader
		// meanwhile.
		go func() { _, _ = c.blobs() }()
	}
	// A blob that waited for a slot while another failed does not send
	// its bytes; a ctx that ended is an error even when every started blob
	// finished. The slots bound the blobs whose bytes are on the way; the
	// requests before (HEAD, POST) go ahead of them, up to slotsAhead more.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.jobs + slotsAhead)
	sl := &slots{c: c}
	for _, d := range blobs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return c.copyBlob(gctx, d, sl) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if sl.failed.Load() {
		return errors.New("copying blobs: a blob failed without saying why") // cannot happen: the one that failed returns its error
	}
	return ctx.Err()
}

// startMeter starts reporting the progress of the blobs being copied,
// unless it runs already: one reporter for plans copied at once.
func (c *copier) startMeter() {
	c.meterMu.Lock()
	defer c.meterMu.Unlock()
	if c.stopMeter == nil {
		c.stopMeter = c.meter.run(c.rep, 100*time.Millisecond)
	}
}

// endMeter stops the progress reporter, if it runs, after a last report.
func (c *copier) endMeter() {
	c.meterMu.Lock()
	stop := c.stopMeter
	c.stopMeter = nil
	c.meterMu.Unlock()
	if stop != nil {
		stop()
	}
}

// copyBlob copies blob d to the target: streamed from the source into the
// upload, skipped when the target has it, or mounted when both
// repositories are on the same host.
func (c *copier) copyBlob(ctx context.Context, d v1.Descriptor, sl *slots) error {
	// The bytes are not hashed on the way: the target hashes them as it
	// receives them and refuses the upload if they do not match.
	b := &sourceBlob{desc: d, meter: &c.meter, open: func() (io.ReadCloser, error) {
		br, err := c.blobs()
		if err != nil {
			return nil, err
		}
		return br.Open(ctx, d)
	}}
	if err := c.upload(ctx, b, sl); err != nil {
		if errors.Is(err, errStopped) {
			return nil // the blob that failed says why
		}
		if isDigestInvalid(err) {
			return fmt.Errorf("copying blob %s: %w", d.Digest, c.srcErr(fmt.Errorf(
				"%w, so the target registry refused them (%v); run the promotion again, and if it fails the same way the source's copy is damaged: push the image to the source again", ErrCorruptBlob, err)))
		}
		return fmt.Errorf("copying blob %s: %w", d.Digest, c.classify(err))
	}
	b.done()
	return nil
}

// upload sends b to the target. From another host, Slipway's blob writer
// sends it in three requests (see registry.BlobWriter); on the same host,
// with a registry that is not Slipway's client, or once the target refused
// a blob sent whole, go-containerregistry's upload does, mounting it from
// the source repository on the same host.
func (c *copier) upload(ctx context.Context, b *sourceBlob, sl *slots) (err error) {
	// kept is the slot of a blob refused whole, kept for its second way:
	// no blob waiting for a slot may send its bytes before it.
	var kept func(error)
	if !c.mount && !c.wholeRefused.Load() {
		w, err := c.writer()
		if err != nil {
			return err
		}
		if w != nil {
			gate := func(ctx context.Context) (func(error), error) {
				release, err := sl.whole(ctx)
				if err != nil {
					return nil, err
				}
				return func(err error) {
					if errors.Is(err, registry.ErrWholeBlobRefused) {
						kept = release
						return
					}
					release(err)
				}, nil
			}
			_, err := w.WriteGated(ctx, b.desc, b.Compressed, gate)
			if !errors.Is(err, registry.ErrWholeBlobRefused) {
				return err
			}
			c.wholeRefused.Store(true)
		}
	}
	release := kept
	switch {
	case release != nil:
	case c.mount:
		// A mount carries no bytes (the registry links the blob from the
		// source repository): it takes no slot, and only copyBlobs' bound
		// on blobs under way holds it back, also for a registry that will
		// not mount and takes the bytes after all.
		if release, err = sl.unslotted(ctx); err != nil {
			return err
		}
	default:
		if release, err = sl.wait(ctx); err != nil {
			return err
		}
	}
	defer func() { release(err) }()
	var l v1.Layer = b
	if c.mount {
		l = &remote.MountableLayer{Layer: b, Reference: c.src.Digest(b.desc.Digest.String())}
	}
	return c.pusher.Upload(ctx, c.dst, l)
}

// meter counts blob bytes and blobs done of their totals for progress
// reports.
type meter struct {
	done, total         atomic.Int64
	blobsDone, blobsAll atomic.Int64
}

// run reports progress every interval until the returned function is
// called, which reports once more and waits for the reporter to stop.
func (m *meter) run(rep func(Event), interval time.Duration) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	report := func() {
		rep(Event{Kind: EventCopy, Done: m.done.Load(), Total: m.total.Load(),
			Msg: fmt.Sprintf("%d/%d blobs", m.blobsDone.Load(), m.blobsAll.Load())})
	}
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report()
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
		report()
	}
}

// sourceBlob is a blob of the source registry as a layer to upload: its
// size and media type come from the descriptor (no request), its content
// streams from the source as the upload reads it.
type sourceBlob struct {
	desc  v1.Descriptor
	open  func() (io.ReadCloser, error)
	meter *meter
	read  atomic.Int64 // bytes read by the current attempt
}

var _ v1.Layer = (*sourceBlob)(nil)

var errNotALayer = errors.New("a blob being copied has no uncompressed form")

// Digest implements v1.Layer.
func (b *sourceBlob) Digest() (v1.Hash, error) { return b.desc.Digest, nil }

// DiffID implements v1.Layer; copying does not need it.
func (b *sourceBlob) DiffID() (v1.Hash, error) { return v1.Hash{}, errNotALayer }

// Uncompressed implements v1.Layer; copying does not need it.
func (b *sourceBlob) Uncompressed() (io.ReadCloser, error) { return nil, errNotALayer }

// Size implements v1.Layer.
func (b *sourceBlob) Size() (int64, error) { return b.desc.Size, nil }

// MediaType implements v1.Layer.
func (b *sourceBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

// Compressed opens the blob in the source. Every call starts a new attempt
// (an upload retried from the start).
func (b *sourceBlob) Compressed() (io.ReadCloser, error) {
	b.meter.done.Add(-b.read.Swap(0))
	rc, err := b.open()
	if err != nil {
		return nil, &sourceError{err}
	}
	return &blobReader{rc: rc, b: b}, nil
}

// done counts the whole blob as done, however much was read (none when the
// target had it or mounted it).
func (b *sourceBlob) done() {
	b.meter.done.Add(b.desc.Size - b.read.Swap(b.desc.Size))
	b.meter.blobsDone.Add(1)
}

// blobReader counts what is read and marks read errors as the source's.
type blobReader struct {
	rc io.ReadCloser
	b  *sourceBlob
}

func (r *blobReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.b.read.Add(int64(n))
	r.b.meter.done.Add(int64(n))
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

func (r *blobReader) Close() error { return r.rc.Close() }

// digestOf is the sha256 digest of b.
func digestOf(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}
