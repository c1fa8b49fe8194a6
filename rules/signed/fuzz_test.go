package signed

import (
	"crypto/ed25519"
	"testing"
)

// FuzzOpen: no value in the bucket makes Open panic, and whatever Open
// accepts is a well-formed statement for the key asked, signed by the
// trusted key.
func FuzzOpen(f *testing.F) {
	key := testKey(1)
	sig := NewSigner(key)
	for _, st := range []Statement{
		{Key: "fleet.f", Revision: 1, SignedAt: signedAt, Bundle: bundleYAML},
		{Key: "fleet.f", Revision: 2, SignedAt: signedAt, Clear: true, Note: "n"},
	} {
		env, err := sig.Sign(st)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env)
	}
	forged, _ := NewSigner(testKey(2)).Sign(Statement{Key: "fleet.f", Revision: 3, SignedAt: signedAt, Bundle: "x"})
	f.Add(forged)
	f.Add([]byte(bundleYAML))
	f.Add([]byte(`{"format":"fieldline-rules/1","statement":{},"key_id":"x","signature":"AAAA"}`))
	ring := NewKeyRing(key.Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ring.Open(data, "fleet.f")
		if err != nil {
			return
		}
		if st.Key != "fleet.f" || st.KeyID != sig.KeyID() {
			t.Fatalf("accepted %+v", st)
		}
		if err := st.Check(); err != nil {
			t.Fatalf("accepted a statement that fails Check: %v", err)
		}
	})
}
