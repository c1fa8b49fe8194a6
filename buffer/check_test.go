package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/seqset"
	"github.com/fieldline/fieldline/protocols/wire"
	bolt "go.etcd.io/bbolt"
)

// The check after every test, as bbolt's own tests run db.MustCheck: once
// a test is over and every buffer it opened on a file is closed, the file
// is opened read-only and must pass bbolt's Tx.Check and the buffer's own
// invariants (checkInvariants). openT arranges it for each file it opens;
// a test that calls Open itself calls checkAtEnd. A failing file is kept
// (saveFile) and its path logged.

// checkedFiles holds the files whose check is arranged already (paths
// under t.TempDir are unique to their test).
var checkedFiles sync.Map

// checkAtEnd arranges the check of the buffer file at path for the end of
// the test, once per file. Cleanups run last in, first out: the check,
// arranged at the first open, runs after the closes arranged by later ones.
func checkAtEnd(t testing.TB, path string) {
	t.Helper()
	if _, dup := checkedFiles.LoadOrStore(path, true); dup {
		return
	}
	t.Cleanup(func() {
		defer checkedFiles.Delete(path)
		if t.Failed() {
			return // the test said what went wrong; a damaged file may be why
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return // moved aside and not opened again
		}
		if problems := checkFile(path); len(problems) > 0 {
			t.Errorf("buffer file %s is inconsistent after the test (%d problem(s)):\n  %s",
				path, len(problems), strings.Join(problems, "\n  "))
			saveFile(t, path)
		}
	})
}

// checkFile opens the file read-only (which fails while a buffer still
// holds it) and returns every problem bbolt's Check and checkInvariants
// find.
func checkFile(path string) []string {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if err != nil {
		return []string{fmt.Sprintf("opening read-only (is a buffer still open on it?): %v", err)}
	}
	defer db.Close()
	var problems []string
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() { // drained to the end: the checker stops only then
			if len(problems) < 20 {
				problems = append(problems, "bbolt: "+err.Error())
			}
		}
		problems = append(problems, checkInvariants(tx, path)...)
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// checkInvariants lists what a committed buffer file must hold, lane by
// lane:
//   - the meta bucket names this format and an agent; the lane state and
//     the acked ranges decode (readState); the state's copy holds the same
//     keys and values, and its padding;
//   - index entries decode and strictly increase, without overlap, inside
//     lowSeq..nextSeq-1, and the first one starts at lowSeq (lowSeq is
//     nextSeq when the lane holds nothing);
//   - the segment bucket holds exactly the index's keys; each segment is as
//     long as its entry says, decodes to the entry's lane, first seq and
//     count, and numbers its readings from that seq; their lengths add up to
//     the lane state's liveBytes;
//   - acked ranges lie inside lowSeq..nextSeq-1, and no stored segment is
//     wholly acked (a commit deletes those); the acked ranges also hold the
//     seqs gone without an ack (lost to damage, or skipped by a rebuild),
//     so they may lie above ackedMax;
//   - the seq sidecar, when there is one, is at or above every lane's
//     nextSeq.
func checkInvariants(tx *bolt.Tx, path string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return []string{"no meta bucket"}
	}
	if f := meta.Get(keyFormat); len(f) != 1 || f[0] != formatVersion {
		bad("format %v, want [%d]", f, formatVersion)
	}
	if len(meta.Get(keyAgent)) == 0 {
		bad("no agent id")
	}
	st, acks, err := readState(tx)
	if err != nil {
		return append(problems, "state: "+err.Error())
	}
	marks, haveMarks, err := readSidecar(path)
	if err != nil {
		bad("sidecar: %v", err)
	}
	if state, cp := tx.Bucket(bucketState), tx.Bucket(bucketStateCopy); cp == nil {
		bad("no copy of the state bucket")
	} else {
		_ = state.ForEach(func(k, v []byte) error {
			if string(cp.Get(k)) != string(v) {
				bad("state copy of %q differs", k)
			}
			return nil
		})
		_ = cp.ForEach(func(k, v []byte) error {
			if string(k) != string(keyPad) && state.Get(k) == nil {
				bad("state copy holds %q, the state does not", k)
			}
			return nil
		})
		if len(cp.Get(keyPad)) < statePadLen {
			bad("state copy padded with %d bytes: bbolt may keep it inline", len(cp.Get(keyPad)))
		}
	}
	for l := range fieldline.NumLanes {
		lane, s, acked := fieldline.Lane(l), st[l], &acks[l]
		bad := func(format string, args ...any) { bad("lane %s: "+format, append([]any{lane}, args...)...) }
		idx, seg := tx.Bucket(idxBuckets[l]), tx.Bucket(segBuckets[l])
		var look wire.AliasLookup
		if a, err := readAliases(tx); err != nil {
			bad("alias table: %v", err)
		} else if a != nil {
			look = a.Lookup
		}
		var prev *indexEntry
		var liveBytes uint64
		var batch fieldline.Batch
		c := idx.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			e, err := decodeIndexEntry(k, v)
			if err != nil {
				bad("index entry %x: %v", k, err)
				continue
			}
			if prev == nil && e.first != s.lowSeq {
				bad("first index entry starts at seq %d, lane state's lowSeq is %d", e.first, s.lowSeq)
			}
			if prev != nil && e.first <= prev.last {
				bad("index entry %d..%d overlaps or precedes %d..%d", e.first, e.last, prev.first, prev.last)
			}
			if e.first < s.lowSeq || e.last >= s.nextSeq {
				bad("index entry %d..%d outside lowSeq %d..nextSeq %d", e.first, e.last, s.lowSeq, s.nextSeq)
			}
			if acked.count(e.first, e.last) == e.count() {
				bad("segment %d..%d is wholly acked but still stored", e.first, e.last)
			}
			sv := seg.Get(k)
			switch {
			case sv == nil:
				bad("index entry %d..%d has no segment", e.first, e.last)
			case uint32(len(sv)) != e.bytes:
				bad("segment %d..%d is %d bytes, its index entry says %d", e.first, e.last, len(sv), e.bytes)
			default:
				if err := decodeSegment(&batch, lane, e, sv, look); err != nil {
					bad("%v", err)
					break
				}
				for i, r := range batch.Readings {
					if r.Seq != e.first+uint64(i) {
						bad("segment %d..%d: reading %d has seq %d", e.first, e.last, i, r.Seq)
						break
					}
				}
			}
			liveBytes += uint64(len(sv))
			prev = &e
		}
		if prev == nil && s.lowSeq != s.nextSeq {
			bad("no index entry, but lowSeq %d != nextSeq %d", s.lowSeq, s.nextSeq)
		}
		if liveBytes != s.liveBytes {
			bad("segments hold %d bytes, lane state says %d", liveBytes, s.liveBytes)
		}
		sc := seg.Cursor()
		for k, _ := sc.First(); k != nil; k, _ = sc.Next() {
			if idx.Get(k) == nil {
				bad("segment %x has no index entry", k)
			}
		}
		for _, sp := range acked.spans() {
			if sp.First < s.lowSeq || sp.Last >= s.nextSeq {
				bad("acked range %d..%d outside lowSeq %d..nextSeq %d", sp.First, sp.Last, s.lowSeq, s.nextSeq)
			}
		}
		if haveMarks && marks[l] < s.nextSeq {
			bad("sidecar mark %d below nextSeq %d: a lost file would reuse seqs", marks[l], s.nextSeq)
		}
	}
	return problems
}

