package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
// or nil without one. It runs before anything is pushed, so a missing key
// or password variable, or a file that is no key, leaves no unsigned image
// behind. The key's decryption (scrypt, a few hundred milliseconds on
// purpose) and, with attest: [sbom], the scan of the build's layers then
// run in the background, beside the image's upload: a wrong password is
// reported once the blobs are up, before any tag is written.
func loadSigner(p *config.Project) (sign.Signer, error) {
	s, err := startSigner(p)
	if err != nil || s == nil {
		return nil, err
	}
	if slices.Contains(p.Signing.Attest, "sbom") {
		if rec, err := image.ReadRecord(outputDir(p)); err == nil {
			go func() { _, _ = scanLayersOnce(filepath.Join(outputDir(p), image.LayoutDir), rec) }()
		}
	}
	return s, nil
}

// startSigner checks the signing key and its password variable and starts
// decrypting the key; nil without a signing section.
func startSigner(p *config.Project) (sign.Signer, error) {
	if p.Signing == nil {
		return nil, nil
	}
	key, err := sign.ReadKey(p.Signing.Key, p.Dir, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("loading the signing key: %w", err)
	}
	pw, err := sign.Password(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("loading the signing key %s: %w", p.Signing.Key, err)
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

// scans memoizes image.Contents by layout directory and build digest, so that
// the scan loadSigner starts is the one attestPushed uses.
var scans sync.Map // string -> *layerScan

type layerScan struct {
	once   sync.Once
	layers []image.LayerContents
	err    error
}

// scanLayersOnce is image.Contents, run once per layout and build.
func scanLayersOnce(dir string, rec image.Record) ([]image.LayerContents, error) {
	v, _ := scans.LoadOrStore(dir+"\x00"+rec.Digest, &layerScan{})
	s := v.(*layerScan)
	s.once.Do(func() { s.layers, s.err = image.Contents(dir, rec) })
	return s.layers, s.err
}

// signAndAttest signs the pushed image res.Reference and writes the
// attestations signing.attest lists, side by side: the signature and the
// attestations are images of their own (sha256-HEX.sig and .att), so
// neither waits for the other's requests.
func signAndAttest(ctx context.Context, p *config.Project, client *registry.Client, s sign.Signer, res *image.PushResult, rep progress.Reporter) error {
	if err := keyReady(s); err != nil {
		return err
	}
	if len(p.Signing.Attest) == 0 {
		return signPushed(ctx, client, s, res, rep)
	}
	rec, err := image.ReadRecord(outputDir(p))
	if err != nil {
		return err
	}
	// Each works on a copy of the result; the fields they set are merged.
	signed, attested := *res, *res
	var g errgroup.Group
	g.Go(func() error { return signPushed(ctx, client, s, &signed, rep) })
	g.Go(func() error {
		return attestPushed(ctx, client, s, p.Signing.Attest, outputDir(p), rec, &attested, rep)
	})
	err = g.Wait()
	res.Signature, res.Attestations = signed.Signature, attested.Attestations
	res.UpToDate = signed.UpToDate && attested.UpToDate
	return err
}

// signPushed signs the pushed image res.Reference and records the
// signature's tag in res.
func signPushed(ctx context.Context, client *registry.Client, s sign.Signer, res *image.PushResult, rep progress.Reporter) error {
	if err := keyReady(s); err != nil {
		return err
	}
	ref, err := name.NewDigest(res.Reference, client.NameOptions()...)
	if err != nil {
		return fmt.Errorf("signing %s: %w", res.Reference, err)
	}
	sr, err := sign.Image(ctx, ref, s, client.RemoteOptions(ctx))
	if err != nil {
		return client.Classify(err, "target")
	}
	res.Signature = sr.Tag
	if sr.UpToDate {
		rep.Report(progress.Event{Kind: progress.Skip, Step: "push", Msg: "already signed: " + sr.Tag})
	} else {
		res.UpToDate = false // the image was there; its signature is new
		rep.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: "signed " + res.Reference + " as " + sr.Tag})
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
		return client.Classify(err, "source")
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
			return client.Classify(err, "source")
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
		return client.Classify(err, "source")
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
