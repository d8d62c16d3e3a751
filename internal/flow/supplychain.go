package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/sign"
	"github.com/slipwayhq/slipway/promote"
)

// loadSigner returns the signer slipway.yaml's signing section asks for,
// or nil without one. It checks the key and its password variable before
// anything is pushed, so a missing key or password variable, or a file
// that is no key, leaves no unsigned image behind; the key's decryption
// (scrypt, a few hundred milliseconds on purpose) then runs in the
// background.
func loadSigner(p *config.Project) (sign.Signer, error) {
	if p.Signing == nil {
		return nil, nil
	}
	key, pw, err := sign.ReadPrivateKey(p.Signing.Key, p.Dir, os.LookupEnv)
	switch {
	case errors.Is(err, sign.ErrNoPassword):
		return nil, fmt.Errorf("loading the signing key %s: %w", p.Signing.Key, err)
	case err != nil:
		return nil, fmt.Errorf("loading the signing key: %w", err)
	}
	wrap := func(err error) error { return fmt.Errorf("loading the signing key %s: %w", p.Signing.Key, err) }
	s, err := sign.StartSigner(key, pw, wrap)
	if err != nil {
		return nil, wrap(err)
	}
	return s, nil
}

// keyReady waits for a signer started by loadSigner, and returns why its
// key could not be decrypted.
func keyReady(s sign.Signer) error {
	if pd, ok := s.(*sign.Pending); ok {
		_, err := pd.Wait()
		return err
	}
	return nil
}

// pushSigning is the signature and the attestations of one push. They
// are made while the image uploads (the key decrypted, what the tags hold
// read, the statements made and signed), their blobs upload while the
// push's version tag settles, and their tags are written once it stands:
// a signed push takes little longer than a plain one, and a push whose
// signing fails stops before any tag.
type pushSigning struct {
	client     *registry.Client
	kinds      []string
	ref        name.Digest   // the image as it will be pushed
	signed     chan struct{} // closed once made and signed, with err
	upload     chan struct{} // closed when the blobs may go up
	uploadOnce sync.Once
	tagOnce    sync.Once
	tagged     chan error    // the tags' writing, once started
	done       chan struct{} // closed once the blobs are up too
	err        error
	sig, att   *sign.Prepared // att is nil without attestations
}

// startSigning starts preparing the signature of the build about to be
// pushed with client, and the attestations p.Signing.Attest lists.
func startSigning(ctx context.Context, p *config.Project, rec image.Record, client *registry.Client, s sign.Signer) *pushSigning {
	ps := &pushSigning{client: client, kinds: p.Signing.Attest,
		signed: make(chan struct{}), upload: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ps.done)
		ps.err = ps.prepare(ctx, p, rec, s)
		close(ps.signed)
		if ps.err != nil {
			return
		}
		select {
		case <-ps.upload:
			ps.uploadBlobs(ctx)
		case <-ctx.Done():
		}
	}()
	return ps
}

// uploadBlobs writes the new blobs of the signature and attestation
// images. A failure here is not reported: commit uploads again what is
// missing, and says why that failed.
func (ps *pushSigning) uploadBlobs(ctx context.Context) {
	var wg sync.WaitGroup
	for _, pr := range []*sign.Prepared{ps.sig, ps.att} {
		if pr != nil {
			wg.Go(func() { _ = pr.Upload(ctx) })
		}
	}
	wg.Wait()
}

// startUpload lets the blobs go up: while the push waits after its
// version tag, or else when it is done, so that they never slow its own
// requests.
func (ps *pushSigning) startUpload() { ps.uploadOnce.Do(func() { close(ps.upload) }) }

