package buffer

// The file's sensor alias table (issue 19, wire.Aliases). Segments are
// stored in wire form, so unless Options.NoAliases they name their sensors
// by the aliases of a table that belongs to this file: it is made with a
// random epoch the first time, grows as commits meet new sensors, and is
// written in the same transaction as the first segment that names a new
// alias.
//
// What a commit writes: the table twice, as a blob (blobAliases) and in a
// bucket of its own (bucketAliasCopy), so that one damaged page does not
// take it, each copy behind a random nonce drawn for that write; and, in
// the state (which has its own copy), the record of the committed table:
// its epoch, length and nonce. A copy is the file's table only when its
// nonce is the record's. That matters to a rebuild, which also reads
// pages outside the tree: a commit torn by a power cut can leave there a
// copy with aliases the file never committed, and after the restart the
// same numbers go to other sensors; such a copy has another nonce and is
// never taken. Segments that name aliases no copy of the committed table
// holds are counted lost like any undecodable one.
//
// Aliases (what the forwarder announces and encodes with) is the committed
// table only: aliases given during a commit that fails are never
// announced, so a restart that gives their numbers to other sensors
// cannot contradict what the bridges were told.

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	bolt "go.etcd.io/bbolt"

	"github.com/fieldline/fieldline/protocols/wire"
)

// blobAliases is the blob holding the alias table. The leading zero byte
// keeps it apart from the caller's names, which PutBlob refuses to start
// with one.
const blobAliases = "\x00aliases"

// bucketAliasCopy holds the second copy of the table (key keyAliasTable),
// padded into pages of its own like the blobs bucket.
var (
	bucketAliasCopy = []byte("aliases.copy")
	keyAliasTable   = []byte("table")
	// keyAliasState is the committed table's record in the state:
	// aliasRecord.marshal.
	keyAliasState = []byte("aliases")
)

// aliasRecord names the committed table: a copy is it when its nonce is
// the record's (and its epoch and length agree).
type aliasRecord struct {
	epoch, nonce uint64
	n            uint32
}

const aliasRecordLen = 20

func (r aliasRecord) marshal() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, aliasRecordLen), r.epoch)
	b = binary.BigEndian.AppendUint64(b, r.nonce)
	return binary.BigEndian.AppendUint32(b, r.n)
}

func decodeAliasRecord(v []byte) (aliasRecord, bool) {
	if len(v) != aliasRecordLen {
		return aliasRecord{}, false
	}
	return aliasRecord{epoch: binary.BigEndian.Uint64(v), nonce: binary.BigEndian.Uint64(v[8:]), n: binary.BigEndian.Uint32(v[16:])}, true
}

// A copy of the table is its nonce (8 bytes) and the table as a
// wire.Birth without agent id.
const aliasNonceLen = 8

// isAliasCopy tells a value that may be a copy of the table.
func isAliasCopy(v []byte) bool { return len(v) > aliasNonceLen && wire.IsBirth(v[aliasNonceLen:]) }

// decodeAliasCopy reads a copy of the table.
func decodeAliasCopy(v []byte) (*wire.Aliases, uint64, error) {
	if !isAliasCopy(v) {
		return nil, 0, fmt.Errorf("alias table copy of %d bytes: %w", len(v), ErrCorrupt)
	}
	_, a, err := wire.DecodeBirthTable(v[aliasNonceLen:], wire.Limits{})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the alias table: %w: %w", ErrCorrupt, err)
	}
	return a, binary.BigEndian.Uint64(v), nil
}

// matches tells whether a copy (a, with nonce) is the table r records.
func (r aliasRecord) matches(a *wire.Aliases, nonce uint64) bool {
	return a != nil && nonce == r.nonce && a.Epoch() == r.epoch && a.Len() == int(r.n)
}

// Aliases returns the file's committed alias table, nil when it has none
// (NoAliases, and no table from an earlier run). The forwarder announces
// it (wire.Birth) before it sends a stored segment that names aliases, and
// encodes the batches it makes with it. Every stored segment names only
// aliases of it.
func (b *Buffer) Aliases() *wire.Aliases { return b.aliasesPub.Load() }

// lookup decodes the aliases of the file's segments.
func (b *Buffer) lookup(epoch uint64, need int) ([]string, error) {
	a := b.aliases.Load()
	if a == nil {
		return nil, fmt.Errorf("segment names alias table %016x and the file has none: %w", epoch, wire.ErrAliasUnknown)
	}
	return a.Lookup(epoch, need)
}

// servesAliases tells whether the file's committed table decodes a
// segment naming need aliases of table epoch (0: none). Readers call it:
// it reads the published table, not aliasesKept, which only the
// committer may read.
func (b *Buffer) servesAliases(epoch uint64, need int) bool {
	if epoch == 0 {
		return true
	}
	a := b.aliasesPub.Load()
	return a != nil && a.Epoch() == epoch && a.Len() >= need
}

