package sign

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/testutil"
)

func envOf(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestPassword(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
		err  error
	}{
		{"slipway's variable", map[string]string{PasswordEnv: "a"}, "a", nil},
		{"cosign's variable", map[string]string{CosignPasswordEnv: "b"}, "b", nil},
		{"slipway's wins", map[string]string{PasswordEnv: "a", CosignPasswordEnv: "b"}, "a", nil},
		{"empty is a password", map[string]string{CosignPasswordEnv: ""}, "", nil},
		{"none set", map[string]string{}, "", ErrNoPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Password(envOf(tt.env))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if string(got) != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyPairRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		password string
	}{
		{"with a password", "correct horse"},
		{"with the empty password", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := GenerateKeyPair([]byte(tt.password))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(kp.Private, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) {
				t.Errorf("private key is not cosign's encrypted PEM:\n%.60s", kp.Private)
			}
			if !bytes.HasPrefix(kp.Public, []byte("-----BEGIN PUBLIC KEY-----")) {
				t.Errorf("public key is not PEM:\n%.40s", kp.Public)
			}
			s, err := LoadSigner(kp.Private, []byte(tt.password))
			if err != nil {
				t.Fatal(err)
			}
			v, err := LoadVerifier(kp.Public)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := s.SignMessage(strings.NewReader("payload"))
			if err != nil {
				t.Fatal(err)
			}
			if err := v.VerifySignature(bytes.NewReader(sig), strings.NewReader("payload")); err != nil {
				t.Errorf("verifying: %v", err)
			}
			if err := v.VerifySignature(bytes.NewReader(sig), strings.NewReader("tampered")); err == nil {
				t.Error("a signature verified another message")
			}
		})
	}
}

func TestLoadSignerKeepsSecrets(t *testing.T) {
	const password = "s3cret-signing-pass"
	kp, err := GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		key      []byte
		password string
	}{
		{"wrong password", kp.Private, "wrong-" + password},
		{"no password for an encrypted key", kp.Private, ""},
		{"damaged key", bytes.Replace(kp.Private, []byte("PRIVATE KEY-----\n"), []byte("PRIVATE KEY-----\nAAAA"), 1), password},
		{"not a key", []byte("hello"), password},
		{"public key instead", kp.Public, password},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSigner(tt.key, []byte(tt.password))
			if !errors.Is(err, ErrKey) {
				t.Fatalf("err = %v, want ErrKey", err)
			}
			msg := err.Error()
			if strings.Contains(msg, password) || strings.Contains(msg, "BEGIN") || strings.Contains(msg, string(kp.Private[40:80])) {
				t.Errorf("error leaks a secret: %s", msg)
			}
		})
	}
}

