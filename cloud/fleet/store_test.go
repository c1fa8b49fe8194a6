package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

func testKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

// testStore opens the buckets on a fresh embedded NATS server; it signs
// with testKey(1) and trusts it.
func testStore(t *testing.T) (*Store, *signed.Signer, *nats.Conn, string) {
	t.Helper()
	ns := testkit.NATS(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sig := signed.NewSigner(testKey(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := OpenStore(ctx, nc, Config{NATS: uplink.NATSConfig{URL: ns.URL()}, History: 8}, signed.NewKeyRing(sig.Public()))
	if err != nil {
		t.Fatal(err)
	}
	return s, sig, nc, ns.URL()
}

func bundle(version string) []byte {
	return []byte(fmt.Sprintf("version: %q\nname: b\nrules:\n  - {match: 'x.*', deadband: {absolute: 1}}\n", version))
}

func TestPushAndHistory(t *testing.T) {
	s, sig, _, _ := testStore(t)
	ctx := context.Background()

	_, err := s.Push(ctx, sig, Push{Key: "fleet.f", Bundle: []byte("version: v\nname: b\nrules:\n  - {match: 'x', deadband: {absolute: -1}}\n  - {match: 'y', min_interval: -1s}\n")})
	if !errors.Is(err, ErrInvalidBundle) || !strings.Contains(err.Error(), "rules[0].deadband.absolute") || !strings.Contains(err.Error(), "rules[1].min_interval") {
		t.Fatalf("invalid bundle: %v (want every problem)", err)
	}
	if _, err := s.Push(ctx, sig, Push{Key: "fleet.a b", Bundle: bundle("v1")}); err == nil {
		t.Fatal("a bad key was pushed")
	}
	if _, err := s.Push(ctx, nil, Push{Key: "fleet.f", Bundle: bundle("v1")}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no signer: %v", err)
	}

	var revs []uint64
	for _, p := range []Push{
		{Key: "fleet.f", Bundle: bundle("v1"), Signer: "op@host"},
		{Key: "agent.gw-1", Bundle: bundle("mine")},
		{Key: "fleet.f", Bundle: bundle("v2")},
		{Key: "agent.gw-1", Clear: true, Note: "back to the fleet"},
	} {
		got, err := s.Push(ctx, sig, p)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, got.Statement.Revision)
	}
	if fmt.Sprint(revs) != "[1 2 3 4]" {
		t.Fatalf("revisions %v: one counter for the bucket", revs)
	}
	hist, err := s.History(ctx, "fleet.f")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hist {
		if e.Err != nil {
			t.Fatalf("history entry %d: %v", e.KVRevision, e.Err)
		}
		got = append(got, fmt.Sprintf("%d:%s", e.Statement.Revision, strings.Split(e.Statement.Bundle, "\n")[0]))
	}
	if fmt.Sprint(got) != `[1:version: "v1" 3:version: "v2"]` {
		t.Fatalf("history %v", got)
	}
	e, ok, err := s.Get(ctx, "agent.gw-1")
	if err != nil || !ok || !e.Statement.Clear || e.Statement.Note != "back to the fleet" {
		t.Fatalf("cleared key: %+v %v %v", e, ok, err)
	}

	// A value written straight into the bucket shows as refused.
	if _, err := s.rules.Put(ctx, "fleet.f", bundle("raw")); err != nil {
		t.Fatal(err)
	}
	e, _, _ = s.Get(ctx, "fleet.f")
	if !errors.Is(e.Err, signed.ErrUnsigned) || e.Statement != nil {
		t.Fatalf("raw value: %+v", e)
	}
	// The next push still takes a revision above every one before.
	p, err := s.Push(ctx, sig, Push{Key: "fleet.f", Bundle: bundle("v3")})
	if err != nil || p.Statement.Revision != 5 {
		t.Fatalf("push over a raw value: %+v %v", p, err)
	}
}

// TestPushConflict: a push that read the key before another push wrote it
// writes nothing.
func TestPushConflict(t *testing.T) {
	s, sig, _, _ := testStore(t)
	ctx := context.Background()
	ps, err := s.prepare(ctx, sig, Push{Key: "fleet.f", Bundle: bundle("slow")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Push(ctx, sig, Push{Key: "fleet.f", Bundle: bundle("fast")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store(ctx, sig, ps[0]); !errors.Is(err, ErrConflict) {
		t.Fatalf("late write: %v, want ErrConflict", err)
	}
	e, _, _ := s.Get(ctx, "fleet.f")
	if !strings.Contains(e.Statement.Bundle, "fast") {
		t.Fatalf("the key holds %q", e.Statement.Bundle)
	}
}

// TestRevisionsUnique: pushes at once to many keys never share a revision.
func TestRevisionsUnique(t *testing.T) {
	s, sig, _, _ := testStore(t)
	var mu sync.Mutex
	seen := map[uint64]string{}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			key := fmt.Sprintf("agent.gw-%d", i)
			for range 3 {
				p, err := s.Push(context.Background(), sig, Push{Key: key, Bundle: bundle("x")})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := seen[p.Statement.Revision]; dup {
					t.Errorf("revision %d given to %s and %s", p.Statement.Revision, prev, key)
				}
				seen[p.Statement.Revision] = key
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 48 {
		t.Fatalf("%d revisions for 48 pushes", len(seen))
	}
}

func TestRollback(t *testing.T) {
	s, sig, _, _ := testStore(t)
	ctx := context.Background()
	for _, v := range []string{"v1", "v2", "v3"} {
		if _, err := s.Push(ctx, sig, Push{Key: "fleet.f", Bundle: bundle(v)}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Rollback(ctx, sig, "fleet.f", 1, "op")
	if err != nil {
		t.Fatal(err)
	}
	if p.Statement.Revision != 4 || !strings.Contains(p.Statement.Bundle, `"v1"`) || p.Statement.Note != "rollback to revision 1" {
		t.Fatalf("rollback pushed %+v", p.Statement)
	}
	if _, err := s.Rollback(ctx, sig, "fleet.f", 99, "op"); !errors.Is(err, ErrNotInHistory) || !strings.Contains(err.Error(), "it keeps [1 2 3 4]") {
		t.Fatalf("rollback to a revision never pushed: %v", err)
	}
	if _, err := s.Push(ctx, sig, Push{Key: "fleet.f", Clear: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollback(ctx, sig, "fleet.f", 5, "op"); !errors.Is(err, ErrNotInHistory) || !strings.Contains(err.Error(), "cleared") {
		t.Fatalf("rollback to a clear: %v", err)
	}
}
