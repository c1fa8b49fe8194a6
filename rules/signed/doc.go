// Package signed is how a rule bundle travels from the operator's push to
// the agent that runs it: an envelope around the bundle, signed with
// ed25519, that the agent verifies before it reads a byte of it. The cloud
// (fieldline-cloud fleet) signs with it and the agent verifies with it, so
// both link this package; it must stay small and know nothing of NATS, the
// cloud or the agent (the agent's binary has a size budget).
//
// It owns the envelope and statement format, the key files, the names of
// the rule bucket's keys and which of them an agent runs (Resolve, with
// the canary selection). It must not know how a bundle is stored or
// carried (NATS KV), nor compile one (package rules does).
//
// # Basics
//
// A Statement holds the bundle (the YAML as pushed), the bucket key it is
// for (fleet.<fleet>, agent.<agent_id> or canary.<fleet>), a revision from
// one counter for the whole bucket, the signing key's id and the time of
// signing; a canary statement also holds its selection (a percentage of
// the fleet by a fixed hash of the agent id, and/or label pairs). Signer.Sign
// turns it into an envelope (JSON):
//
//	{"format":"fieldline-rules/1","statement":{"key":"fleet.boiler","revision":12,...},
//	 "key_id":"3f9c0a…","signature":"<base64>"}
//
// The signature covers "fieldline-rules/1\n" followed by the statement's
// exact bytes; KeyRing.Open verifies it against the trusted keys before it
// decodes the statement, and then checks that the statement was signed
// for the key it was found under. What Open refuses, and why, is one of
// the sentinels of errors.go.
//
//	sig := signed.NewSigner(priv)
//	env, err := sig.Sign(signed.Statement{Key: signed.FleetKey("boiler"), Revision: 12, SignedAt: time.Now(), Bundle: yaml})
//	st, err := signed.NewKeyRing(pub).Open(env, "fleet.boiler")
//
// Keys: GenerateKey, WritePrivateKey (PEM PKCS #8, mode 0600),
// LoadPrivateKey (refuses a file open to group or others),
// WritePublicKey / LoadPublicKey (PEM, or the inline form
// "ed25519:<base64>" a config file can hold).
//
// # Caveats
//
// Open does not know what the agent took before; refusing an older
// revision (ErrReplay, the rollback attack) is the caller's part, with the
// revision it keeps per key. A revision is trusted because it is signed:
// the counter the push tool draws it from is not, and a tampered counter
// can only make revisions jump ahead.
//
// Deleting a key in the bucket needs no signature, so agents ignore
// deletes: a signed statement with Clear set is the only way to empty a
// key.
//
// A gateway with no state (new, or its buffer file lost) has no revision
// to compare with: it takes the first genuine statement it is shown, an
// old one written back by someone who can write the bucket included. The
// signature makes that attacker unable to forge rules, not unable to
// replay old ones to a fresh gateway; keeping writers out of the bucket
// (issue 18's per-agent NATS permissions) closes that.
package signed
