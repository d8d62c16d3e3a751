package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"golang.org/x/sync/errgroup"

	"github.com/slipwayhq/slipway/internal/registry"
)

// The two names of cosign's signature format that sigstore's light
// packages do not export (cosign's pkg/types and pkg/oci/static hold them,
// but importing pkg/oci pulls in the transparency log client).
const (
	// SimpleSigningMediaType is the media type of a signature layer: the
	// signed payload, a "cosign container image signature" JSON document.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds a layer's base64 signature of its payload.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
)

// maxPayload bounds a signature payload read from a registry; cosign's
// own payloads are a few hundred bytes.
const maxPayload = 1 << 20

// ErrUnverified is matched by an *UnverifiedError.
var ErrUnverified = errors.New("no valid signature")

// UnverifiedError says an image has no signature that the given key
// verifies for its digest.
type UnverifiedError struct {
	Ref    string // REPO@sha256:...
	Reason string // what was found instead
}

func (e *UnverifiedError) Error() string {
	return fmt.Sprintf("%s has no valid signature by the configured key: %s", e.Ref, e.Reason)
}

// Is makes errors.Is(err, ErrUnverified) true.
func (e *UnverifiedError) Is(target error) bool { return target == ErrUnverified }

// SignatureTag is the tag cosign keeps an image's signatures under in the
// image's repository: sha256-HEX.sig.
func SignatureTag(ref name.Digest) (name.Tag, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return name.Tag{}, fmt.Errorf("naming the signature of %s: %w", ref, err)
	}
	return ref.Context().Tag(h.Algorithm + "-" + h.Hex + ".sig"), nil
}

// Payload is the document a signature of ref signs: cosign's simple
// signing JSON naming the repository and the manifest digest.
func Payload(ref name.Digest) ([]byte, error) {
	b, err := payload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("making the signature payload of %s: %w", ref, err)
	}
	return b, nil
}

// SignResult is what Image did.
type SignResult struct {
	// Tag is the signature's tag, REPO:sha256-HEX.sig.
	Tag string `json:"tag"`
	// UpToDate is true when the image already had a signature by this key.
	UpToDate bool `json:"upToDate"`
}

// Image signs the image ref (REPO@sha256:...) with s and stores the
// signature where cosign looks for it: a layer of the image tagged
// sha256-HEX.sig in the same repository, beside any signatures already
// there. A signature by the same key for the same digest makes it a
// no-op, so pushing again adds nothing. It is PrepareSignature, then
// Commit.
func Image(ctx context.Context, ref name.Digest, s Signer, opts []remote.Option) (SignResult, error) {
	p, err := PrepareSignature(ctx, ref, s, opts)
	if err != nil {
		return SignResult{}, err
	}
	err = p.Commit(ctx)
	return p.Result(), err
}

// PrepareSignature does all Image does but write: it reads the signatures
// already under the tag and signs ref beside them. Upload then writes the
// new blobs and Commit the tag, so that a push can sign while its image
// uploads, and tag the signature only once the image is tagged.
func PrepareSignature(ctx context.Context, ref name.Digest, s Signer, opts []remote.Option) (*Prepared, error) {
	tag, err := SignatureTag(ref)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Tag: tag, redo: func(ctx context.Context) (*Prepared, error) { return PrepareSignature(ctx, ref, s, opts) }}
	if err := p.connect(ctx, opts); err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	// Read first: a key still being decrypted is waited for after.
	base, err := p.read()
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	pub, err := s.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("signing %s: reading the public key: %w", ref, err)
	}
	own, err := loadVerifierFromKey(pub)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	if base == nil {
		base = emptySignatures()
	} else if n, _ := check(base, ref, own); n.valid > 0 {
		return p, nil
	}
	pl, err := Payload(ref)
	if err != nil {
		return nil, err
	}
	sig, err := s.SignMessage(bytes.NewReader(pl))
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	layer := static.NewLayer(pl, SimpleSigningMediaType)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:       layer,
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	p.img, p.added = img, []v1.Layer{layer}
	return p, nil
}

// emptySignatures is the signature image with no layer yet, as cosign
// makes it.
func emptySignatures() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// Prepared is a signature or attestation image made from what its tag
// held when read, for Upload to write the blobs of and Commit to tag.
type Prepared struct {
	// Tag is where the image goes: REPO:sha256-HEX.sig or .att.
	Tag      name.Tag
	seen     v1.Hash  // what Tag pointed at when read; zero when nothing
	img      v1.Image // nil when there is nothing to add
	added    []v1.Layer
	uploaded bool
	opts     []remote.Option // the registry connection, reused
	// each says, of attestations, which statements were there already.
	each []bool
	// redo prepares again, from what Tag then holds.
	redo func(context.Context) (*Prepared, error)
}

