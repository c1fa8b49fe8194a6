package buffer

// The file's sensor alias table (issue 19, wire.Aliases). Segments are
// stored in wire form, so unless Options.NoAliases they name their sensors by
// the aliases of a table that belongs to this file: it is made with a
// random epoch the first time, grows as commits meet new sensors, and is
// written in the same transaction as the first segment that names a new
// alias, twice: as a blob (blobAliases) and in a bucket of its own
// (bucketAliasCopy), so that one damaged page does not take it. A rebuild
// of a damaged file finds the table wherever a copy of it is left, old
// copies in freed pages included (a table only grows: an old copy is the
// start of the new one), and writes it into the new file. Segments that
// name aliases no copy holds are counted lost like any undecodable one.

import (
	"fmt"
	"math/rand/v2"

	bolt "go.etcd.io/bbolt"

	"github.com/fieldline/fieldline/protocols/wire"
)

// blobAliases is the blob holding the alias table (a wire.Birth without
// agent id). The leading zero byte keeps it apart from the caller's names,
// which PutBlob refuses to start with one.
const blobAliases = "\x00aliases"

// Aliases returns the file's alias table, nil when it has none (NoAliases,
// and no table from an earlier run). The forwarder announces it
// (wire.Birth) before it sends a stored segment that names aliases.
func (b *Buffer) Aliases() *wire.Aliases { return b.aliases.Load() }

// lookup decodes the aliases of the file's segments.
func (b *Buffer) lookup(epoch uint64, need int) ([]string, error) {
	a := b.aliases.Load()
	if a == nil {
		return nil, fmt.Errorf("segment names alias table %016x and the file has none: %w", epoch, wire.ErrAliasUnknown)
	}
	return a.Lookup(epoch, need)
}

// encodeAliases is the table segments are encoded with: nil with
// Options.NoAliases.
func (b *Buffer) encodeAliases() *wire.Aliases {
	if b.opts.NoAliases {
		return nil
	}
	return b.aliases.Load()
}

// decodeAliases reads a table from its blob; nil, nil when v is nil.
func decodeAliases(v []byte) (*wire.Aliases, error) {
	if v == nil {
		return nil, nil
	}
	bt, err := wire.DecodeBirth(v, wire.Limits{})
	if err != nil {
		return nil, fmt.Errorf("reading the alias table: %w: %w", ErrCorrupt, err)
	}
	return wire.NewAliases(bt.Epoch, bt.IDs)
}

// bucketAliasCopy holds a second copy of the alias table (key
// keyAliasTable), padded into pages of its own like the blobs bucket, so
// that no single damaged page takes the table, and with it every segment
// that names its aliases.
var (
	bucketAliasCopy = []byte("aliases.copy")
	keyAliasTable   = []byte("table")
)

// readAliases reads the table of the file open in tx: the longer of its
// two copies that decodes (the table only grows, so both are the same or
// one is the start of the other).
func readAliases(tx *bolt.Tx) (*wire.Aliases, error) {
	var vs [][]byte
	if bk := tx.Bucket(bucketBlobs); bk != nil {
		vs = append(vs, bk.Get([]byte(blobAliases)))
	}
	if bk := tx.Bucket(bucketAliasCopy); bk != nil {
		vs = append(vs, bk.Get(keyAliasTable))
	}
	var best *wire.Aliases
	var errs []error
	for _, v := range vs {
		a, err := decodeAliases(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		best = longerAliases(best, a)
	}
	if best == nil && len(errs) > 0 {
		return nil, errs[0]
	}
	return best, nil
}

// longerAliases returns the longer of two copies of a table; a copy of
// another epoch than the first one given never wins.
func longerAliases(a, b *wire.Aliases) *wire.Aliases {
	switch {
	case a == nil:
		return b
	case b == nil || b.Epoch() != a.Epoch() || b.Len() <= a.Len():
		return a
	}
	return b
}

// writeAliasTable stores both copies of the table v (a wire.Birth).
func writeAliasTable(tx *bolt.Tx, v []byte) error {
	bk, err := blobBucket(tx)
	if err != nil {
		return err
	}
	if err := bk.Put([]byte(blobAliases), v); err != nil {
		return fmt.Errorf("writing the alias table: %w", err)
	}
	cp, err := tx.CreateBucketIfNotExists(bucketAliasCopy)
	if err != nil {
		return fmt.Errorf("writing the alias table's copy: %w", err)
	}
	if cp.Get(keyPad) == nil {
		if err := cp.Put(keyPad, make([]byte, statePadLen)); err != nil {
			return err
		}
	}
	if err := cp.Put(keyAliasTable, v); err != nil {
		return fmt.Errorf("writing the alias table's copy: %w", err)
	}
	return nil
}

// adoptAliases takes the table openDB read (a, maybe nil, or err when its
// blob did not decode). The table in memory, when there is one, stays: a
// reopened file (after a rebuild or a shrink) holds the same table or a
// part of it, and what it lacks is written again with the next commit. A
// new table is made when there is none, unless Options.NoAliases.
func (b *Buffer) adoptAliases(a *wire.Aliases, err error) {
	if err != nil {
		b.m.Corrupt.WithLabelValues("aliases").Inc()
		b.log.Warn("buffer alias table unreadable; segments that name its aliases will be counted lost", "err", err)
	}
	cur := b.aliases.Load()
	switch {
	case cur != nil:
		b.aliasesKept = 0
		if a != nil && a.Epoch() == cur.Epoch() {
			b.aliasesKept = min(a.Len(), cur.Len())
		}
	case a != nil:
		b.aliases.Store(a)
		b.aliasesKept = a.Len()
	case !b.opts.NoAliases:
		epoch := rand.Uint64()
		for epoch == 0 {
			epoch = rand.Uint64()
		}
		a, _ := wire.NewAliases(epoch, nil)
		b.aliases.Store(a)
		b.aliasesKept = 0
	}
}

// keepAliases writes the table in tx when it has grown since it was last
// written; it returns how many aliases the file then holds, for the
// caller to note once tx commits.
func (b *Buffer) keepAliases(tx *bolt.Tx) (int, error) {
	a := b.aliases.Load()
	if a == nil {
		return 0, nil
	}
	bt := a.Birth("")
	if len(bt.IDs) <= b.aliasesKept {
		return b.aliasesKept, nil
	}
	v, err := wire.AppendBirth(nil, &bt)
	if err != nil {
		return 0, fmt.Errorf("encoding the alias table: %w", err)
	}
	if err := writeAliasTable(tx, v); err != nil {
		return 0, err
	}
	return len(bt.IDs), nil
}
