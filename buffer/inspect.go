package buffer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The functions in this file serve `fieldline-agent buffer stats|dump|compact`
// on the file of a stopped agent. They open bbolt read-only and fail with
// ErrLocked while an agent holds the file.

func openReadOnly(path string) (db *bolt.DB, err error) {
	if err := checkFileLength(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening buffer: %w", err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("opening buffer: %v: %w", r, ErrCorrupt)
		}
	}()
	db, err = bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if err != nil {
		return nil, classifyOpenErr(err)
	}
	return db, nil
}

// readState loads the lane states and acked ranges of an open file.
func readState(tx *bolt.Tx) (st [fieldline.NumLanes]laneState, acks [fieldline.NumLanes]spanSet, err error) {
	st, acks, _, err = readStateLost(tx)
	return st, acks, err
}

// readStateLost is readState with the lanes' lost records.
func readStateLost(tx *bolt.Tx) (st [fieldline.NumLanes]laneState, acks [fieldline.NumLanes]spanSet, lost [fieldline.NumLanes]lostRecord, err error) {
	state := tx.Bucket(bucketState)
	if state == nil || tx.Bucket(bucketMeta) == nil {
		return st, acks, lost, fmt.Errorf("not a buffer file (no state bucket): %w", ErrCorrupt)
	}
	for l := range fieldline.NumLanes {
		v := state.Get(laneKeys[l])
		if v == nil {
			st[l] = laneState{nextSeq: 1, lowSeq: 1}
			continue
		}
		if st[l], err = decodeLaneState(v); err != nil {
			return st, acks, lost, fmt.Errorf("lane %s: %w", fieldline.Lane(l), err)
		}
		if acks[l], err = decodeSpans(state.Get(ackKeys[l])); err != nil {
			return st, acks, lost, fmt.Errorf("lane %s: %w", fieldline.Lane(l), err)
		}
		if lost[l], err = decodeLost(state.Get(lostKeys[l])); err != nil {
			return st, acks, lost, fmt.Errorf("lane %s: %w", fieldline.Lane(l), err)
		}
		if tx.Bucket(idxBuckets[l]) == nil || tx.Bucket(segBuckets[l]) == nil {
			return st, acks, lost, fmt.Errorf("lane %s buckets missing: %w", fieldline.Lane(l), ErrCorrupt)
		}
	}
	return st, acks, lost, nil
}

// Inspect returns the Stats of a stopped agent's buffer file without
// changing it. Ages are measured against the current time. Its pages are
// walked first (Stats.Damage); when they are damaged, what bbolt can still
// read of the file is returned with the damage, and no error.
func Inspect(path string) (s Stats, err error) {
	unlock, err := lockShared(path)
	if err != nil {
		return Stats{}, err
	}
	damage, err := checkPages(path, true)
	unlock()
	if err != nil {
		return Stats{}, err
	}
	defer func() {
		if len(damage) > 0 {
			s.Damage, err = damage, nil
		}
	}()
	db, err := openReadOnly(path)
	if err != nil {
		return Stats{}, err
	}
	defer db.Close()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("inspecting buffer: %v: %w", r, ErrCorrupt)
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		st, acks, lost, err := readStateLost(tx)
		if err != nil {
			return err
		}
		var oldest [fieldline.NumLanes]int64
		for l := range fieldline.NumLanes {
			oldest[l] = oldestUnacked(tx, fieldline.Lane(l), &st[l], &acks[l])
		}
		s = summarize(st, acks, lost, oldest, time.Now())
		s.FileBytes = tx.Size()
		if state := tx.Bucket(bucketState); state.Get(keyHeld) != nil {
			s.Held = inspectJournal(path, st)
		}
		return nil
	})
	if fi, serr := os.Stat(path); serr == nil {
		s.FileBytes = fi.Size()
	}
	return s, err
}

// DumpOptions select what Dump writes.
type DumpOptions struct {
	Lanes []fieldline.Lane // nil: every lane
	From  uint64           // first seq (0: from the oldest)
	To    uint64           // last seq (0: to the newest)
	// Acked includes readings already acked but still stored (in segments
	// not yet wholly acked).
	Acked bool
	Limit int // stop after this many readings; 0: no limit
}

