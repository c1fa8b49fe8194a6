package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Open opens or creates the buffer file at path. nil opts means
// DefaultOptions(). Before bbolt writes to it, Open checks the file's pages
// (checkPages). A file that is damaged (a page that fails the check, a
// file bbolt rejects or that is shorter than its metadata says, a buffer
// state that does not decode) is rebuilt: what can be read of it goes into
// a fresh file with the same seqs, the damaged file is renamed to
// path+".corrupt-<UTC time>", and what could not be read is counted lost,
// with one error log line (see the package doc). A file larger than
// MaxBytes (the cap was lowered) is trimmed to the cap's budget, dropping
// the oldest readings, and compacted. Open reads no segment of a sound
// file: its cost grows with the file's pages, not with their bytes.
func Open(path string, opts *Options) (*Buffer, error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Buffer{
		path:      path,
		opts:      o,
		log:       o.Logger.With("path", path),
		m:         o.Metrics,
		wake:      make(chan struct{}, 1),
		committed: make(chan struct{}, 1),
		rebuilt:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	for l := range fieldline.NumLanes {
		b.lm[l] = b.m.lane(fieldline.Lane(l))
	}

	if err := finishRebuild(path); err != nil {
		return nil, err
	}
	marks, haveMarks, err := readSidecar(path)
	lost := haveMarks // a sidecar without a database means the database was lost
	if err != nil {
		b.m.Corrupt.WithLabelValues("sidecar").Inc()
		b.log.Warn("buffer seq sidecar unreadable; seqs of a fresh buffer will start at the clock floor", "err", err)
		lost = true
	}
	ld, err := b.openDB(lost, marks, true)
	if errors.Is(err, ErrCorrupt) {
		// Seqs of a lane whose committed range the damaged file does not
		// tell exactly start above the sidecar's mark and the clock floor.
		floor := uint64(o.Now().UnixMicro())
		if rerr := b.rebuildAtOpen(err, marks, floor); rerr != nil {
			return nil, fmt.Errorf("rebuilding damaged buffer file: %w (it was damaged: %w)", rerr, err)
		}
		ld, err = b.openDB(lost, marks, false)
	}
	if err != nil {
		return nil, err
	}
	st := ld.st
	b.cst = st
	b.appState = ld.app
	b.adoptAliases(ld.aliases, ld.aliasesErr)
	for l := range fieldline.NumLanes {
		b.lanes[l].st = st[l]
		b.lanes[l].acked = ld.acks[l]
		b.lanes[l].lost = ld.lost[l]
		b.marks[l] = marks[l]
	}
	// Make sure the sidecar covers what the database has used.
	raise := false
	for l := range fieldline.NumLanes {
		if b.marks[l] < st[l].nextSeq {
			b.marks[l] = st[l].nextSeq + seqBlock
			raise = true
		}
	}
	if raise || !haveMarks {
		if err := writeSidecar(path, b.marks, o.NoSync); err != nil {
			_ = b.closeDB()
			return nil, err
		}
	}
	if err := b.shrinkToCap(); err != nil {
		if b.db != nil {
			_ = b.closeDB()
		}
		return nil, err
	}
	if o.WriteDelay > 0 {
		// Without a journal a crash would lose what is held: then nothing
		// is held (journalRoom), every commit is written.
		if boot, ok := b.bootID(); !ok {
			b.log.Warn("buffer write_delay is off: the kernel tells no boot id, so a journal of held segments could not be trusted after a crash; every commit is written")
		} else {
			var top [fieldline.NumLanes]uint64
			for l := range top {
				top[l] = b.lanes[l].st.nextSeq
			}
			if b.jnl, err = openJournal(path, boot, top, o.journalShrinkAt); err != nil {
				b.log.Error("buffer write_delay is off: the journal of held segments cannot be written; every commit is written", "err", err)
			}
		}
	}
	b.updateGauges()
	b.running = true
	go b.run()
	return b, nil
}

// openDB opens bbolt and loads the lane states. Corruption is reported as
// an error wrapping ErrCorrupt; bbolt panics and memory faults while reading
// a damaged file are turned into such errors. With check, the pages are
// checked (checkPages) once bbolt holds the file's lock and before it
// writes anything: a damaged page is an error wrapping ErrCorrupt.
func (b *Buffer) openDB(lost bool, marks [fieldline.NumLanes]uint64, check bool) (ld loaded, err error) {
	st, acks := &ld.st, &ld.acks
	if err := checkFileLength(b.path); err != nil {
		return ld, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if err != nil && b.db != nil {
			_ = b.closeDB()
		}
	}()
	defer catchDamage(&err, "reading buffer file")
	bo := &bolt.Options{
		Timeout:      time.Second,
		FreelistType: bolt.FreelistMapType,
		NoSync:       b.opts.NoSync,
		NoGrowSync:   b.opts.NoSync,
		MaxSize:      int(b.opts.MaxBytes),
	}
	db, err := bolt.Open(b.path, 0o600, bo)
	if err != nil {
		return ld, classifyOpenErr(err)
	}
	b.db = db
	if b.metaF, err = os.Open(b.path); err != nil {
		return ld, fmt.Errorf("opening buffer: %w", err)
	}
	b.pageSize = db.Info().PageSize
	db.AllocSize = allocSize(b.opts.MaxBytes)
	if check {
		began := time.Now()
		problems, err := checkPages(b.path, false)
		if err != nil {
			return ld, err
		}
		if len(problems) > 0 {
			return ld, &pagesDamaged{problems: problems}
		}
		b.log.Debug("buffer file pages checked", "took", time.Since(began))
	}
	floor := uint64(1)
	if lost {
		floor = max(floor, uint64(b.opts.Now().UnixMicro()))
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketState) != nil {
				return fmt.Errorf("state without meta bucket: %w", ErrCorrupt)
			}
			return initDB(tx, b.opts.AgentID)
		}
		if f := meta.Get(keyFormat); len(f) != 1 || f[0] != formatVersion {
			return fmt.Errorf("format %v, want [%d]: %w", f, formatVersion, ErrCorrupt)
		}
		if a := string(meta.Get(keyAgent)); a != b.opts.AgentID {
			b.log.Warn("buffer file was written for another agent id; stored readings go out under the new one",
				"stored", a, "agent", b.opts.AgentID)
			return meta.Put(keyAgent, []byte(b.opts.AgentID))
		}
		return nil
	})
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			state, err := stateOf(tx)
			if err != nil {
				return err
			}
			if err := state.resync(); err != nil {
				return err
			}
			ld.app = append([]byte(nil), state.Get(keyAppState)...)
			if ld.aliases, ld.aliasesErr = readAliases(tx); ld.aliasesErr != nil {
				// The record names a table no copy of which reads back:
				// the segments that name it are lost (counted when read),
				// and a new table gets a new epoch.
				if err := state.Delete(keyAliasState); err != nil {
					return err
				}
			}
			for l := range fieldline.NumLanes {
				if tx.Bucket(segBuckets[l]) == nil || tx.Bucket(idxBuckets[l]) == nil {
					return fmt.Errorf("lane %s buckets missing: %w", fieldline.Lane(l), ErrCorrupt)
				}
				v := state.Get(laneKeys[l])
				if v == nil {
					start := floor
					if lost {
						start = max(start, marks[l])
					}
					st[l] = laneState{nextSeq: start, lowSeq: start}
					if err := state.Put(laneKeys[l], st[l].marshal()); err != nil {
						return err
					}
					continue
				}
				s, err := decodeLaneState(v)
				if err != nil {
					return fmt.Errorf("lane %s: %w", fieldline.Lane(l), err)
				}
				if acks[l], err = decodeSpans(state.Get(ackKeys[l])); err != nil {
					return fmt.Errorf("lane %s: %w", fieldline.Lane(l), err)
				}
				if ld.lost[l], err = decodeLost(state.Get(lostKeys[l])); err != nil {
					return fmt.Errorf("lane %s: %w", fieldline.Lane(l), err)
				}
				if err := checkLane(tx, fieldline.Lane(l), s); err != nil {
					return err
				}
				st[l] = s
			}
			return b.jumpHeld(tx, state, &ld, marks)
		})
	}
	if err != nil {
		return ld, err
	}
	return ld, nil
}

