package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Names of cosign's attestation format: an in-toto statement in a signed
// DSSE envelope, one layer per attestation under the sha256-HEX.att tag.
const (
	// DSSEMediaType is the media type of an attestation layer.
	DSSEMediaType = "application/vnd.dsse.envelope.v1+json"
	// InTotoPayloadType is the envelope's payload type.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// PredicateTypeAnnotation names a layer's predicate type, which
	// `cosign verify-attestation --type` filters on.
	PredicateTypeAnnotation = "predicateType"
	// StatementType is the in-toto statement version written.
	StatementType = intoto.StatementTypeUri
)

// Predicate types Slipway attests.
const (
	// SLSAProvenance is SLSA provenance v1 (cosign --type slsaprovenance1).
	SLSAProvenance = "https://slsa.dev/provenance/v1"
	// SPDX is an SPDX 2.3 JSON document (cosign --type spdxjson).
	SPDX = "https://spdx.dev/Document"
)

// Statement is an in-toto v1 statement, in-toto's own Go type.
type Statement = intoto.Statement

// AttestationTag is the tag cosign keeps an image's attestations under:
// sha256-HEX.att.
func AttestationTag(ref name.Digest) (name.Tag, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return name.Tag{}, fmt.Errorf("naming the attestations of %s: %w", ref, err)
	}
	return ref.Context().Tag(h.Algorithm + "-" + h.Hex + ".att"), nil
}

// statement returns the JSON statement of predicate about ref, checked
// by in-toto's own validation.
func statement(ref name.Digest, predicateType string, predicate any) ([]byte, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	wrap := func(err error) error { return fmt.Errorf("encoding the %s statement: %w", predicateType, err) }
	pred, err := toStruct(predicate)
	if err != nil {
		return nil, wrap(err)
	}
	st := &Statement{
		Type:          StatementType,
		Subject:       []*intoto.ResourceDescriptor{{Name: ref.Context().Name(), Digest: map[string]string{h.Algorithm: h.Hex}}},
		PredicateType: predicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		return nil, wrap(err)
	}
	b, err := CanonicalJSON(st)
	if err != nil {
		return nil, wrap(err)
	}
	return b, nil
}

// toStruct is predicate as a protobuf Struct: a protobuf message (such as
// in-toto's SLSA provenance) through protojson, any other value through
// encoding/json.
func toStruct(predicate any) (*structpb.Struct, error) {
	var b []byte
	var err error
	switch m := predicate.(type) {
	case *structpb.Struct:
		return m, nil
	case proto.Message:
		b, err = protojson.Marshal(m)
	default:
		b, err = json.Marshal(predicate)
	}
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		return nil, err
	}
	return s, nil
}

// CanonicalJSON is m in JSON with its object keys sorted and no spaces.
// protojson's own output varies between runs on purpose; a statement must
// not, so that pushing again finds it already there.
func CanonicalJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// sameJSON reports whether a and b are the same JSON value, however
// written.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// Attest signs an in-toto statement of predicate (of predicateType) about
// ref with s and stores it where cosign looks for attestations: a layer of
// the image tagged sha256-HEX.att, beside those already there. The same
// statement already signed by the same key makes it a no-op; predicate
// must therefore be deterministic (no "now").
func Attest(ctx context.Context, ref name.Digest, s Signer, predicateType string, predicate any, opts []remote.Option) (SignResult, error) {
	res, _, err := AttestAll(ctx, ref, s, []Predicate{{Type: predicateType, Value: predicate}}, opts)
	return res, err
}

// Predicate is a predicate to attest, with its type.
type Predicate struct {
	Type  string
	Value any
}

// AttestAll is Attest for several predicates at once, in one read and at
// most one write of the attestation image: upToDate[i] says whether the
// statement of predicates[i] was there already; res.UpToDate whether all
// were. It is PrepareAttestations, then Commit.
func AttestAll(ctx context.Context, ref name.Digest, s Signer, predicates []Predicate, opts []remote.Option) (res SignResult, upToDate []bool, err error) {
	p, _, err := PrepareAttestations(ctx, ref, s, predicates, opts)
	if err != nil {
		return SignResult{}, nil, err
	}
	err = p.Commit(ctx)
	return p.Result(), p.Each(), err
}

