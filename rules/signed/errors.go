package signed

import "errors"

// Every error Open returns wraps exactly one of these, so a caller (the
// agent's rule sync, `fleet rules status`) can count and report refusals
// by kind with errors.Is.
var (
	// ErrUnsigned: the value is not a signed envelope at all (a rule bundle
	// written straight into the bucket) or carries no signature.
	ErrUnsigned = errors.New("unsigned bundle")

	// ErrMalformed: the value looks like an envelope but does not decode,
	// names an unknown format, is over MaxEnvelope, or its signed statement
	// is not a valid one (no revision, both a bundle and a clear, ...).
	ErrMalformed = errors.New("undecodable envelope")

	// ErrUnknownKey: the envelope names a signing key that is not among the
	// trusted ones.
	ErrUnknownKey = errors.New("signed by an untrusted key")

	// ErrSignature: the signature does not verify against the key the
	// envelope names (forged or altered bytes).
	ErrSignature = errors.New("bad signature")

	// ErrWrongKey: a genuine statement signed for another bucket key (a
	// bundle for agent.a copied into agent.b, fleet.x into fleet.y).
	ErrWrongKey = errors.New("bundle signed for another key")

	// ErrReplay: a genuine statement whose revision is not above the one
	// already taken from the same key (an older bundle written back: the
	// rollback attack). The agent's rule sync returns it; Open cannot know.
	ErrReplay = errors.New("older revision")

	// ErrKeyFile: a key file that cannot be used: unreadable, not a key of
	// the right kind, or a private key readable by group or others.
	ErrKeyFile = errors.New("unusable key file")
)