// loaded is what openDB read from the state bucket.
type loaded struct {
	st   [fieldline.NumLanes]laneState
	acks [fieldline.NumLanes]spanSet
	lost [fieldline.NumLanes]lostRecord
	app  []byte // the caller's state (Open takes it; a rebuild keeps the buffer's)

	aliases    *wire.Aliases // the alias table, nil when none
	aliasesErr error         // its blob did not decode
}

// checkLane compares a lane's state with its first and last index
// entries: no entry may lie below lowSeq or reach nextSeq. Undecodable
// entries are skipped (readers and commits treat them as gone), and so are
// holes at either end (readers find them and count them as dropped).
func checkLane(tx *bolt.Tx, lane fieldline.Lane, s laneState) error {
	var first, last []byte // keys of the first and last entries with a seq key
	cur := tx.Bucket(idxBuckets[lane]).Cursor()
	for k, _ := cur.First(); k != nil && first == nil; k, _ = cur.Next() {
		if len(k) == 8 {
			first = k
		}
	}
	for k, v := cur.Last(); k != nil; k, v = cur.Prev() {
		if len(k) != 8 {
			continue
		}
		last = k
		if e, err := decodeIndexEntry(k, v); err == nil && e.last >= s.nextSeq {
			return fmt.Errorf("lane %s: segment %d..%d, state says next seq %d: %w", lane, e.first, e.last, s.nextSeq, ErrCorrupt)
		}
		break
	}
	if first == nil {
		return nil
	}
	if f, l := keyOf(first), keyOf(last); f < s.lowSeq || l >= s.nextSeq {
		return fmt.Errorf("lane %s: segments from %d to %d, state says %d..%d: %w",
			lane, f, l, s.lowSeq, s.nextSeq-1, ErrCorrupt)
	}
	return nil
}

