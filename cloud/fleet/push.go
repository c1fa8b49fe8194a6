package fleet

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/fieldline/fieldline/rules"
	"github.com/fieldline/fieldline/rules/signed"
)

// Push is one signed write to the rule bucket.
type Push struct {
	// Key is the target: signed.FleetKey, AgentKey or CanaryKey.
	Key string
	// Bundle is the rule bundle (YAML); empty with Clear.
	Bundle []byte
	Clear  bool
	// Canary is the selection of a canary key's bundle.
	Canary *signed.Canary
	// Signer is who pushes (user@host), Note why; both are signed too.
	Signer, Note string
}

// Pushed is what a push wrote.
type Pushed struct {
	Statement  *signed.Statement
	KVRevision uint64
}

// Validate compiles a bundle as the agents will; the error lists every
// problem (and wraps ErrInvalidBundle).
func Validate(name string, bundle []byte) (*rules.Program, error) {
	if !utf8.Valid(bundle) {
		return nil, fmt.Errorf("%w: %s is not UTF-8 text", ErrInvalidBundle, name)
	}
	prog, err := rules.Compile(name, bundle)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	return prog, nil
}

// Push validates p's bundle, gives it the next revision, signs it and
// stores it under p.Key, unless the key changed since it was read
// (ErrConflict: another push came first).
func (s *Store) Push(ctx context.Context, sig *signed.Signer, p Push) (Pushed, error) {
	st, err := s.prepare(ctx, sig, p, 1)
	if err != nil {
		return Pushed{}, err
	}
	return s.store(ctx, sig, st[0])
}

// prepare validates p, reserves n revisions and returns n statements for
// p.Key, the first one p itself, the others blank for the caller to fill
// (a canary's withdrawal). Their KV revision to write over is in kvRev.
func (s *Store) prepare(ctx context.Context, sig *signed.Signer, p Push, n uint64) ([]pending, error) {
	if sig == nil {
		return nil, ErrNoKey
	}
	if _, _, err := signed.SplitKey(p.Key); err != nil {
		return nil, fmt.Errorf("pushing: %w", err)
	}
	if !p.Clear {
		if _, err := Validate(p.Key, p.Bundle); err != nil {
			return nil, err
		}
	}
	cur, _, err := s.Get(ctx, p.Key)
	if err != nil {
		return nil, err
	}
	var atLeast uint64
	if cur.Statement != nil {
		atLeast = cur.Statement.Revision
	}
	first, err := s.nextRevisions(ctx, n, atLeast)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	out := make([]pending, n)
	for i := range out {
		out[i] = pending{kvRev: cur.KVRevision, st: signed.Statement{Key: p.Key, Revision: first + uint64(i), SignedAt: now, Signer: p.Signer}}
	}
	out[0].st.Bundle, out[0].st.Clear, out[0].st.Canary, out[0].st.Note = string(p.Bundle), p.Clear, p.Canary, p.Note
	return out, nil
}

// pending is a statement about to be signed and written over kvRev.
type pending struct {
	st    signed.Statement
	kvRev uint64
}

func (s *Store) store(ctx context.Context, sig *signed.Signer, p pending) (Pushed, error) {
	env, err := sig.Sign(p.st)
	if err != nil {
		return Pushed{}, err
	}
	rev, err := s.write(ctx, s.rules, p.st.Key, env, p.kvRev)
	if err != nil {
		return Pushed{}, err
	}
	st := p.st
	st.KeyID = sig.KeyID()
	return Pushed{Statement: &st, KVRevision: rev}, nil
}

// Rollback pushes the bundle of revision to (from the key's history) again,
// signed anew with the next revision: agents refuse an older revision, so
// going back is a new push of old content.
func (s *Store) Rollback(ctx context.Context, sig *signed.Signer, key string, to uint64, signer string) (Pushed, error) {
	hist, err := s.History(ctx, key)
	if err != nil {
		return Pushed{}, err
	}
	var kept []uint64
	for _, e := range hist {
		if e.Statement == nil {
			continue
		}
		kept = append(kept, e.Statement.Revision)
		if e.Statement.Revision != to {
			continue
		}
		if e.Statement.Clear {
			return Pushed{}, fmt.Errorf("%w: %s@%d cleared the key; it has no bundle to go back to", ErrNotInHistory, key, to)
		}
		return s.Push(ctx, sig, Push{Key: key, Bundle: []byte(e.Statement.Bundle), Canary: e.Statement.Canary, Signer: signer,
			Note: fmt.Sprintf("rollback to revision %d", to)})
	}
	return Pushed{}, fmt.Errorf("%w: %s has no verified revision %d (it keeps %v)", ErrNotInHistory, key, to, kept)
}
