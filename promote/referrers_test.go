package promote

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/registry"
)

// referrersIn lists the digests of the referrers of subject in app of c.
func referrersIn(t *testing.T, c *registry.Client, app string, subject v1.Hash) []v1.Hash {
	t.Helper()
	repo, _ := c.Repo(app)
	idx, err := remote.Referrers(repo.Digest(subject.String()), c.RemoteOptions(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, d := range im.Manifests {
		out = append(out, d.Digest)
	}
	return out
}

// fixture is an index promoted from dev to rc, with what a test attaches.
type fixture struct {
	from, to   *registry.Client
	dev, rc    *server
	digest     v1.Hash       // the index
	child      v1.Descriptor // its first platform's manifest
	sig        v1.Hash       // an OCI referrer of the index, attached before
	cosignSig  string        // the index's cosign signature tag
	cosignWant v1.Hash       // what cosignSig must point at in rc
}

// TestPromoteReferrersFollow attaches an artifact at the source after a
// promotion and promotes again: the artifact arrives, the record is not
// written twice, and the next run is up to date. Every way of attaching
// is tried, with and without the referrers API.
func TestPromoteReferrersFollow(t *testing.T) {
	tests := []struct {
		name string
		// after attaches something at the source and returns the subject
		// whose referrers in rc must now include the returned digest, or a
		// zero subject when it is a cosign tag (f.cosignWant is checked).
		after func(t *testing.T, f *fixture) (subject, want v1.Hash)
	}{
		{"OCI referrer of the image", func(t *testing.T, f *fixture) (v1.Hash, v1.Hash) {
			return f.digest, attach(t, f.from, "hello", descriptor(t, f.from, "hello", f.digest.String()).Descriptor)
		}},
		{"OCI referrer of a platform's manifest", func(t *testing.T, f *fixture) (v1.Hash, v1.Hash) {
			return f.child.Digest, attach(t, f.from, "hello", f.child)
		}},
		{"OCI referrer of a referrer", func(t *testing.T, f *fixture) (v1.Hash, v1.Hash) {
			return f.sig, attach(t, f.from, "hello", descriptor(t, f.from, "hello", f.sig.String()).Descriptor)
		}},
		{"cosign signature tag", func(t *testing.T, f *fixture) (v1.Hash, v1.Hash) {
			f.cosignWant = push(t, f.from, "hello", f.cosignSig, randomImage(t, 64, 1))
			return v1.Hash{}, v1.Hash{}
		}},
		{"cosign attestation tag of a platform's manifest", func(t *testing.T, f *fixture) (v1.Hash, v1.Hash) {
			att := "sha256-" + f.child.Digest.Hex + ".att"
			d := push(t, f.from, "hello", att, randomImage(t, 64, 1))
			if got := descriptor(t, f.from, "hello", att).Digest; got != d {
				t.Fatal(got)
			}
			f.cosignSig, f.cosignWant = att, d
			return v1.Hash{}, v1.Hash{}
		}},
	}
	for _, api := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(map[bool]string{true: "referrers API/", false: "referrers tag/"}[api]+tt.name, func(t *testing.T) {
				f := &fixture{dev: newServer(t, api, nil), rc: newServer(t, api, nil)}
				f.from, f.to = client(t, f.dev, "dev", "team"), client(t, f.rc, "rc", "team")
				idx := platformIndex(t)
				f.digest = push(t, f.from, "hello", "1.0.0", idx)
				im, _ := idx.IndexManifest()
				f.child = im.Manifests[0]
				f.sig = attach(t, f.from, "hello", descriptor(t, f.from, "hello", f.digest.String()).Descriptor)
				f.cosignSig = "sha256-" + f.digest.Hex + ".sig"
				o := Options{From: f.from, To: f.to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci", When: time.Now()}}
				first, err := Promote(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				if first.Referrers != 1 {
					t.Errorf("first run copied %d referrers, want the signature", first.Referrers)
				}

				subject, want := tt.after(t, f)
				again, err := Promote(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				if again.UpToDate || again.Referrers != 1 || again.BlobsCopied+again.BlobsSkipped != 2 || again.RecordDigest != first.RecordDigest {
					t.Errorf("second run %+v; want the new artifact and its 2 blobs copied, the record %s kept", again, first.RecordDigest)
				}
				if subject != (v1.Hash{}) {
					if got := referrersIn(t, f.to, "hello", subject); !slices.Contains(got, want) {
						t.Errorf("rc referrers of %s: %v, want %s among them", subject, got, want)
					}
				} else if got := descriptor(t, f.to, "hello", f.cosignSig).Digest; got != f.cosignWant {
					t.Errorf("rc %s = %s, want %s", f.cosignSig, got, f.cosignWant)
				}
				recs, err := Records(context.Background(), f.to, "hello", f.digest)
				if err != nil || len(recs) != 1 {
					t.Errorf("records %+v, %v; want one", recs, err)
				}

				third, err := Promote(context.Background(), o)
				if err != nil || !third.UpToDate || third.Referrers != 0 {
					t.Errorf("third run %+v, %v; want up to date", third, err)
				}
			})
		}
	}
}

// TestPromoteCosignSignatureReplaced signs again at the source, which makes
// cosign's .sig tag point at a new manifest: the next promotion moves the
// target's tag too.
func TestPromoteCosignSignatureReplaced(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	tag := "sha256-" + digest.Hex + ".sig"
	push(t, from, "hello", tag, randomImage(t, 64, 1))
	o := Options{From: from, To: to, App: "hello", Version: "1.0.0"}
	if _, err := Promote(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	resigned := push(t, from, "hello", tag, randomImage(t, 64, 2))
	res, err := Promote(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.UpToDate || res.Referrers != 1 {
		t.Errorf("result %+v; want the new signature copied", res)
	}
	if got := descriptor(t, to, "hello", tag).Digest; got != resigned {
		t.Errorf("rc %s = %s, want %s", tag, got, resigned)
	}
}

// TestPromoteTargetHeldImage promotes into a target that holds the image
// and its tag already, without the artifacts attached at the source: they
// are copied, and the record is written after them.
func TestPromoteTargetHeldImage(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "referrers tag"}[api], func(t *testing.T) {
			dev, rc := newServer(t, api, nil), newServer(t, api, nil)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			idx := platformIndex(t)
			digest := push(t, from, "hello", "1.0.0", idx)
			push(t, to, "hello", "1.0.0", idx)
			sig := attach(t, from, "hello", descriptor(t, from, "hello", digest.String()).Descriptor)
			cosign := "sha256-" + digest.Hex + ".sig"
			cosignDigest := push(t, from, "hello", cosign, randomImage(t, 64, 1))
			rc.log()

			res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.UpToDate || res.Referrers != 2 || res.RecordDigest == "" {
				t.Errorf("result %+v; want both signatures copied and a record", res)
			}
			if got := referrersIn(t, to, "hello", digest); !slices.Contains(got, sig) {
				t.Errorf("rc referrers %v, want %s among them", got, sig)
			}
			if got := descriptor(t, to, "hello", cosign).Digest; got != cosignDigest {
				t.Errorf("rc %s = %s, want %s", cosign, got, cosignDigest)
			}
			reqs := rc.log()
			at := func(ref string) int {
				return slices.IndexFunc(reqs, func(r string) bool { return r == "PUT /v2/team/hello/manifests/"+ref })
			}
			record, sigPut, cosignPut := at(res.RecordDigest), at(sig.String()), at(cosign)
			if record < 0 || sigPut < 0 || cosignPut < 0 || record < sigPut || record < cosignPut {
				t.Errorf("record put at %d, signatures at %d and %d; want the record last:\n%s", record, sigPut, cosignPut, strings.Join(reqs, "\n"))
			}
		})
	}
}

// TestPromoteNoRecordWithoutReferrers fails copying a referrer: no record
// and no tag are written, and running again completes the promotion.
func TestPromoteNoRecordWithoutReferrers(t *testing.T) {
	f := &failing{}
	dev, rc := newServer(t, false, nil), newServer(t, false, f.wrap)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	sig := attach(t, from, "hello", descriptor(t, from, "hello", digest.String()).Descriptor)
	f.match = func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+sig.String())
	}
	f.on.Store(true)
	o := Options{From: from, To: to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci"}}
	if _, err := Promote(context.Background(), o); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	if recs, err := Records(context.Background(), to, "hello", digest); err != nil || len(recs) != 0 {
		t.Errorf("records %+v, %v; want none while a referrer is missing", recs, err)
	}
	if exists(t, to, "hello", "1.0.0") {
		t.Error("the failed promotion left a tag")
	}
	f.on.Store(false)
	res, err := Promote(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Referrers != 1 || res.RecordDigest == "" || !exists(t, to, "hello", "1.0.0") {
		t.Errorf("re-run %+v; want the signature, the record and the tag", res)
	}
}

// TestPromoteCosignTagsWithoutTagList finds cosign's tags by asking for
// each when the source refuses to list its tags.
func TestPromoteCosignTagsWithoutTagList(t *testing.T) {
	f := &failing{match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/tags/list") }}
	f.on.Store(true)
	dev, rc := newServer(t, false, f.wrap), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	tag := "sha256-" + digest.Hex + ".sig"
	sig := push(t, from, "hello", tag, randomImage(t, 64, 1))
	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Referrers != 1 {
		t.Errorf("result %+v; want the signature copied", res)
	}
	if got := descriptor(t, to, "hello", tag).Digest; got != sig {
		t.Errorf("rc %s = %s, want %s", tag, got, sig)
	}
}