// UpToDate reports whether Tag already held what was to be added.
func (p *Prepared) UpToDate() bool { return p.img == nil }

// Each says, of prepared attestations, which of the statements were there
// already, in the order given; after Commit, as found by its last read.
func (p *Prepared) Each() []bool { return p.each }

// Result is what the commit of p does, or did.
func (p *Prepared) Result() SignResult {
	return SignResult{Tag: p.Tag.String(), UpToDate: p.UpToDate()}
}

// maxRedo bounds how often Commit prepares again because another writer
// moved the tag meanwhile.
const maxRedo = 3

// Commit points p.Tag at the prepared image. Registries have no
// conditional tag write, so Commit looks at the tag just before and just
// after writing it: when it has moved since it was read, or another write
// replaced this one, another run signed the same digest meanwhile, and
// Commit prepares again from what the tag then holds, keeping both
// signatures, up to maxRedo times. This narrows the race without closing
// it: another run whose write lands between this one's write and its look
// after replaces it unseen, and the next push signs again.
func (p *Prepared) Commit(ctx context.Context) error {
	for i := 0; ; i++ {
		if p.img == nil {
			return nil
		}
		opts := append(slices.Clip(p.opts), remote.WithContext(ctx))
		got, err := p.head(opts)
		if err != nil {
			return err
		}
		if got == p.seen {
			if err := p.Upload(ctx); err != nil {
				return err
			}
			if err := remote.Tag(p.Tag, p.img, opts...); err != nil {
				return fmt.Errorf("writing %s: %w", p.Tag, err)
			}
			mine, err := p.img.Digest()
			if err != nil {
				return fmt.Errorf("writing %s: %w", p.Tag, err)
			}
			if got, err = p.head(opts); err != nil || got == mine {
				return nil // written; a look after that fails proves nothing
			}
		}
		if i == maxRedo {
			return fmt.Errorf("writing %s: another writer changed it %d times while this one wrote", p.Tag, maxRedo+1)
		}
		np, err := p.redo(ctx)
		if err != nil {
			return err
		}
		*p = *np
	}
}

// connect sets up p's requests to the registry: one connection and one
// authentication for the reads and one for the writes, made by the first
// of each, so that Upload and Commit, which a push waits for, ask nothing
// but what they need.
func (p *Prepared) connect(ctx context.Context, opts []remote.Option) error {
	opts = append(slices.Clip(opts), remote.WithContext(ctx))
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return err
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	p.opts = append(opts, remote.Reuse(puller), remote.Reuse(pusher))
	return nil
}

// head is the digest p.Tag points at, the zero hash when there is none.
func (p *Prepared) head(opts []remote.Option) (v1.Hash, error) {
	d, err := remote.Head(p.Tag, opts...)
	switch {
	case isNotFound(err):
		return v1.Hash{}, nil
	case err != nil:
		return v1.Hash{}, fmt.Errorf("writing %s: %w", p.Tag, err)
	}
	return d.Digest, nil
}

// read fetches the image at p.Tag, or nil when there is none, and notes
// its digest.
func (p *Prepared) read() (v1.Image, error) {
	img, err := signatures(p.Tag, p.opts)
	if err != nil || img == nil {
		return nil, err
	}
	if p.seen, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.Tag, err)
	}
	// Its config is read to add a signature: refuse one the registry
	// declares beyond the bound before fetching it.
	m, err := img.Manifest()
	if err == nil {
		err = registry.CheckConfig(m)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.Tag, err)
	}
	return img, nil
}

// Upload writes the blobs the prepared image adds (its new layers and its
// config) to p.Tag's repository, so that Commit has only the manifest to
// write. Nothing names them until then. It is a no-op the second time.
func (p *Prepared) Upload(ctx context.Context) error {
	if p.img == nil || p.uploaded {
		return nil
	}
	opts := append(slices.Clip(p.opts), remote.WithContext(ctx))
	raw, err := p.img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("writing %s: %w", p.Tag, err)
	}
	blobs := append([]v1.Layer{static.NewLayer(raw, types.OCIConfigJSON)}, p.added...)
	var g errgroup.Group
	for _, l := range blobs {
		g.Go(func() error { return remote.WriteLayer(p.Tag.Context(), l, opts...) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("writing %s: %w", p.Tag, err)
	}
	p.uploaded = true
	return nil
}

// Verify checks that ref (REPO@sha256:...) has a signature in its
// repository that v verifies and whose payload names ref's digest. A
// missing signature, one by another key, or one for another digest is an
// *UnverifiedError; a registry that cannot be read is another error.
func Verify(ctx context.Context, ref name.Digest, v Verifier, opts []remote.Option) error {
	tag, err := SignatureTag(ref)
	if err != nil {
		return err
	}
	img, err := signatures(tag, append(opts, remote.WithContext(ctx)))
	if err != nil {
		return fmt.Errorf("verifying %s: %w", ref, err)
	}
	if img == nil {
		return &UnverifiedError{Ref: ref.String(), Reason: "it is not signed (no " + tag.TagStr() + " in its repository)"}
	}
	n, err := check(img, ref, v)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", ref, err)
	}
	switch {
	case n.valid > 0:
		return nil
	case n.otherDigest > 0:
		return &UnverifiedError{Ref: ref.String(), Reason: fmt.Sprintf("%d signature(s) by the key name another digest", n.otherDigest)}
	default:
		return &UnverifiedError{Ref: ref.String(), Reason: fmt.Sprintf("%d signature(s), none made by this key", n.total)}
	}
}