// Dump writes the stored readings of a stopped agent's buffer file as JSON
// lines, one reading per line, in lane and seq order: each the JSON record
// the bridge writes to fl.readings (wire.AppendRecordJSON: agent_id,
// sensor_id, timestamp_ns, value, quality, seq, lane, kind, flags, text),
// with "acked":true added to a reading already acked (DumpOptions.Acked).
// The agent id is the one the file was written for. A segment that does
// not decode is reported in an error after the readable ones are written.
func Dump(path string, w io.Writer, opts DumpOptions) (err error) {
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("dumping buffer: %v: %w", r, ErrCorrupt)
		}
	}()
	lanes := opts.Lanes
	if lanes == nil {
		lanes = []fieldline.Lane{fieldline.LaneAlert, fieldline.LaneEvent, fieldline.LaneTelemetry}
	}
	var line []byte
	var bad []error
	written := 0
	err = db.View(func(tx *bolt.Tx) error {
		_, acks, err := readState(tx)
		if err != nil {
			return err
		}
		agent := string(tx.Bucket(bucketMeta).Get(keyAgent))
		aliases, err := readAliases(tx)
		if err != nil {
			bad = append(bad, err)
		}
		var look wire.AliasLookup
		if aliases != nil {
			look = aliases.Lookup
		}
		for _, lane := range lanes {
			if lane >= fieldline.NumLanes {
				return fmt.Errorf("dumping lane %d: %w", lane, ErrLane)
			}
			idx, seg := tx.Bucket(idxBuckets[lane]), tx.Bucket(segBuckets[lane])
			c := idx.Cursor()
			k, v := c.Seek(seqKey(opts.From))
			if k == nil || keyOf(k) > opts.From {
				if pk, pv := c.Prev(); pk != nil {
					k, v = pk, pv
				} else {
					k, v = c.First()
				}
			}
			var batch fieldline.Batch
			for ; k != nil; k, v = c.Next() {
				e, err := decodeIndexEntry(k, v)
				if err != nil {
					bad = append(bad, err)
					continue
				}
				if opts.To != 0 && e.first > opts.To {
					break
				}
				if e.last < opts.From {
					continue
				}
				if err := decodeSegment(&batch, lane, e, seg.Get(k), look); err != nil {
					bad = append(bad, err)
					continue
				}
				for i := range batch.Readings {
					r := batch.Readings[i]
					if r.Seq < opts.From || (opts.To != 0 && r.Seq > opts.To) {
						continue
					}
					acked := acks[lane].contains(r.Seq)
					if acked && !opts.Acked {
						continue
					}
					if opts.Limit > 0 && written >= opts.Limit {
						return nil
					}
					line = wire.AppendRecordJSON(line[:0], agent, lane, &r)
					if acked {
						line = append(line[:len(line)-1], `,"acked":true}`...)
					}
					line = append(line, '\n')
					if _, err := w.Write(line); err != nil {
						return fmt.Errorf("writing dump: %w", err)
					}
					written++
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(bad...)
}

// CompactResult reports a compaction.
type CompactResult struct {
	SrcBytes, DstBytes int64
}

// Compact copies a stopped agent's buffer file into a new file dst (which
// must not exist) with bbolt's compaction, dropping free pages, and copies
// the seq sidecar beside it. Replace the old file with dst to shrink it.
func Compact(src, dst string) (res CompactResult, err error) {
	if _, err := os.Stat(dst); err == nil {
		return res, fmt.Errorf("compacting into %s: %w", dst, os.ErrExist)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchDamage(&err, "compacting buffer (run buffer check; the agent rebuilds a damaged file when it starts)")
	from, err := openReadOnly(src)
	if err != nil {
		return res, err
	}
	defer from.Close()
	if err := from.View(func(tx *bolt.Tx) error { _, _, err := readState(tx); return err }); err != nil {
		return res, err
	}
	to, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return res, fmt.Errorf("creating %s: %w", dst, err)
	}
	if err := bolt.Compact(to, from, 64<<20); err != nil {
		_ = to.Close()
		if errors.Is(err, berrors.ErrChecksum) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return res, fmt.Errorf("compacting %s: %w", src, err)
	}
	if err := to.Close(); err != nil {
		return res, fmt.Errorf("closing %s: %w", dst, err)
	}
	if marks, ok, err := readSidecar(src); err != nil {
		return res, err
	} else if ok {
		if err := writeSidecar(dst, marks, false); err != nil {
			return res, err
		}
	}
	for _, f := range []struct {
		p string
		n *int64
	}{{src, &res.SrcBytes}, {dst, &res.DstBytes}} {
		fi, err := os.Stat(f.p)
		if err != nil {
			return res, err
		}
		*f.n = fi.Size()
	}
	return res, nil
}
