package signed

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// InlinePrefix starts a public key written in a config file itself
// (rules.trusted_keys) instead of a file name: "ed25519:<base64 of the 32
// bytes>", as `fieldline-cloud fleet keygen` prints it.
const InlinePrefix = "ed25519:"

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// GenerateKey makes a new signing key.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// MarshalPrivateKey is the private key as a PEM "PRIVATE KEY" block
// (PKCS #8), which openssl reads too.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey is the public key as a PEM "PUBLIC KEY" block (PKIX).
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// FormatPublicKey is the inline form of a public key (InlinePrefix).
func FormatPublicKey(pub ed25519.PublicKey) string {
	return InlinePrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a public key in its inline form or as a PEM
// "PUBLIC KEY" block.
func ParsePublicKey(text []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(text))
	if b64, ok := strings.CutPrefix(s, InlinePrefix); ok {
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%w: inline key: %v", ErrKeyFile, err)
		}
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: inline key has %d bytes, want %d", ErrKeyFile, len(raw), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(raw), nil
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: want a PEM PUBLIC KEY block or %s<base64>", ErrKeyFile, InlinePrefix)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, want an ed25519 key", ErrKeyFile, k)
	}
	return pub, nil
}

// LoadPublicKey reads a trusted key: ref is either the inline form or the
// name of a file holding either form.
func LoadPublicKey(ref string) (ed25519.PublicKey, error) {
	if strings.HasPrefix(ref, InlinePrefix) {
		return ParsePublicKey([]byte(ref))
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return pub, nil
}

// LoadPrivateKey reads a signing key file written by WritePrivateKey. A
// file that group or others may read or write is refused (as ssh refuses
// such an identity file): whoever reads it can sign rules for the fleet.
func LoadPrivateKey(file string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: private key %s is open to group or others (mode %#o); run chmod 600 %s", ErrKeyFile, file, perm, file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s: want a PEM PRIVATE KEY block", ErrKeyFile, file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, file, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %T, want an ed25519 key", ErrKeyFile, file, k)
	}
	return priv, nil
}

// WritePrivateKey writes key to a new file with mode 0600; an existing
// file is not overwritten.
func WritePrivateKey(file string, key ed25519.PrivateKey) error {
	data, err := MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	return writeNew(file, data, 0o600)
}

// WritePublicKey writes pub as PEM to a new file with mode 0644.
func WritePublicKey(file string, pub ed25519.PublicKey) error {
	data, err := MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	return writeNew(file, data, 0o644)
}

func writeNew(file string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("writing key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing key %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing key %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing key %s: %w", file, err)
	}
	// The umask may have taken bits away, never added them; make sure.
	return os.Chmod(file, mode)
}