// PrepareAttestations does all AttestAll does but write: it reads the
// attestations already under the tag and signs the statements not there
// yet, for Upload and Commit to write.
func PrepareAttestations(ctx context.Context, ref name.Digest, s Signer, predicates []Predicate, opts []remote.Option) (*Prepared, []bool, error) {
	tag, err := AttestationTag(ref)
	if err != nil {
		return nil, nil, err
	}
	p := &Prepared{Tag: tag}
	p.redo = func(ctx context.Context) (*Prepared, error) {
		again, _, err := PrepareAttestations(ctx, ref, s, predicates, opts)
		return again, err
	}
	stmts := make([][]byte, len(predicates))
	for i, pr := range predicates {
		if stmts[i], err = statement(ref, pr.Type, pr.Value); err != nil {
			return nil, nil, err
		}
	}
	if err := p.connect(ctx, opts); err != nil {
		return nil, nil, fmt.Errorf("attesting %s: %w", ref, err)
	}
	// Read first: a key still being decrypted is waited for after.
	base, err := p.read()
	if err != nil {
		return nil, nil, fmt.Errorf("attesting %s: %w", ref, err)
	}
	upToDate, err := attested(base, s, predicates, stmts)
	if err != nil {
		return nil, nil, fmt.Errorf("attesting %s: %w", ref, err)
	}
	p.each = upToDate
	adds, err := signStatements(s, predicates, stmts, upToDate)
	if err != nil {
		return nil, nil, fmt.Errorf("attesting %s: %w", ref, err)
	}
	if len(adds) == 0 {
		return p, upToDate, nil
	}
	if base == nil {
		base = emptySignatures()
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, nil, fmt.Errorf("attesting %s: %w", ref, err)
	}
	p.img = img
	for _, a := range adds {
		p.added = append(p.added, a.Layer)
	}
	return p, upToDate, nil
}

// attested reports, for each statement (of predicates[i]), whether base,
// the attestation image already there (nil for none), holds it signed by
// s's key.
func attested(base v1.Image, s Signer, predicates []Predicate, stmts [][]byte) ([]bool, error) {
	pub, err := s.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("reading the public key: %w", err)
	}
	own, err := loadVerifierFromKey(pub)
	if err != nil {
		return nil, err
	}
	upToDate := make([]bool, len(predicates))
	if base == nil {
		return upToDate, nil
	}
	for i, pr := range predicates {
		found, err := attestations(base, own, pr.Type)
		if err != nil {
			return nil, err
		}
		upToDate[i] = slices.ContainsFunc(found, func(f []byte) bool { return sameJSON(f, stmts[i]) })
	}
	return upToDate, nil
}

// signStatements signs each statement not already there into a DSSE
// envelope, a layer to add to the attestation image with the annotations
// cosign looks for.
func signStatements(s Signer, predicates []Predicate, stmts [][]byte, upToDate []bool) ([]mutate.Addendum, error) {
	var adds []mutate.Addendum
	for i, pr := range predicates {
		if upToDate[i] {
			continue
		}
		env, err := sigdsse.WrapSigner(s, InTotoPayloadType).SignMessage(bytes.NewReader(stmts[i]))
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{
			Layer:       static.NewLayer(env, DSSEMediaType),
			Annotations: map[string]string{SignatureAnnotation: "", PredicateTypeAnnotation: pr.Type},
		})
	}
	return adds, nil
}

// VerifyAttestation returns the statements of predicateType about ref
// that v verifies, or an *UnverifiedError when there is none.
func VerifyAttestation(ctx context.Context, ref name.Digest, v Verifier, predicateType string, opts []remote.Option) ([]*Statement, error) {
	tag, err := AttestationTag(ref)
	if err != nil {
		return nil, err
	}
	img, err := signatures(tag, append(opts, remote.WithContext(ctx)))
	if err != nil {
		return nil, fmt.Errorf("verifying attestations of %s: %w", ref, err)
	}
	if img == nil {
		return nil, &UnverifiedError{Ref: ref.String(), Reason: "it has no attestations (no " + tag.TagStr() + " in its repository)"}
	}
	found, err := attestations(img, v, predicateType)
	if err != nil {
		return nil, fmt.Errorf("verifying attestations of %s: %w", ref, err)
	}
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	var out []*Statement
	for _, b := range found {
		st := &Statement{}
		// Not st.Validate: cosign attest writes in-toto v0.1 statements,
		// the same but for their _type.
		if (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, st) != nil || st.GetPredicateType() != predicateType {
			continue
		}
		for _, s := range st.GetSubject() {
			if s.GetDigest()[h.Algorithm] == h.Hex {
				out = append(out, st)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, &UnverifiedError{Ref: ref.String(), Reason: fmt.Sprintf("no %s attestation by this key names its digest", predicateType)}
	}
	return out, nil
}

// attestations returns the statements of img's layers of predicateType
// whose envelopes v verifies.
func attestations(img v1.Image, v Verifier, predicateType string) ([][]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading attestation manifest: %w", err)
	}
	dv := sigdsse.WrapVerifier(v)
	var out [][]byte
	var reads layerReads
	for _, d := range m.Layers {
		if d.MediaType != DSSEMediaType || d.Annotations[PredicateTypeAnnotation] != predicateType {
			continue
		}
		if err := reads.layer(); err != nil {
			return nil, fmt.Errorf("reading attestations: %w", err)
		}
		if _, again := reads.read[d.Digest]; again {
			continue // the same envelope: the same statement
		}
		b, err := reads.payload(img, d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading attestation layer %s: %w", d.Digest, err)
		}
		if dv.VerifySignature(bytes.NewReader(b), nil) != nil {
			continue
		}
		var env dsse.Envelope
		if json.Unmarshal(b, &env) != nil || env.PayloadType != InTotoPayloadType {
			continue
		}
		stmt, err := env.DecodeB64Payload()
		if err != nil {
			continue
		}
		out = append(out, stmt)
	}
	return out, nil
}