// prepare makes the statements from the build record rec, reads what the
// signature and attestation tags hold, and signs beside it.
func (ps *pushSigning) prepare(ctx context.Context, p *config.Project, rec image.Record, s sign.Signer) error {
	repo, err := ps.client.Repo(cmp.Or(p.App, rec.App))
	if err != nil {
		return err
	}
	ps.ref = repo.Digest(rec.Digest)
	preds, err := predicates(ps.kinds, rec, ps.ref, outputDir(p))
	if err != nil {
		return err
	}
	var g errgroup.Group
	g.Go(func() (err error) {
		ps.sig, err = sign.PrepareSignature(ctx, ps.ref, s, ps.client.RemoteOptions(ctx))
		return ps.classify(err)
	})
	if len(preds) > 0 {
		g.Go(func() (err error) {
			ps.att, _, err = sign.PrepareAttestations(ctx, ps.ref, s, preds, ps.client.RemoteOptions(ctx))
			return ps.classify(err)
		})
	}
	err = g.Wait()
	if kerr := keyReady(s); kerr != nil {
		return kerr // the reason, rather than what failed for want of the key
	}
	return err
}

// ready waits until the signature and attestations are made and signed,
// and returns why they could not be. The push waits for it before its
// first tag: a wrong password, or a statement that cannot be made, leaves
// no tag.
func (ps *pushSigning) ready() error {
	<-ps.signed
	return ps.err
}

// classify says what a registry failure means, and what to do.
func (ps *pushSigning) classify(err error) error {
	if err == nil {
		return nil
	}
	return ps.client.Classify(err, registry.SideTarget)
}

// startTags writes the signature and attestation tags in the background,
// once: as soon as the push's version tag stands (image.PushOptions.Settled),
// beside its remaining tags, or else at commit.
func (ps *pushSigning) startTags(ctx context.Context) {
	ps.tagOnce.Do(func() {
		ps.tagged = make(chan error, 1)
		go func() { ps.tagged <- ps.writeTags(ctx) }()
	})
}

func (ps *pushSigning) writeTags(ctx context.Context) error {
	ps.startUpload()
	<-ps.done
	if ps.err != nil {
		return ps.err
	}
	var g errgroup.Group
	g.Go(func() error { return ps.classify(ps.sig.Commit(ctx)) })
	if ps.att != nil {
		g.Go(func() error { return ps.classify(ps.att.Commit(ctx)) })
	}
	return g.Wait()
}

// wait waits, once the push failed and its context for signing was
// cancelled, for the signing to end and for tags being written, if any,
// so that nothing is written after the push returns.
func (ps *pushSigning) wait() {
	ps.tagOnce.Do(func() {}) // none started: none will be
	if ps.tagged != nil {
		ps.tagged <- <-ps.tagged
	}
	<-ps.done
}

// commit tags the signature and attestations of the pushed image res,
// unless that began already, and records them in res.
func (ps *pushSigning) commit(ctx context.Context, res *image.PushResult, rep progress.Reporter) error {
	ps.startTags(ctx)
	if err := <-ps.tagged; err != nil {
		return err
	}
	res.Signature = ps.sig.Tag.String()
	if ps.sig.UpToDate() {
		rep.Report(progress.Event{Kind: progress.Skip, Step: "push", Msg: "already signed: " + res.Signature})
	} else {
		res.UpToDate = false // the image was there; its signature is new
		rep.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: "signed " + res.Reference + " as " + res.Signature})
	}
	if ps.att == nil {
		return nil
	}
	res.Attestations = ps.att.Tag.String()
	for i, k := range ps.kinds {
		if each := ps.att.Each(); i < len(each) && each[i] {
			rep.Report(progress.Event{Kind: progress.Skip, Step: "push", Msg: "already attested: " + k})
		} else {
			res.UpToDate = false
			rep.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: "attested " + k + " as " + res.Attestations})
		}
	}
	return nil
}

// verifyImage refuses, with sign.ErrUnverified, an image ref
// (REPO@sha256:...) without a valid signature by env's verify key, or
// without the attestations env's verify section lists, signed by that key
// and naming the digest; an environment without verify accepts every
// image.
func (r *Runner) verifyImage(ctx context.Context, env config.Environment, ref string, o Options) error {
	if env.Verify == nil {
		return nil
	}
	if err := r.checkImage(ctx, env, ref, o); err != nil {
		return err
	}
	msg := "signature verified with " + env.Verify.Key
	if len(env.Verify.Attestations) > 0 {
		msg += ", and " + strings.Join(env.Verify.Attestations, " and ") + " attestations"
	}
	if env.Verify.PromotedFrom != "" {
		msg += ", promoted from " + env.Verify.PromotedFrom
	}
	progress.Or(o.Progress).Report(progress.Event{Kind: progress.Finish, Step: "deploy", Msg: msg + ": " + ref})
	return nil
}

