package sign

import (
	"crypto"
	"crypto/elliptic"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// Environment variables that hold the private key's password, the first
// set one winning. COSIGN_PASSWORD is cosign's own, so a key pair made by
// `cosign generate-key-pair` works as it is.
const (
	PasswordEnv       = "SLIPWAY_SIGNING_PASSWORD"
	CosignPasswordEnv = "COSIGN_PASSWORD"
)

// EnvPrefix starts a key reference that names an environment variable
// holding the PEM, as cosign's env://NAME does.
const EnvPrefix = "env://"

var (
	// ErrNoPassword is returned when neither password variable is set.
	ErrNoPassword = errors.New("no signing key password: set " + PasswordEnv + " or " + CosignPasswordEnv + " (an empty value means no password)")
	// ErrKey is matched by every problem reading, decrypting or parsing a
	// key; its messages never hold the key or the password.
	ErrKey = errors.New("unusable key")
	// ErrKeyExists is returned when generating over an existing key file.
	ErrKeyExists = errors.New("key file exists")
)

// Signer signs payloads. A cosign key file gives one (LoadSigner); so do
// sigstore's KMS providers (sigstore/pkg/signature/kms), which can plug in
// here later without changing the callers.
type Signer = signature.Signer

// Verifier checks signatures against one public key.
type Verifier = signature.Verifier

// KeyPair is a PEM-encoded key pair in cosign's format: an ECDSA P-256 key,
// the private half PKCS #8 encrypted with scrypt and secretbox under an
// "ENCRYPTED SIGSTORE PRIVATE KEY" block, the public half PKIX.
type KeyPair struct {
	Private []byte
	Public  []byte
}

// Getenv looks up an environment variable; os.LookupEnv in production.
type Getenv func(string) (string, bool)

// Password returns the private key's password from SLIPWAY_SIGNING_PASSWORD
// or else COSIGN_PASSWORD. An empty value is a valid, empty password; no
// variable set is ErrNoPassword.
func Password(getenv Getenv) ([]byte, error) {
	for _, name := range []string{PasswordEnv, CosignPasswordEnv} {
		if v, ok := getenv(name); ok {
			return []byte(v), nil
		}
	}
	return nil, ErrNoPassword
}

// GenerateKeyPair makes a new key pair whose private half is encrypted
// with password, as `cosign generate-key-pair` does.
func GenerateKeyPair(password []byte) (KeyPair, error) {
	if password == nil {
		password = []byte{} // nil would leave the key unencrypted
	}
	priv, pub, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating key pair: %w", err)
	}
	return KeyPair{Private: priv, Public: pub}, nil
}

// KeyFiles returns the private and public key files of prefix in dir:
// PREFIX.key and PREFIX.pub.
func KeyFiles(dir, prefix string) (private, public string) {
	return filepath.Join(dir, prefix+".key"), filepath.Join(dir, prefix+".pub")
}

// WriteKeyPair writes kp as PREFIX.key (mode 0600) and PREFIX.pub in dir.
// Existing files are kept, with ErrKeyExists, unless force.
func WriteKeyPair(dir, prefix string, kp KeyPair, force bool) (private, public string, err error) {
	private, public = KeyFiles(dir, prefix)
	if !force {
		for _, f := range []string{private, public} {
			if _, err := os.Lstat(f); err == nil {
				return "", "", remedy.With(fmt.Errorf("writing %s: %w", f, ErrKeyExists), remedy.Remedy{Kind: remedy.KeepKeyPair})
			}
		}
	}
	if err := writeFile(private, kp.Private, 0o600); err != nil {
		return "", "", err
	}
	if err := writeFile(public, kp.Public, 0o644); err != nil {
		return "", "", err
	}
	return private, public, nil
}

// writeFile replaces path with data through a temporary file, so a reader
// never sees half a key and a replaced key gets mode perm.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".slipway-key-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckRef returns a problem with a key reference, or nil: a file path, or
// env://NAME with NAME a valid environment variable name.
func CheckRef(ref string) error {
	switch {
	case strings.TrimSpace(ref) == "":
		return errors.New("the key reference is empty; give a file such as cosign.key, or env://NAME")
	case strings.HasPrefix(ref, EnvPrefix) && !envName.MatchString(strings.TrimPrefix(ref, EnvPrefix)):
		return fmt.Errorf("%q does not name an environment variable; write env://NAME with letters, digits and _", ref)
	case strings.Contains(ref, "://") && !strings.HasPrefix(ref, EnvPrefix):
		return fmt.Errorf("%q: only key files and env://NAME are supported (KMS keys are not, yet)", ref)
	}
	return nil
}

