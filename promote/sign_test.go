package promote

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
)

// TestSlipwaySignatureFollows checks that a signature written at push
// (internal/sign, cosign's sha256-HEX.sig tag) is carried by Promote, so
// the promoted digest verifies in the target with the same key, and not
// with another.
func TestSlipwaySignatureFollows(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 1024, 2))

	kp, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.LoadSigner(kp.Private, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := sign.LoadVerifier(kp.Public)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	otherVerifier, err := sign.LoadVerifier(other.Public)
	if err != nil {
		t.Fatal(err)
	}
	ref := func(c *registry.Client) name.Digest {
		repo, err := c.Repo("hello")
		if err != nil {
			t.Fatal(err)
		}
		return repo.Digest(digest.String())
	}
	if _, err := sign.Image(ctx, ref(from), signer, from.RemoteOptions(ctx)); err != nil {
		t.Fatal(err)
	}

	res, err := Promote(ctx, Options{From: from, To: to, App: "hello", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Referrers == 0 {
		t.Errorf("result %+v: the signature was not counted as a referrer", res)
	}
	if err := sign.Verify(ctx, ref(to), verifier, to.RemoteOptions(ctx)); err != nil {
		t.Errorf("the promoted digest does not verify in the target: %v", err)
	}
	if err := sign.Verify(ctx, ref(to), otherVerifier, to.RemoteOptions(ctx)); !errors.Is(err, sign.ErrUnverified) {
		t.Errorf("another key in the target: %v, want ErrUnverified", err)
	}
}