// checkImage is verifyImage without its report, for an environment with
// a verify section.
func (r *Runner) checkImage(ctx context.Context, env config.Environment, ref string, o Options) error {
	p := r.Project
	key, err := sign.ReadKey(env.Verify.Key, p.Dir, os.LookupEnv)
	if err != nil {
		return fmt.Errorf("verifying the image for %s: %w", env.Name, err)
	}
	v, err := sign.LoadVerifier(key)
	if err != nil {
		return fmt.Errorf("verifying the image for %s with %s: %w", env.Name, env.Verify.Key, err)
	}
	client, err := r.registry(p.RegistryOf(env), o, false)
	if err != nil {
		return err
	}
	d, err := name.NewDigest(ref, client.NameOptions()...)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", ref, err)
	}
	err = sign.Verify(ctx, d, v, client.RemoteOptions(ctx))
	if errors.Is(err, sign.ErrUnverified) {
		return fmt.Errorf("deploying to %s: %w; sign it at push (signing.key in %s) with the private half of %s",
			env.Name, err, config.ProjectFile, env.Verify.Key)
	}
	if err != nil {
		return client.Classify(err, registry.SideSource)
	}
	for _, k := range env.Verify.Attestations {
		pt, err := predicateTypeOf(k)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", ref, err)
		}
		_, err = sign.VerifyAttestation(ctx, d, v, pt, client.RemoteOptions(ctx))
		if errors.Is(err, sign.ErrUnverified) {
			return fmt.Errorf("deploying to %s: %w; add %s to signing.attest in %s and push again",
				env.Name, err, k, config.ProjectFile)
		}
		if err != nil {
			return client.Classify(err, registry.SideSource)
		}
	}
	if env.Verify.PromotedFrom != "" {
		return verifyPromotedFrom(ctx, p, env, d, v, client)
	}
	return nil
}

// verifyPromotedFrom refuses, with sign.ErrUnverified, a digest d without
// a promotion attestation signed by v that says it was promoted into env's
// registry from the environment env.Verify.PromotedFrom: one naming that
// environment, or naming its registry when the promotion named registries.
func verifyPromotedFrom(ctx context.Context, p *config.Project, env config.Environment, d name.Digest, v sign.Verifier, client *registry.Client) error {
	from := env.Verify.PromotedFrom
	src, _ := p.Environments.Get(from)
	srcReg, dstReg := p.RegistryOf(src).Name, p.RegistryOf(env).Name
	sts, err := sign.VerifyAttestation(ctx, d, v, promote.PredicateType, client.RemoteOptions(ctx))
	if errors.Is(err, sign.ErrUnverified) {
		return remedy.With(fmt.Errorf("deploying to %s: %w", env.Name, err),
			remedy.Remedy{Kind: remedy.SignPromotion, Env: from, File: config.ProjectFile})
	}
	if err != nil {
		return client.Classify(err, registry.SideSource)
	}
	var seen []string
	for _, st := range sts {
		pr, err := promote.ParsePredicate(st.PredicateType, st.Predicate)
		if err != nil || pr.Digest != d.DigestStr() || pr.To.Registry != dstReg {
			continue
		}
		if pr.From.Environment == from || (pr.From.Environment == "" && pr.From.Registry == srcReg) {
			return nil
		}
		seen = append(seen, cmp.Or(pr.From.Environment, pr.From.Registry)+" ("+pr.From.Registry+")")
	}
	reason := fmt.Sprintf("no promotion attestation by this key says it came to %s from %s (registry %s)", dstReg, from, srcReg)
	if len(seen) > 0 {
		reason += "; they name " + strings.Join(seen, ", ")
	}
	return fmt.Errorf("deploying to %s: %w", env.Name, &sign.UnverifiedError{Ref: d.String(), Reason: reason})
}
