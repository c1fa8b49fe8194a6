package signed

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testKey returns the deterministic key number n (seed bytes all n).
func testKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

var signedAt = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const bundleYAML = "version: v1\nname: pump\nrules:\n  - {match: 'x.*', deadband: {absolute: 1}}\n"

func mustSign(t testing.TB, key ed25519.PrivateKey, st Statement) []byte {
	t.Helper()
	env, err := NewSigner(key).Sign(st)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// reenvelope rewrites an envelope through f, keeping the statement bytes
// as they are unless f changes them.
func reenvelope(t *testing.T, env []byte, f func(e *envelope)) []byte {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	f(&e)
	out, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpen(t *testing.T) {
	good := testKey(1)
	ring := NewKeyRing(good.Public().(ed25519.PublicKey), testKey(3).Public().(ed25519.PublicKey))
	fleet := Statement{Key: "fleet.boiler", Revision: 12, SignedAt: signedAt, Signer: "op@host", Bundle: bundleYAML}
	env := mustSign(t, good, fleet)

	cases := []struct {
		name  string
		data  []byte
		key   string
		want  error  // nil: opens
		match string // in the message
	}{
		{"genuine", env, "fleet.boiler", nil, ""},
		{"second trusted key", mustSign(t, testKey(3), fleet), "fleet.boiler", nil, ""},
		{"leading whitespace", append([]byte("\n  "), env...), "fleet.boiler", nil, ""},
		{"raw yaml written into the bucket", []byte(bundleYAML), "fleet.boiler", ErrUnsigned, `starts with "version: v1\nname"`},
		{"empty value", nil, "fleet.boiler", ErrUnsigned, "empty"},
		{"no signature", reenvelope(t, env, func(e *envelope) { e.Signature = nil }), "fleet.boiler", ErrUnsigned, "no signature"},
		{"no key id", reenvelope(t, env, func(e *envelope) { e.KeyID = "" }), "fleet.boiler", ErrUnsigned, "no key_id"},
		{"forged: signed by an untrusted key", mustSign(t, testKey(2), fleet), "fleet.boiler", ErrUnknownKey, "is not trusted"},
		{"forged: untrusted signature under a trusted key id", reenvelope(t, mustSign(t, testKey(2), fleet), func(e *envelope) { e.KeyID = KeyID(good.Public().(ed25519.PublicKey)) }), "fleet.boiler", ErrSignature, "does not verify"},
		{"altered bundle", reenvelope(t, env, func(e *envelope) {
			e.Statement = bytes.Replace(e.Statement, []byte("absolute: 1"), []byte("absolute: 9"), 1)
		}), "fleet.boiler", ErrSignature, "does not verify"},
		{"altered revision", reenvelope(t, env, func(e *envelope) {
			e.Statement = bytes.Replace(e.Statement, []byte(`"revision":12`), []byte(`"revision":99`), 1)
		}), "fleet.boiler", ErrSignature, "does not verify"},
		{"whitespace added inside the statement", bytes.Replace(env, []byte(`{"key"`), []byte(`{ "key"`), 1), "fleet.boiler", ErrSignature, ""},
		{"short signature", reenvelope(t, env, func(e *envelope) { e.Signature = e.Signature[:10] }), "fleet.boiler", ErrSignature, ""},
		{"copied to another fleet", env, "fleet.other", ErrWrongKey, "signed for fleet.boiler, found under fleet.other"},
		{"copied to an agent key", env, "agent.gw-1", ErrWrongKey, ""},
		{"not json", []byte("{not json"), "fleet.boiler", ErrMalformed, ""},
		{"unknown field", bytes.Replace(env, []byte(`"format"`), []byte(`"extra":1,"format"`), 1), "fleet.boiler", ErrMalformed, "unknown field"},
		{"trailing data", append(bytes.Clone(env), []byte(" {}")...), "fleet.boiler", ErrMalformed, "after the JSON value"},
		{"other format", reenvelope(t, env, func(e *envelope) { e.Format = "fieldline-rules/0" }), "fleet.boiler", ErrMalformed, "format"},
		{"too large", append(bytes.Clone(env), bytes.Repeat([]byte(" "), MaxEnvelope)...), "fleet.boiler", ErrMalformed, "over the limit"},
		{"signed but malformed statement", mustSignRaw(t, good, []byte(`{"key":"fleet.boiler","revision":0,"key_id":"`+KeyID(good.Public().(ed25519.PublicKey))+`","signed_at":"2026-12-01T10:00:00Z","bundle":"x"}`)), "fleet.boiler", ErrMalformed, "revision must be > 0"},
		{"signed statement naming another key id", mustSignRaw(t, good, []byte(`{"key":"fleet.boiler","revision":3,"key_id":"0000000000000000","signed_at":"2026-12-01T10:00:00Z","bundle":"x"}`)), "fleet.boiler", ErrSignature, "names key"},
		{"signed statement with an unknown field", mustSignRaw(t, good, []byte(`{"key":"fleet.boiler","revision":3,"key_id":"`+KeyID(good.Public().(ed25519.PublicKey))+`","signed_at":"2026-12-01T10:00:00Z","bundle":"x","admin":true}`)), "fleet.boiler", ErrMalformed, "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ring.Open(tc.data, tc.key)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if st.Key != "fleet.boiler" || st.Revision != 12 || st.Bundle != bundleYAML || !st.SignedAt.Equal(signedAt) || st.Signer != "op@host" {
					t.Fatalf("statement %+v", st)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if st != nil {
				t.Fatal("a statement with an error")
			}
			if !strings.Contains(err.Error(), tc.match) {
				t.Fatalf("err %q does not say %q", err, tc.match)
			}
		})
	}
}

// mustSignRaw signs statement bytes as given, as a buggy or hostile signer
// holding a trusted key could.
func mustSignRaw(t *testing.T, key ed25519.PrivateKey, stmt []byte) []byte {
	t.Helper()
	id := KeyID(key.Public().(ed25519.PublicKey))
	out, err := json.Marshal(&envelope{Format: Format, Statement: stmt, KeyID: id, Signature: ed25519.Sign(key, signingInput(stmt))})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignRefusesBadStatements(t *testing.T) {
	sig := NewSigner(testKey(1))
	canary := &Canary{Percent: 10}
	for _, tc := range []struct {
		name  string
		st    Statement
		match string
	}{
		{"no revision", Statement{Key: "fleet.a", SignedAt: signedAt, Bundle: "x"}, "revision must be > 0"},
		{"bad key", Statement{Key: "fleets.a", Revision: 1, SignedAt: signedAt, Bundle: "x"}, "want fleet.<fleet>"},
		{"bad name", Statement{Key: "agent.a.b", Revision: 1, SignedAt: signedAt, Bundle: "x"}, "is not a letter"},
		{"no time", Statement{Key: "fleet.a", Revision: 1, Bundle: "x"}, "no signed_at"},
		{"bundle and clear", Statement{Key: "fleet.a", Revision: 1, SignedAt: signedAt, Bundle: "x", Clear: true}, "both clear and a bundle"},
		{"nothing", Statement{Key: "fleet.a", Revision: 1, SignedAt: signedAt}, "neither a bundle nor clear"},
		{"canary without selection", Statement{Key: "canary.a", Revision: 1, SignedAt: signedAt, Bundle: "x"}, "without its canary selection"},
		{"selection on a fleet key", Statement{Key: "fleet.a", Revision: 1, SignedAt: signedAt, Bundle: "x", Canary: canary}, "outside a canary bundle"},
		{"selection of everyone", Statement{Key: "canary.a", Revision: 1, SignedAt: signedAt, Bundle: "x", Canary: &Canary{}}, "selects every agent"},
		{"percent over 100", Statement{Key: "canary.a", Revision: 1, SignedAt: signedAt, Bundle: "x", Canary: &Canary{Percent: 101}}, "want 0 < percent"},
		{"bad label", Statement{Key: "canary.a", Revision: 1, SignedAt: signedAt, Bundle: "x", Canary: &Canary{Selector: map[string]string{"ring": "a b"}}}, "label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sig.Sign(tc.st)
			if err == nil || !strings.Contains(err.Error(), tc.match) {
				t.Fatalf("err %v, want one saying %q", err, tc.match)
			}
		})
	}
	// A cleared canary needs no selection.
	if _, err := sig.Sign(Statement{Key: "canary.a", Revision: 1, SignedAt: signedAt, Clear: true}); err != nil {
		t.Fatal(err)
	}
}

func TestCanarySelection(t *testing.T) {
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = "gw-" + string(rune('a'+i%26)) + "-" + itoa(i)
	}
	count := func(c *Canary, labels func(i int) map[string]string) (n int) {
		for i, id := range ids {
			if c.Includes(id, labels(i)) {
				n++
			}
		}
		return n
	}
	none := func(int) map[string]string { return nil }
	for _, pct := range []float64{1, 10, 50} {
		n := count(&Canary{Percent: pct}, none)
		want := int(pct * 100)
		if n < want*8/10 || n > want*12/10 {
			t.Errorf("%v%% of 10,000 agents selected %d", pct, n)
		}
	}
	if n := count(&Canary{Percent: 100}, none); n != len(ids) {
		t.Errorf("100%% selected %d of %d", n, len(ids))
	}
	// A larger percentage takes a superset: the first canaries stay in.
	for _, id := range ids {
		if (&Canary{Percent: 5}).Includes(id, nil) && !(&Canary{Percent: 20}).Includes(id, nil) {
			t.Fatalf("%s is in 5%% but not in 20%%", id)
		}
	}
	ring := func(i int) map[string]string {
		if i%4 == 0 {
			return map[string]string{"ring": "early", "site": "a"}
		}
		return map[string]string{"ring": "late"}
	}
	if n := count(&Canary{Selector: map[string]string{"ring": "early"}}, ring); n != 2500 {
		t.Errorf("ring=early selected %d, want 2500", n)
	}
	if n := count(&Canary{Selector: map[string]string{"ring": "early", "site": "b"}}, ring); n != 0 {
		t.Errorf("ring=early,site=b selected %d, want 0", n)
	}
	both := count(&Canary{Percent: 50, Selector: map[string]string{"ring": "early"}}, ring)
	if both < 1000 || both > 1500 {
		t.Errorf("50%% of ring=early selected %d of 2500", both)
	}
	if got := (&Canary{Percent: 12.5, Selector: map[string]string{"site": "a", "ring": "early"}}).String(); got != "12.5% ring=early,site=a" {
		t.Errorf("String %q", got)
	}
	// The bucket is part of the contract between agents and the cloud.
	if b := Bucket("gw-0001"); b != Bucket("gw-0001") || b >= 10000 {
		t.Fatalf("bucket %d", b)
	}
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

func TestResolve(t *testing.T) {
	st := func(key string, rev uint64, clear bool, c *Canary) *Statement {
		s := &Statement{Key: key, Revision: rev, Clear: clear, Canary: c}
		return s
	}
	fleet := st("fleet.f", 1, false, nil)
	everyone := &Canary{Percent: 100}
	nobody := &Canary{Selector: map[string]string{"ring": "none"}}
	for _, tc := range []struct {
		name                  string
		agent, canary, fleetS *Statement
		want                  *Statement
	}{
		{"fleet only", nil, nil, fleet, fleet},
		{"nothing", nil, nil, nil, nil},
		{"agent overrides", st("agent.a", 5, false, nil), st("canary.f", 6, false, everyone), fleet, nil},
		{"cleared agent key falls back to the canary", st("agent.a", 7, true, nil), st("canary.f", 6, false, everyone), fleet, nil},
		{"canary not selecting the agent", nil, st("canary.f", 6, false, nobody), fleet, fleet},
		{"cleared canary", nil, st("canary.f", 8, true, nil), fleet, fleet},
		{"cleared fleet", nil, nil, st("fleet.f", 9, true, nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Resolve("a", nil, tc.agent, tc.canary, tc.fleetS)
			want := tc.want
			switch tc.name {
			case "agent overrides":
				want = tc.agent
			case "cleared agent key falls back to the canary":
				want = tc.canary
			}
			if got != want {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile := filepath.Join(dir, "fleet.key"), filepath.Join(dir, "fleet.pub")
	if err := WritePrivateKey(keyFile, priv); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKey(pubFile, pub); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v", fi.Mode().Perm())
	}
	if err := WritePrivateKey(keyFile, priv); err == nil {
		t.Fatal("an existing key file was overwritten")
	}
	got, err := LoadPrivateKey(keyFile)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("private key round trip: %v", err)
	}
	for _, ref := range []string{pubFile, FormatPublicKey(pub)} {
		p, err := LoadPublicKey(ref)
		if err != nil || !p.Equal(pub) {
			t.Fatalf("public key %s: %v", ref, err)
		}
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644} {
		if err := os.Chmod(keyFile, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPrivateKey(keyFile)
		if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %#o: err %v", mode, err)
		}
	}
	bad := filepath.Join(dir, "bad.pub")
	os.WriteFile(bad, []byte("ssh-ed25519 AAAA"), 0o644)
	for _, ref := range []string{bad, "ed25519:AAAA", "ed25519:!!", filepath.Join(dir, "missing.pub"), pubFile + "x"} {
		if _, err := LoadPublicKey(ref); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: err %v, want ErrKeyFile", ref, err)
		}
	}
	if _, err := LoadPrivateKey(pubFile); !errors.Is(err, ErrKeyFile) {
		t.Errorf("a public key as the private one: %v", err)
	}
}