// encodeAliases is the table segments are encoded with: nil with
// Options.NoAliases.
func (b *Buffer) encodeAliases() *wire.Aliases {
	if b.opts.NoAliases {
		return nil
	}
	return b.aliases.Load()
}

// readAliases reads the committed table of the file open in tx: a copy
// whose nonce is the state's record. nil, nil when the file has none.
func readAliases(tx *bolt.Tx) (*wire.Aliases, error) {
	st := tx.Bucket(bucketState)
	if st == nil {
		return nil, nil
	}
	rv := st.Get(keyAliasState)
	if rv == nil {
		return nil, nil
	}
	rec, ok := decodeAliasRecord(rv)
	if !ok {
		return nil, fmt.Errorf("alias table record of %d bytes: %w", len(rv), ErrCorrupt)
	}
	var vs [][]byte
	if bk := tx.Bucket(bucketBlobs); bk != nil {
		vs = append(vs, bk.Get([]byte(blobAliases)))
	}
	if bk := tx.Bucket(bucketAliasCopy); bk != nil {
		vs = append(vs, bk.Get(keyAliasTable))
	}
	var errs []error
	for _, v := range vs {
		a, nonce, err := decodeAliasCopy(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rec.matches(a, nonce) {
			return a, nil
		}
	}
	return nil, fmt.Errorf("no copy of alias table %016x (%d aliases) reads back: %w", rec.epoch, rec.n, ErrCorrupt)
}

// writeAliasTable stores both copies of table a as it is now, and its
// record; it returns how many aliases it wrote.
func writeAliasTable(tx *bolt.Tx, state stateTx, a *wire.Aliases) (int, error) {
	bt := a.Birth("")
	rec := aliasRecord{epoch: bt.Epoch, nonce: rand.Uint64(), n: uint32(len(bt.IDs))}
	v, err := wire.AppendBirth(binary.BigEndian.AppendUint64(nil, rec.nonce), &bt)
	if err != nil {
		return 0, fmt.Errorf("encoding the alias table: %w", err)
	}
	bk, err := blobBucket(tx)
	if err != nil {
		return 0, err
	}
	if err := bk.Put([]byte(blobAliases), v); err != nil {
		return 0, fmt.Errorf("writing the alias table: %w", err)
	}
	cp, err := paddedBucket(tx, bucketAliasCopy, keyPad)
	if err != nil {
		return 0, fmt.Errorf("writing the alias table's copy: %w", err)
	}
	if err := cp.Put(keyAliasTable, v); err != nil {
		return 0, fmt.Errorf("writing the alias table's copy: %w", err)
	}
	if err := state.Put(keyAliasState, rec.marshal()); err != nil {
		return 0, fmt.Errorf("writing the alias table's record: %w", err)
	}
	return len(bt.IDs), nil
}

// adoptAliases takes the committed table openDB read (a, maybe nil, or
// err when no copy of it read back). The table in memory, when there is
// one, stays (a reopened file, after a rebuild or a shrink, holds the
// same table or its start); when the file's is not the start of it, the
// whole table is written again with the next commit. A new table is made
// when there is none, unless Options.NoAliases.
func (b *Buffer) adoptAliases(a *wire.Aliases, err error) {
	if err != nil {
		b.m.Corrupt.WithLabelValues("aliases").Inc()
		b.log.Warn("buffer alias table unreadable; segments that name its aliases will be counted lost", "err", err)
	}
	cur := b.aliases.Load()
	switch {
	case cur != nil:
		b.aliasesKept = 0
		if a != nil && a.StartOf(cur) {
			b.aliasesKept = a.Len()
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
	b.publishAliases()
}

// publishAliases makes the committed part of the table what Aliases
// returns.
func (b *Buffer) publishAliases() {
	a := b.aliases.Load()
	if a == nil {
		b.aliasesPub.Store(nil)
		return
	}
	if c := b.aliasesPub.Load(); c != nil && c.Epoch() == a.Epoch() && c.Len() == b.aliasesKept {
		return
	}
	c, err := wire.NewAliases(a.Epoch(), a.IDs()[:b.aliasesKept])
	if err != nil { // cannot be: a prefix of a table that holds together
		b.log.Error("publishing the alias table", "err", err)
		return
	}
	b.aliasesPub.Store(c)
}

// aliasesGrew returns the table and whether it has aliases the file does
// not hold yet (the committer's: aliasesKept is its).
func (b *Buffer) aliasesGrew() (*wire.Aliases, bool) {
	a := b.aliases.Load()
	return a, a != nil && a.Len() > b.aliasesKept
}

// keepAliases writes the table in tx when it has grown since it was last
// written; it returns how many aliases the file then holds, for the
// caller to note once tx commits.
func (b *Buffer) keepAliases(tx *bolt.Tx, state stateTx) (int, error) {
	a, grew := b.aliasesGrew()
	if !grew {
		return b.aliasesKept, nil
	}
	return writeAliasTable(tx, state, a)
}