func initDB(tx *bolt.Tx, agent string) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte{formatVersion}); err != nil {
		return err
	}
	if err := meta.Put(keyAgent, []byte(agent)); err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketState); err != nil {
		return err
	}
	if _, err := stateOf(tx); err != nil {
		return err
	}
	for l := range fieldline.NumLanes {
		if _, err := tx.CreateBucketIfNotExists(segBuckets[l]); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(idxBuckets[l]); err != nil {
			return err
		}
	}
	return nil
}

func classifyOpenErr(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("opening buffer: %w", ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("opening buffer: %w: %w", ErrCorrupt, err)
	}
	return fmt.Errorf("opening buffer: %w", err)
}

// allocSize is how much bbolt grows the file by at a time: small enough
// that growth stays within the cap.
func allocSize(maxBytes int64) int {
	if maxBytes <= 0 {
		return 16 << 20
	}
	return int(min(max(maxBytes/64, 32<<10), 4<<20))
}

// checkFileLength reads bbolt's two meta pages and checks that the file is
// as long as the newest valid one says. bbolt itself does not, and reading a
// page past the end of a memory-mapped file is a fatal fault, not an error.
func checkFileLength(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening buffer: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening buffer: %w", err)
	}
	size := fi.Size()
	if size == 0 {
		return nil // bbolt initialises an empty file
	}
	var best *boltMeta
	for _, ps := range []int64{4096, 8192, 16384, 65536} {
		for i := int64(0); i < 2; i++ {
			buf := make([]byte, 16+64)
			if _, err := f.ReadAt(buf, i*ps); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading buffer file header: %w", err)
			}
			if m, ok := parseBoltMeta(buf[16:]); ok && int64(m.pageSize) == ps && (best == nil || m.txid > best.txid) {
				best = &m
			}
		}
		if best != nil {
			break
		}
	}
	if best == nil {
		return fmt.Errorf("file of %d bytes has no valid bbolt meta page: %w", size, ErrCorrupt)
	}
	if need := int64(best.pgid) * int64(best.pageSize); size < need {
		return fmt.Errorf("file of %d bytes is truncated: its meta page says %d: %w", size, need, ErrCorrupt)
	}
	return nil
}

type boltMeta struct {
	pageSize uint32
	root     uint64 // root page of the root bucket
	freelist uint64
	pgid     uint64 // high-water mark: pages in use lie below it
	txid     uint64
}

// parseBoltMeta decodes bbolt's meta layout (magic, version, page size,
// flags, root bucket, freelist, pgid, txid, checksum over the fields before
// it) in the machine's byte order, as bbolt writes it.
func parseBoltMeta(b []byte) (boltMeta, bool) {
	if len(b) < 64 {
		return boltMeta{}, false
	}
	le := binary.NativeEndian
	if le.Uint32(b[0:]) != 0xED0CDAED || le.Uint32(b[4:]) != 2 {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: le.Uint32(b[8:]), root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]),
		pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}, true
}