func TestReadKey(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "app")
	for name, content := range map[string]string{
		"app/cosign.key": "FILE", "outside.key": "OUTSIDE", "app/big.key": strings.Repeat("k", 1<<20+1), "app/keydir/x": "",
	} {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"out.key": filepath.Join(base, "outside.key"), "in.key": "cosign.key", "zero.key": "/dev/zero"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Skipf("cannot make symlinks here: %v", err)
		}
	}
	env := envOf(map[string]string{"SIGNING_KEY": "FROM-ENV", "EMPTY": ""})
	tests := []struct {
		ref, want string
		ok        bool
	}{
		{"cosign.key", "FILE", true},
		{filepath.Join(dir, "cosign.key"), "FILE", true},
		{"in.key", "FILE", true},
		// An absolute path may name a key anywhere; a relative one stays
		// inside the project, and only a regular file of a key's size is
		// read.
		{filepath.Join(base, "outside.key"), "OUTSIDE", true},
		{"../outside.key", "", false},
		{"out.key", "", false},
		{"zero.key", "", false},
		{"/dev/zero", "", false},
		{"big.key", "", false},
		{"keydir", "", false},
		{"env://SIGNING_KEY", "FROM-ENV", true},
		{"env://UNSET", "", false},
		{"env://EMPTY", "", false},
		{"env://not a name", "", false},
		{"awskms://alias/key", "", false},
		{"missing.key", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ReadKey(tt.ref, dir, env)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrKey) {
					t.Errorf("err = %v, want ErrKey", err)
				}
				if strings.Contains(err.Error(), "FROM-ENV") || strings.Contains(err.Error(), "OUTSIDE") {
					t.Errorf("error leaks the key: %v", err)
				}
			}
			if string(got) != tt.want {
				t.Errorf("key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteKeyPair(t *testing.T) {
	dir := t.TempDir()
	kp := KeyPair{Private: []byte("PRIV"), Public: []byte("PUB")}
	priv, pub, err := WriteKeyPair(dir, "cosign", kp, false)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(priv); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode: %v %v, want 0600", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(pub); string(b) != "PUB" {
		t.Errorf("public key = %q", b)
	}
	if _, _, err := WriteKeyPair(dir, "cosign", KeyPair{Private: []byte("NEW"), Public: []byte("NEW")}, false); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("overwriting: err = %v, want ErrKeyExists", err)
	}
	if b, _ := os.ReadFile(priv); string(b) != "PRIV" {
		t.Errorf("a refused write changed the key: %q", b)
	}
	if _, _, err := WriteKeyPair(dir, "cosign", KeyPair{Private: []byte("NEW"), Public: []byte("NEW")}, true); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if b, _ := os.ReadFile(priv); string(b) != "NEW" {
		t.Errorf("forced write kept the old key: %q", b)
	}
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{CosignPasswordEnv: "pw"})
	res, err := Generate(GenerateOptions{Dir: dir, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	if res.Private != filepath.Join(dir, "cosign.key") || res.Public != filepath.Join(dir, "cosign.pub") || res.EmptyPassword {
		t.Errorf("result = %+v", res)
	}
	key, _ := os.ReadFile(res.Private)
	if _, err := LoadSigner(key, []byte("pw")); err != nil {
		t.Errorf("loading the generated key: %v", err)
	}
	tests := []struct {
		name string
		o    GenerateOptions
		want error
	}{
		{"existing pair", GenerateOptions{Dir: dir, Getenv: env}, ErrKeyExists},
		{"no password variable", GenerateOptions{Dir: dir, Prefix: "other", Getenv: envOf(nil)}, ErrNoPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate(tt.o); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Generate(GenerateOptions{Dir: dir, Prefix: "../x", Getenv: env}); err == nil {
		t.Error("a prefix with a path was accepted")
	}
}

func TestSameKey(t *testing.T) {
	s, v := newSigner(t)
	_, other := newSigner(t)
	tests := []struct {
		name string
		v    Verifier
		want bool
	}{
		{"its public half", v, true},
		{"another key", other, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameKey(s, tt.v); got != tt.want {
				t.Errorf("SameKey = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStartSigner(t *testing.T) {
	const password = "start-signer-pw"
	kp, err := GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(err error) error { return fmt.Errorf("loading the signing key cosign.key: %w", err) }
	tests := []struct {
		name     string
		key      []byte
		password string
		startErr bool // refused at once
		waitErr  bool // refused once decrypted
	}{
		{"right password", kp.Private, password, false, false},
		{"wrong password", kp.Private, "wrong-" + password, false, true},
		{"not PEM", []byte("hello"), password, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := StartSigner(tt.key, []byte(tt.password), wrap)
			if tt.startErr != (err != nil) {
				t.Fatalf("StartSigner: %v, want an error: %v", err, tt.startErr)
			}
			if err != nil {
				if !errors.Is(err, ErrKey) {
					t.Errorf("err = %v, want ErrKey", err)
				}
				return
			}
			sig, err := p.SignMessage(strings.NewReader("payload"))
			if tt.waitErr != (err != nil) {
				t.Fatalf("SignMessage: %v, want an error: %v", err, tt.waitErr)
			}
			if err != nil {
				if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "cosign.key") || strings.Contains(err.Error(), password) {
					t.Errorf("err = %v, want ErrKey naming the file and not the password", err)
				}
				if _, err := p.PublicKey(); err == nil {
					t.Error("PublicKey of an undecryptable key")
				}
				return
			}
			v, err := LoadVerifier(kp.Public)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.VerifySignature(bytes.NewReader(sig), strings.NewReader("payload")); err != nil {
				t.Errorf("verifying: %v", err)
			}
			if !SameKey(p, v) {
				t.Error("the pending signer's public key is not the pair's")
			}
		})
	}
}

// TestReadPrivateKey takes an encrypted key from a file or a variable
// with the password variable, and a key without encryption (as openssl
// writes it) only from a variable, and without a password.
func TestReadPrivateKey(t *testing.T) {
	dir := t.TempDir()
	kp, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	plain := testutil.PlainKey(t)
	for name, b := range map[string][]byte{"cosign.key": kp.Private, "plain.key": plain, "junk.key": []byte("junk")} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"ENC": string(kp.Private), "PLAIN": string(plain)}
	withPW := map[string]string{CosignPasswordEnv: "pw"}
	tests := []struct {
		ref     string
		env     map[string]string
		wantErr error // nil: loads
	}{
		{"cosign.key", withPW, nil},
		{"cosign.key", nil, ErrNoPassword},
		{"env://ENC", withPW, nil},
		{"env://PLAIN", nil, nil},
		{"plain.key", withPW, ErrUnencryptedFile},
		{"junk.key", nil, ErrNoPassword},
		{"junk.key", withPW, ErrKey},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d vars", tt.ref, len(tt.env)), func(t *testing.T) {
			m := map[string]string{}
			maps.Copy(m, vars)
			maps.Copy(m, tt.env)
			key, pw, err := ReadPrivateKey(tt.ref, dir, envOf(m))
			if err == nil {
				_, err = LoadSigner(key, pw)
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
	legacy := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})
	if Unencrypted(kp.Private) || !Unencrypted(plain) || Unencrypted([]byte("junk")) || Unencrypted(legacy) {
		t.Error("Unencrypted tells keys apart wrongly")
	}
}
