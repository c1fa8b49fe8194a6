package signed

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Format names the envelope's layout; it is also the prefix of the bytes
// a signature covers, so that a fleet key signs nothing but rule
// statements.
const Format = "fieldline-rules/1"

// MaxEnvelope is the largest envelope Open reads (the rule bucket's value
// limit, and a NATS server's default max_payload).
const MaxEnvelope = 1 << 20

// envelope is what the bucket holds, as JSON:
//
//	{"format":"fieldline-rules/1","statement":{...},"key_id":"…","signature":"<base64>"}
//
// Statement keeps the exact bytes that were signed; nothing is signed
// after a re-encoding.
type envelope struct {
	Format    string          `json:"format"`
	Statement json.RawMessage `json:"statement"`
	KeyID     string          `json:"key_id"`
	Signature []byte          `json:"signature"`
}

// signingInput is what the signature covers: Format, a newline, the
// statement's bytes.
func signingInput(stmt []byte) []byte {
	b := make([]byte, 0, len(Format)+1+len(stmt))
	b = append(b, Format...)
	b = append(b, '\n')
	return append(b, stmt...)
}

// Signer signs statements with one private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}
}

// KeyID names the signer's key.
func (s *Signer) KeyID() string { return s.id }

// Public is the signer's public key, for agents' configs.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Sign fills st.KeyID, checks st and returns the envelope to store under
// st.Key.
func (s *Signer) Sign(st Statement) ([]byte, error) {
	st.KeyID = s.id
	if err := st.Check(); err != nil {
		return nil, fmt.Errorf("signing %s: %w", st.String(), err)
	}
	stmt, err := json.Marshal(&st)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", st.String(), err)
	}
	env := envelope{Format: Format, Statement: stmt, KeyID: s.id, Signature: ed25519.Sign(s.key, signingInput(stmt))}
	return json.Marshal(&env)
}

// KeyRing holds the public keys an agent trusts (rules.trusted_keys).
type KeyRing struct {
	keys map[string]ed25519.PublicKey
}

// NewKeyRing trusts keys. Two copies of one key count once.
func NewKeyRing(keys ...ed25519.PublicKey) *KeyRing {
	r := &KeyRing{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for _, k := range keys {
		r.keys[KeyID(k)] = k
	}
	return r
}

// IDs are the ids of the trusted keys, sorted.
func (r *KeyRing) IDs() []string {
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Keys are the trusted keys, in the order of IDs.
func (r *KeyRing) Keys() []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, 0, len(r.keys))
	for _, id := range r.IDs() {
		out = append(out, r.keys[id])
	}
	return out
}

// Len is the number of trusted keys.
func (r *KeyRing) Len() int { return len(r.keys) }

// Open verifies an envelope read from the bucket under key and returns its
// statement. It checks, in this order, and fails with an error wrapping
// the sentinel named: the value is an envelope at all (ErrUnsigned), it
// decodes strictly, unknown fields and trailing bytes refused, within
// MaxEnvelope (ErrMalformed), it carries a signature (ErrUnsigned) by a
// trusted key (ErrUnknownKey) that verifies over the statement's exact
// bytes (ErrSignature), the statement decodes as strictly and is well
// formed (ErrMalformed), and it was signed for key (ErrWrongKey). Nothing
// of the statement is read before the signature verified. Whether its
// revision is new enough is the caller's check (ErrReplay).
func (r *KeyRing) Open(data []byte, key string) (*Statement, error) {
	if len(data) > MaxEnvelope {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrMalformed, len(data), MaxEnvelope)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: the value is empty, not a signed envelope", ErrUnsigned)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: the value is not a signed envelope (it starts with %q; push bundles with fieldline-cloud fleet rules push)", ErrUnsigned, preview(trimmed))
	}
	var env envelope
	if err := decodeStrict(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, env.Format, Format)
	}
	if len(env.Signature) == 0 || env.KeyID == "" {
		return nil, fmt.Errorf("%w: the envelope has no signature or no key_id", ErrUnsigned)
	}
	pub, ok := r.keys[env.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: key %q is not trusted (trusted: %s)", ErrUnknownKey, env.KeyID, strings.Join(r.IDs(), ", "))
	}
	if len(env.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, signingInput(env.Statement), env.Signature) {
		return nil, fmt.Errorf("%w: the signature does not verify with key %s", ErrSignature, env.KeyID)
	}
	var st Statement
	if err := decodeStrict(env.Statement, &st); err != nil {
		return nil, fmt.Errorf("%w: signed statement: %v", ErrMalformed, err)
	}
	if st.KeyID != env.KeyID {
		return nil, fmt.Errorf("%w: the statement names key %q but was signed with %q", ErrSignature, st.KeyID, env.KeyID)
	}
	if err := st.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if st.Key != key {
		return nil, fmt.Errorf("%w: %s was signed for %s, found under %s", ErrWrongKey, st.String(), st.Key, key)
	}
	return &st, nil
}

// decodeStrict decodes exactly one JSON value into v: unknown fields and
// anything after the value are errors.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

func preview(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}