// TestCheckFileCatchesDamage proves the check after every test sees what
// it is there for: a file written by the buffer passes, and each kind of
// damage is reported with the lane and the seqs concerned.
func TestCheckFileCatchesDamage(t *testing.T) {
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "buffer.db")
		b, err := Open(path, &Options{AgentID: "gw-check", FlushInterval: 0})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 { // segments 1..10, 11..20, 21..30
			appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, i*10))
		}
		ackT(t, b, fieldline.LaneTelemetry, 12, 13)
		flushT(t, b)
		closeT(t, b)
		return path
	}
	tel := fieldline.LaneTelemetry
	for _, tc := range []struct {
		name   string
		damage func(tx *bolt.Tx) error
		want   string
	}{
		{"none", func(*bolt.Tx) error { return nil }, ""},
		{"segment without index entry", func(tx *bolt.Tx) error { return tx.Bucket(idxBuckets[tel]).Delete(seqKey(11)) },
			"lane telemetry: segment 000000000000000b has no index entry"},
		{"index entry without segment", func(tx *bolt.Tx) error { return tx.Bucket(segBuckets[tel]).Delete(seqKey(21)) },
			"lane telemetry: index entry 21..30 has no segment"},
		{"overlapping entries", func(tx *bolt.Tx) error {
			e := indexEntry{first: 11, last: 22, unixNs: 1, bytes: uint32(len(tx.Bucket(segBuckets[tel]).Get(seqKey(11))))}
			return tx.Bucket(idxBuckets[tel]).Put(seqKey(11), e.marshal())
		}, "lane telemetry: index entry 21..30 overlaps or precedes 11..22"},
		{"segment of another seq", func(tx *bolt.Tx) error {
			seg := tx.Bucket(segBuckets[tel])
			return seg.Put(seqKey(21), append([]byte(nil), seg.Get(seqKey(11))...))
		}, "lane telemetry: segment 21..30 of lane telemetry holds lane telemetry seqs 11+10"},
		{"low seq behind the first entry", func(tx *bolt.Tx) error {
			st, _ := decodeLaneState(tx.Bucket(bucketState).Get(laneKeys[tel]))
			st.lowSeq = 5
			return tx.Bucket(bucketState).Put(laneKeys[tel], st.marshal())
		}, "lane telemetry: first index entry starts at seq 1, lane state's lowSeq is 5"},
		{"acked range past the newest seq", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketState).Put(ackKeys[tel], marshalSpans(&spanSet{set: seqset.FromRanges([]seqset.Range{{First: 12, Last: 13}, {First: 40, Last: 41}})}))
		}, "lane telemetry: acked range 40..41 outside lowSeq 1..nextSeq 31"},
		{"wholly acked segment kept", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketState).Put(ackKeys[tel], marshalSpans(&spanSet{set: seqset.FromRanges([]seqset.Range{{First: 1, Last: 10}})}))
		}, "lane telemetry: segment 1..10 is wholly acked but still stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := build(t)
			damageT(t, path, tc.damage)
			got := strings.Join(checkFile(path), "\n")
			if tc.want == "" && got != "" {
				t.Fatalf("an undamaged file fails the check:\n%s", got)
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("check reports\n%s\nwant a line %q", got, tc.want)
			}
		})
	}
	t.Run("sidecar below the newest seq", func(t *testing.T) {
		path := build(t)
		if err := writeSidecar(path, [fieldline.NumLanes]uint64{1, 1, 1}, true); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(checkFile(path), "\n"); !strings.Contains(got, "lane telemetry: sidecar mark 1 below nextSeq 31") {
			t.Fatalf("check reports %q", got)
		}
	})
	t.Run("still open", func(t *testing.T) {
		path := build(t)
		b := openT(t, path, nil)
		got := checkFile(path)
		closeT(t, b)
		if len(got) != 1 || !strings.Contains(got[0], "is a buffer still open on it?") {
			t.Fatalf("check of an open file reports %q", got)
		}
	})
}