// ReadKey returns the PEM a key reference names: env://NAME reads the
// environment variable NAME, anything else is a file relative to dir.
// Errors name the file or variable, never its content.
func ReadKey(ref, dir string, getenv Getenv) ([]byte, error) {
	if err := CheckRef(ref); err != nil {
		return nil, fmt.Errorf("reading key: %w: %w", ErrKey, err)
	}
	if name, ok := strings.CutPrefix(ref, EnvPrefix); ok {
		v, ok := getenv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("reading key from $%s: %w: the variable is not set", name, ErrKey)
		}
		return []byte(v), nil
	}
	// An absolute path may name a key anywhere (a CI file variable); a
	// relative one stays inside the project, through no symlink out.
	// Either way only a regular file of a key's size is read.
	path := ref
	if !filepath.IsAbs(path) {
		var err error
		if path, err = projfs.Resolve(dir, ref); err != nil {
			return nil, fmt.Errorf("reading key %s: %w: %w", projfs.Show(ref), ErrKey, err)
		}
	}
	data, err := projfs.ReadRegular(path, projfs.MaxKey)
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w: %w", projfs.Show(ref), ErrKey, err)
	}
	return data, nil
}

// ErrUnencryptedFile is returned for a key file that holds a private key
// without encryption.
var ErrUnencryptedFile = errors.New("the private key in it is not encrypted: a key file must be (make one with slipway keys generate, or encrypt one with cosign import-key-pair); an unencrypted key is accepted only from a variable, env://NAME, that a CI secret store fills")

// plainKeyTypes are the PEM block types of private keys without
// encryption that sigstore loads: PKCS #8, SEC 1 (EC) and PKCS #1 (RSA).
var plainKeyTypes = []string{"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"}

// Unencrypted reports whether pemBytes is a private key without
// encryption: one that needs no password, and no scrypt, to open. An old
// OpenSSL-encrypted PEM (a Proc-Type: 4,ENCRYPTED header) is not.
func Unencrypted(pemBytes []byte) bool {
	block, _ := pem.Decode(pemBytes)
	return block != nil && slices.Contains(plainKeyTypes, block.Type) && !strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
}

// ReadPrivateKey returns the private key ref names (see ReadKey) and the
// password to open it with. An encrypted cosign key needs the password
// variable (ErrNoPassword without one). A key without encryption (a PKCS
// #8 or SEC 1 PEM, as openssl writes) needs none and costs no scrypt, but
// is taken only from a variable: a CI secret store guards it there, as it
// would guard the password. In a file it is ErrUnencryptedFile.
func ReadPrivateKey(ref, dir string, getenv Getenv) (key, password []byte, err error) {
	key, err = ReadKey(ref, dir, getenv)
	if err != nil {
		return nil, nil, err
	}
	if Unencrypted(key) {
		if !strings.HasPrefix(ref, EnvPrefix) {
			return nil, nil, fmt.Errorf("reading key %s: %w: %w", ref, ErrKey, ErrUnencryptedFile)
		}
		return key, []byte{}, nil
	}
	password, err = Password(getenv)
	return key, password, err
}

// LoadSigner decrypts a cosign private key (from `cosign generate-key-pair`
// or GenerateKeyPair) with password.
func LoadSigner(pemBytes, password []byte) (signature.SignerVerifier, error) {
	if password == nil {
		password = []byte{}
	}
	pk, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		// The cause may be a wrong password or a damaged key; neither is
		// worth echoing, and the key's bytes must not be.
		return nil, fmt.Errorf("loading private key: %w: not a cosign private key, or the wrong password", ErrKey)
	}
	sv, err := signature.LoadDefaultSignerVerifier(pk, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("loading private key: %w: %w", ErrKey, err)
	}
	return sv, nil
}

// LoadVerifier reads a PEM public key, such as cosign.pub.
func LoadVerifier(pemBytes []byte) (Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("loading public key: %w: not a PEM public key", ErrKey)
	}
	v, err := signature.LoadDefaultVerifier(pub, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("loading public key: %w: %w", ErrKey, err)
	}
	return v, nil
}

func loadVerifierFromKey(pub crypto.PublicKey) (Verifier, error) {
	v, err := signature.LoadDefaultVerifier(pub, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("loading public key: %w: %w", ErrKey, err)
	}
	return v, nil
}