// signatures fetches the signature image at tag, or nil when there is none.
func signatures(tag name.Tag, opts []remote.Option) (v1.Image, error) {
	img, err := remote.Image(tag, opts...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading signatures %s: %w", tag, err)
	}
	return img, nil
}

// isNotFound reports whether err is the registry answering 404.
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// Bounds of the layers of one signature or attestation manifest that are
// looked at: a registry lists them, each read up to maxPayload, and a
// manifest of registry.MaxDocumentSize could list tens of thousands, or
// one layer thousands of times.
const (
	maxSigLayers = 256
	maxSigBytes  = 16 << 20
)

// layerReads bounds the layers of one manifest looked at (maxSigLayers)
// and the bytes of their payloads read (maxSigBytes), each read once.
type layerReads struct {
	layers int
	bytes  int
	read   map[v1.Hash][]byte
}

// layer counts one more layer looked at, failing past maxSigLayers.
func (r *layerReads) layer() error {
	if r.layers++; r.layers > maxSigLayers {
		return &registry.BoundError{What: fmt.Sprintf("the signature manifest lists more than %d layers", maxSigLayers),
			Bound: fmt.Sprintf("%d layers of a signature manifest", maxSigLayers)}
	}
	return nil
}

// payload is the payload of img's layer h, read once, failing past
// maxSigBytes in all.
func (r *layerReads) payload(img v1.Image, h v1.Hash) ([]byte, error) {
	if b, ok := r.read[h]; ok {
		return b, nil
	}
	b, err := readPayload(img, h)
	if err != nil {
		return nil, err
	}
	if r.bytes += len(b); r.bytes > maxSigBytes {
		return nil, &registry.BoundError{What: fmt.Sprintf("the layers of the signature manifest are more than %d MiB", maxSigBytes>>20),
			Bound: fmt.Sprintf("%d MiB of a signature manifest's layers", maxSigBytes>>20)}
	}
	if r.read == nil {
		r.read = map[v1.Hash][]byte{}
	}
	r.read[h] = b
	return b, nil
}

// counts tallies the signatures of a signature image.
type counts struct {
	total       int // simple signing layers
	valid       int // verified, for the digest
	otherDigest int // verified, for another digest
}

// check verifies each signature layer of img against v and ref's digest.
func check(img v1.Image, ref name.Digest, v Verifier) (counts, error) {
	var n counts
	m, err := img.Manifest()
	if err != nil {
		return n, fmt.Errorf("reading signature manifest: %w", err)
	}
	var reads layerReads
	for _, d := range m.Layers {
		if d.MediaType != SimpleSigningMediaType {
			continue
		}
		if err := reads.layer(); err != nil {
			return n, fmt.Errorf("reading the signatures of %s: %w", ref, err)
		}
		n.total++
		sig, err := base64.StdEncoding.DecodeString(d.Annotations[SignatureAnnotation])
		if err != nil || len(sig) == 0 {
			continue
		}
		pl, err := reads.payload(img, d.Digest)
		if err != nil {
			return n, fmt.Errorf("reading signature layer %s: %w", d.Digest, err)
		}
		if v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pl)) != nil {
			continue
		}
		var doc payload.SimpleContainerImage
		if json.Unmarshal(pl, &doc) != nil || doc.Critical.Type != payload.CosignSignatureType {
			continue
		}
		if doc.Critical.Image.DockerManifestDigest == ref.DigestStr() {
			n.valid++
		} else {
			n.otherDigest++
		}
	}
	return n, nil
}

// readPayload reads img's layer digest, a signature's or attestation's
// payload, refusing one over maxPayload bytes.
func readPayload(img v1.Image, digest v1.Hash) ([]byte, error) {
	l, err := img.LayerByDigest(digest)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxPayload+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPayload {
		return nil, fmt.Errorf("payload larger than %d bytes", maxPayload)
	}
	return b, nil
}