// GenerateOptions configure Generate.
type GenerateOptions struct {
	// Dir is where the pair is written (default the working directory).
	Dir string
	// Prefix names the files PREFIX.key and PREFIX.pub (default cosign).
	Prefix string
	// Force replaces an existing pair.
	Force bool
	// Getenv reads the password variables (default os.LookupEnv).
	Getenv Getenv
}

// GenerateResult names the files Generate wrote.
type GenerateResult struct {
	Private string `json:"privateKey"`
	Public  string `json:"publicKey"`
	// EmptyPassword is true when the private key is encrypted with the
	// empty password, as an empty COSIGN_PASSWORD asks.
	EmptyPassword bool `json:"emptyPassword"`
}

// Generate makes a key pair encrypted with the password from the
// environment (Password) and writes it as PREFIX.key and PREFIX.pub, the
// files `cosign generate-key-pair` writes.
func Generate(o GenerateOptions) (GenerateResult, error) {
	if o.Getenv == nil {
		o.Getenv = os.LookupEnv
	}
	if o.Prefix == "" {
		o.Prefix = "cosign"
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if strings.ContainsAny(o.Prefix, `/\`) {
		return GenerateResult{}, fmt.Errorf("generating key pair: prefix %q must be a file name, not a path", o.Prefix)
	}
	pw, err := Password(o.Getenv)
	if err != nil {
		return GenerateResult{}, fmt.Errorf("generating key pair: %w", err)
	}
	kp, err := GenerateKeyPair(pw)
	if err != nil {
		return GenerateResult{}, err
	}
	priv, pub, err := WriteKeyPair(o.Dir, o.Prefix, kp, o.Force)
	if err != nil {
		return GenerateResult{}, err
	}
	return GenerateResult{Private: priv, Public: pub, EmptyPassword: len(pw) == 0}, nil
}

// SameKey reports whether v is the public half of s: whether v verifies
// what s signs.
func SameKey(s Signer, v Verifier) bool {
	a, err := s.PublicKey()
	if err != nil {
		return false
	}
	b, err := v.PublicKey()
	if err != nil {
		return false
	}
	return cryptoutils.EqualKeys(a, b) == nil
}

// encryptedKeyTypes are the PEM block types of cosign's encrypted private
// keys: sigstore's, and cosign's older name for the same format.
var encryptedKeyTypes = []string{"ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"}

// Pending is a Signer whose key is being decrypted in the background.
// Cosign keys are encrypted with scrypt, which is made to take a few
// hundred milliseconds; StartSigner runs it beside other work (an image's
// upload) instead of before it. Its methods wait for the key.
type Pending struct {
	done chan struct{}
	sv   signature.SignerVerifier
	err  error
}

var _ Signer = (*Pending)(nil)

// StartSigner checks, at once, that pemBytes is a PEM block, and decrypts
// the encrypted cosign private key in it with password in the background
// (another kind of key is loaded at once). A wrong password or a damaged key is reported by Wait, and
// by every method of the Pending; wrap, when not nil, wraps that error
// (to name the key's file).
func StartSigner(pemBytes, password []byte, wrap func(error) error) (*Pending, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("loading private key: %w: not a cosign private key, or the wrong password", ErrKey)
	}
	p := &Pending{done: make(chan struct{})}
	if !slices.Contains(encryptedKeyTypes, block.Type) {
		// Nothing slow to wait for.
		defer close(p.done)
		p.sv, p.err = LoadSigner(pemBytes, password)
		if p.err != nil {
			return nil, p.err
		}
		return p, nil
	}
	go func() {
		defer close(p.done)
		p.sv, p.err = LoadSigner(pemBytes, password)
		if p.err != nil && wrap != nil {
			p.err = wrap(p.err)
		}
	}()
	return p, nil
}

// Wait returns the decrypted key, or why it could not be decrypted.
func (p *Pending) Wait() (signature.SignerVerifier, error) {
	<-p.done
	return p.sv, p.err
}

// PublicKey waits for the key and returns its public half.
func (p *Pending) PublicKey(opts ...signature.PublicKeyOption) (crypto.PublicKey, error) {
	sv, err := p.Wait()
	if err != nil {
		return nil, err
	}
	return sv.PublicKey(opts...)
}

// SignMessage waits for the key and signs message.
func (p *Pending) SignMessage(message io.Reader, opts ...signature.SignOption) ([]byte, error) {
	sv, err := p.Wait()
	if err != nil {
		return nil, err
	}
	return sv.SignMessage(message, opts...)
}
