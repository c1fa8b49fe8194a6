package buffer

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

func bootOf(s string) func() ([bootIDLen]byte, bool) {
	var id [bootIDLen]byte
	copy(id[:], strings.Repeat(s, bootIDLen))
	return func() ([bootIDLen]byte, bool) { return id, true }
}

// TestJournalAfterAKill: a buffer with a write delay of an hour (so that
// nothing held is written to the file) is copied as a SIGKILL would leave
// it: T0 on disk (AppendSync), T1 held and acknowledged, then E1 held,
// which starts the journal afresh, then T2 and T3 held. Opened in the same
// boot, every held segment the cloud had not acknowledged is back under
// its seqs, T1's seqs count as acknowledged, and the lanes go on where they
// were (also from a copy taken before T2, when the journal names T1's seqs
// only by its header). Opened after a power cut (another boot id), or with
// the journal gone or damaged, the seqs jump and the held readings are
// lost, as without a journal; a torn last record gives its seqs again (a
// kill during its write comes before it is handed out). A run killed
// before it held anything goes on without a jump.
func TestJournalAfterAKill(t *testing.T) {
	const tel, ev = fieldline.LaneTelemetry, fieldline.LaneEvent
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, &Options{FlushInterval: time.Millisecond, WriteDelay: time.Hour, bootID: bootOf("a"), Metrics: m})
	s0 := b.Stats().Lanes[tel].NextSeq
	add := func(l fieldline.Lane, rs []fieldline.Reading) {
		t.Helper()
		if err := b.Append(l, rs); err != nil {
			t.Fatal(err)
		}
	}
	held := func(l fieldline.Lane, want uint64) {
		t.Helper()
		testkit.WaitFor(t, 10*time.Second, "readings held", func() bool { return b.Depths()[l] == want })
	}
	appendT(t, b, tel, readings(5, 3, 0)) // T0: on disk
	add(tel, readings(10, 3, 5))          // T1: acked before the fresh start
	held(tel, 15)
	ackT(t, b, tel, s0+5, s0+14)
	add(ev, readings(5, 2, 100)) // E1: starts the journal afresh
	held(ev, 5)
	early := copyFileT(t, path, journalSuffix)
	add(tel, readings(10, 3, 15)) // T2
	held(tel, 15)
	add(tel, readings(10, 3, 25)) // T3
	held(tel, 25)
	if got := m.JournalBytes.Value(); got == 0 {
		t.Fatal("nothing written to the journal")
	}

	type want struct {
		tags     []int  // telemetry tags read back, in seq order
		next     uint64 // telemetry's next seq; 0: above the sidecar's mark
		evTags   int
		corrupt  float64
		jumpWarn bool
	}
	onDisk := tagRange(0, 5)
	cases := []struct {
		name   string
		from   string // the copy; "" the last
		boot   string
		damage func(t *testing.T, journal string)
		want   want
	}{
		{"same boot", "", "a", nil, want{tags: append(onDisk, tagRange(15, 35)...), next: s0 + 35, evTags: 5}},
		{"same boot, before T2", early, "a", nil, want{tags: onDisk, next: s0 + 15, evTags: 5}},
		{"power cut", "", "b", nil, want{tags: onDisk, jumpWarn: true}},
		{"journal gone", "", "a", func(t *testing.T, j string) {
			if err := os.Remove(j); err != nil {
				t.Fatal(err)
			}
		}, want{tags: onDisk, jumpWarn: true}},
		{"header damaged", "", "a", func(t *testing.T, j string) { flipByte(t, j, 20) }, want{tags: onDisk, corrupt: 1, jumpWarn: true}},
		{"last record torn", "", "a", func(t *testing.T, j string) {
			fi, err := os.Stat(j)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(j, fi.Size()-3); err != nil {
				t.Fatal(err)
			}
		}, want{tags: append(onDisk, tagRange(15, 25)...), next: s0 + 25, evTags: 5}},
	}
	last := copyFileT(t, path, journalSuffix)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			from := c.from
			if from == "" {
				from = last
			}
			cp := copyFileT(t, from, journalSuffix)
			if c.damage != nil {
				c.damage(t, cp+journalSuffix)
			}
			var logs strings.Builder
			cm := NewMetrics(nil)
			r := openT(t, cp, &Options{FlushInterval: 0, bootID: bootOf(c.boot), Metrics: cm, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			st := r.Stats()
			switch {
			case c.want.next != 0 && st.Lanes[tel].NextSeq != c.want.next:
				t.Fatalf("telemetry continues at %d, want %d (no jump)", st.Lanes[tel].NextSeq, c.want.next)
			case c.want.next == 0 && st.Lanes[tel].NextSeq < s0+35+seqBlock/2:
				t.Fatalf("telemetry continues at %d after a power cut: not above every seq given (%d..%d)", st.Lanes[tel].NextSeq, s0, s0+34)
			}
			if got := cm.Corrupt.WithLabelValues("journal").Value(); got != c.want.corrupt {
				t.Fatalf("journal counted corrupt %v times, want %v", got, c.want.corrupt)
			}
			if got := strings.Contains(logs.String(), "seqs continue above every seq it may have given"); got != c.want.jumpWarn {
				t.Fatalf("jump warning logged: %v, want %v:\n%s", got, c.want.jumpWarn, logs.String())
			}
			// Depth counts every seq below the next that is neither stored
			// nor acknowledged: T1's (or the jumped) seqs must be acked.
			if d := r.Depths()[tel]; d != uint64(len(c.want.tags)) {
				t.Fatalf("telemetry depth %d, want %d", d, len(c.want.tags))
			}
			var tags []int
			for {
				batch, ok := oldestT(t, r, tel, 1000)
				if !ok {
					break
				}
				for i, rd := range batch.Readings {
					w := readings(1, 3, tag(rd))[0]
					if rd.SensorID != w.SensorID || rd.TimeNs != w.TimeNs || rd.Seq != batch.FirstSeq+uint64(i) || rd.Seq != s0+uint64(tag(rd)) {
						t.Fatalf("reading %+v at seq %d", rd, batch.FirstSeq+uint64(i))
					}
					tags = append(tags, tag(rd))
				}
				ackT(t, r, tel, batch.FirstSeq, batch.LastSeq())
			}
			if !slices.Equal(tags, c.want.tags) {
				t.Fatalf("telemetry tags %v, want %v", tags, c.want.tags)
			}
			if got := r.Depths()[ev]; got != uint64(c.want.evTags) {
				t.Fatalf("%d event readings stored, want %d", got, c.want.evTags)
			}
			// New readings go on from the lane's next seq.
			first, _ := appendT(t, r, tel, readings(1, 3, 99))
			if first != st.Lanes[tel].NextSeq {
				t.Fatalf("the next reading got seq %d, want %d", first, st.Lanes[tel].NextSeq)
			}
			closeT(t, r)
		})
	}
}

// TestJournalKilledBeforeHolding: a run killed before it held anything
// (only AppendSync) leaves a journal that names its seqs: no jump.
func TestJournalKilledBeforeHolding(t *testing.T) {
	const tel = fieldline.LaneTelemetry
	path := tempPath(t)
	b := openT(t, path, &Options{FlushInterval: time.Millisecond, WriteDelay: time.Hour, bootID: bootOf("a")})
	_, last := appendT(t, b, tel, readings(5, 3, 0))
	cp := copyFileT(t, path, journalSuffix)
	r := openT(t, cp, &Options{FlushInterval: 0, bootID: bootOf("a")})
	if next := r.Stats().Lanes[tel].NextSeq; next != last+1 {
		t.Fatalf("after a kill before anything was held the lane continues at %d, want %d (no jump)", next, last+1)
	}
}

func tagRange(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestJournalDecode: what a journal gives back, and where it stops.
func TestJournalDecode(t *testing.T) {
	head := &journalHead{gen: 7, top: [fieldline.NumLanes]uint64{5, 10, 20}}
	copy(head.boot[:], strings.Repeat("b", bootIDLen))
	seg := func(first uint64, n int, enc string) heldSeg {
		return heldSeg{first: first, n: n, enc: []byte(enc), cost: 99, unixNs: 42}
	}
	s1, s2 := seg(20, 3, "abc"), seg(23, 2, "de")
	good := appendJournalRec(appendJournalRec(appendJournalHead(nil, head), 7, 2, &s1), 7, 2, &s2)
	cases := []struct {
		name    string
		data    []byte
		recs    int
		wantErr string
	}{
		{"whole", good, 2, ""},
		{"torn tail", good[:len(good)-1], 1, ""},
		{"header only", good[:journalHeadLen], 0, ""},
		{"older generation after", append(appendJournalRec(appendJournalHead(nil, head), 7, 2, &s1), appendJournalRec(nil, 6, 2, &s2)...), 1, ""},
		{"record damaged", func() []byte { d := bytes.Clone(good); d[len(d)-1] ^= 1; return d }(), 1, ""},
		{"empty", nil, 0, "has no header"},
		{"bad magic", append([]byte("XXXXXXXX"), good[8:]...), 0, "not"},
		{"header damaged", func() []byte { d := bytes.Clone(good); d[10] ^= 1; return d }(), 0, "checksum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, recs, err := decodeJournal(c.data)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h != *head {
				t.Fatalf("header %+v, want %+v", h, *head)
			}
			if len(recs) != c.recs {
				t.Fatalf("%d records, want %d", len(recs), c.recs)
			}
			for i, r := range recs {
				w := []heldSeg{s1, s2}[i]
				if r.lane != 2 || r.seg.first != w.first || r.seg.n != w.n || string(r.seg.enc) != string(w.enc) || r.seg.cost != 99 || r.seg.unixNs != 42 {
					t.Fatalf("record %d: %+v, want %+v", i, r, w)
				}
			}
		})
	}
}

// FuzzDecodeJournal: any bytes decode without a panic, and what decodes
// encodes back to the same bytes.
func FuzzDecodeJournal(f *testing.F) {
	head := &journalHead{gen: 1, top: [fieldline.NumLanes]uint64{1, 2, 3}}
	s := heldSeg{first: 2, n: 1, enc: []byte{1, 2, 3}}
	f.Add(appendJournalRec(appendJournalHead(nil, head), 1, 1, &s))
	f.Add(appendJournalHead(nil, head))
	f.Add([]byte("FLHELD01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, recs, err := decodeJournal(data)
		if err != nil {
			return
		}
		again := appendJournalHead(nil, &h)
		for _, r := range recs {
			again = appendJournalRec(again, h.gen, r.lane, &r.seg)
		}
		if !bytes.HasPrefix(data, again) {
			t.Fatalf("decoded %d records that do not encode back to the input's prefix", len(recs))
		}
	})
}

// TestJournalWriteFails: when the journal cannot be written, the readings
// a commit staged go back to the queue and are written to the file under
// the same seqs, a caller that came while the commit was in flight gets
// the seqs after them, the failure is counted, and a crash after it loses
// nothing.
func TestJournalWriteFails(t *testing.T) {
	const tel = fieldline.LaneTelemetry
	path := tempPath(t)
	m := NewMetrics(nil)
	type result struct {
		first, last uint64
		err         error
	}
	waited := make(chan result, 1)
	var armed atomic.Bool
	var b *Buffer
	opts := &Options{FlushInterval: time.Millisecond, WriteDelay: time.Hour, bootID: bootOf("a"), Metrics: m}
	// Runs on the committer, after the commit that names the new sensors
	// and before its journal write.
	opts.beforePublish = func() {
		if !armed.CompareAndSwap(true, false) {
			return
		}
		failJournalWrites(t, b, path)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			first, last, err := b.AppendSync(ctx, tel, readings(3, 6, 10))
			waited <- result{first, last, err}
		}()
		for {
			b.mu.Lock()
			n := len(b.waiters)
			b.mu.Unlock()
			if n > 0 {
				return
			}
			runtime.Gosched()
		}
	}
	b = openT(t, path, opts)
	s0 := b.Stats().Lanes[tel].NextSeq
	if err := b.Append(tel, readings(5, 3, 0)); err != nil { // held and journaled
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "readings held", func() bool { return b.Depths()[tel] == 5 })
	armed.Store(true)
	// New sensors: the commit writes the alias table, so it runs a
	// transaction (and the hook) while these five are staged.
	if err := b.Append(tel, readings(5, 6, 5)); err != nil {
		t.Fatal(err)
	}
	r := <-waited
	if r.err != nil || r.first != s0+10 || r.last != s0+12 {
		t.Fatalf("the caller's readings got %d..%d (%v), want %d..%d after the five put back", r.first, r.last, r.err, s0+10, s0+12)
	}
	if got := m.JournalErrors.Value(); got != 1 {
		t.Fatalf("%v journal errors counted, want 1", got)
	}
	check := func(b *Buffer) {
		t.Helper()
		batch, ok := oldestT(t, b, tel, 1000)
		if !ok || batch.FirstSeq != s0 || len(batch.Readings) != 13 {
			t.Fatalf("stored %d readings from seq %d (%v), want 13 from %d", len(batch.Readings), batch.FirstSeq, ok, s0)
		}
		want := slices.Concat(readings(5, 3, 0), readings(5, 6, 5), readings(3, 6, 10))
		for i, rd := range batch.Readings {
			if w := want[i]; rd.SensorID != w.SensorID || rd.TimeNs != w.TimeNs || rd.Value != w.Value {
				t.Fatalf("seq %d holds %+v, want %+v", rd.Seq, rd, w)
			}
		}
	}
	check(b)
	// Holding is off for a while: everything is on disk, the copy as a
	// kill leaves it has it all.
	testkit.WaitFor(t, 10*time.Second, "the held readings written", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.lanes[tel].held) == 0
	})
	r2 := openT(t, copyFileT(t, path, journalSuffix), &Options{FlushInterval: 0, bootID: bootOf("a")})
	check(r2)
	closeT(t, r2)
	closeT(t, b)
}

// failJournalWrites puts the journal of b (at path) read-only under it, so
// that its writes fail. The caller keeps the committer away meanwhile (runs
// on it, or holds b.mu).
func failJournalWrites(t *testing.T, b *Buffer, path string) {
	t.Helper()
	ro, err := os.Open(path + journalSuffix)
	if err != nil {
		t.Error(err)
		return
	}
	_ = b.jnl.f.Close()
	b.jnl.f = ro
}

// TestJournalKeepsWhatAFailedCloseHeld: when Close's final commit fails,
// the held readings are not lost (the journal has them, and the next Open
// in the same boot stores them under their seqs), so they are not
// counted as dropped; Close still returns the error.
func TestJournalKeepsWhatAFailedCloseHeld(t *testing.T) {
	const tel = fieldline.LaneTelemetry
	path := tempPath(t)
	m := NewMetrics(nil)
	b, err := Open(path, &Options{AgentID: "gw-test", FlushInterval: time.Millisecond, WriteDelay: time.Hour, bootID: bootOf("a"), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	s0 := b.Stats().Lanes[tel].NextSeq
	for _, from := range []int{0, 10} { // new sensors (a transaction), then none
		if err := b.Append(tel, readings(10, 2, from)); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 10*time.Second, "readings held", func() bool { return b.Depths()[tel] == uint64(from+10) })
	}
	// The file goes away under the buffer: the final commit, which would
	// write the held segments, fails.
	b.dbMu.Lock()
	if err := b.db.Close(); err != nil {
		t.Fatal(err)
	}
	b.dbMu.Unlock()
	if err := b.Close(); err == nil || !strings.Contains(err.Error(), "final commit") {
		t.Fatalf("Close with the file closed under it: %v, want the final commit's error", err)
	}
	if got := m.Dropped.WithLabelValues(tel.String()).Value(); got != 0 {
		t.Fatalf("%v readings counted dropped; want 0, the journal has them", got)
	}

	r := openT(t, path, &Options{FlushInterval: 0, bootID: bootOf("a")})
	batch, ok := oldestT(t, r, tel, 1000)
	if !ok {
		t.Fatal("nothing stored after reopening")
	}
	checkBatch(t, batch, s0, 0, 20)
	if next := r.Stats().Lanes[tel].NextSeq; next != s0+20 {
		t.Fatalf("telemetry continues at %d, want %d", next, s0+20)
	}
	closeT(t, r)
}

// TestJournalShrinksAfterABurst: a journal that grew past its shrink
// length while nothing was acknowledged (an outage) is cut back to one
// generation at the next fresh start, and still restores after a kill.
func TestJournalShrinksAfterABurst(t *testing.T) {
	const tel = fieldline.LaneTelemetry
	const shrinkAt = 32 << 10
	path := tempPath(t)
	b := openT(t, path, &Options{FlushInterval: time.Millisecond, WriteDelay: time.Hour, bootID: bootOf("a"), journalShrinkAt: shrinkAt})
	s0 := b.Stats().Lanes[tel].NextSeq
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + journalSuffix)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	n := 0
	for size() <= shrinkAt { // the uplink acknowledges nothing
		if err := b.Append(tel, readings(500, 5, n)); err != nil {
			t.Fatal(err)
		}
		n += 500
		testkit.WaitFor(t, 10*time.Second, "readings held", func() bool { return b.Depths()[tel] == uint64(n) })
	}
	grown := size()
	ackT(t, b, tel, s0, s0+uint64(n)-1) // it comes back
	if err := b.Append(tel, readings(10, 5, n)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "readings held", func() bool { return b.Depths()[tel] == 10 })
	if got := size(); got >= grown || got > 4<<10 {
		t.Fatalf("journal of %d bytes after the fresh start that followed a burst to %d; want one header and one record", got, grown)
	}

	r := openT(t, copyFileT(t, path, journalSuffix), &Options{FlushInterval: 0, bootID: bootOf("a")})
	batch, ok := oldestT(t, r, tel, 1000)
	if !ok {
		t.Fatal("the held readings were not restored")
	}
	checkBatch(t, batch, s0+uint64(n), n, 10)
	closeT(t, r)
}

// TestJournalWriteFailsWithoutATransaction: a cycle that needs no bbolt
// transaction (held readings of known sensors) also writes the journal
// before the readings can be read: when that write fails, nobody has
// seen them, and they are stored once, under the seqs they were to get.
func TestJournalWriteFailsWithoutATransaction(t *testing.T) {
	const tel = fieldline.LaneTelemetry
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, &Options{FlushInterval: time.Millisecond, WriteDelay: time.Hour, bootID: bootOf("a"), Metrics: m})
	s0 := b.Stats().Lanes[tel].NextSeq
	if err := b.Append(tel, readings(5, 3, 0)); err != nil { // names the sensors
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "readings held", func() bool { return b.Depths()[tel] == 5 })
	commits := m.Commits.Value()

	b.mu.Lock() // the committer takes b.mu before its next write
	failJournalWrites(t, b, path)
	b.mu.Unlock()
	if err := b.Append(tel, readings(5, 3, 5)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the failed write counted", func() bool { return m.JournalErrors.Value() == 1 })
	testkit.WaitFor(t, 10*time.Second, "the refused readings written to the file", func() bool { return m.Commits.Value() > commits })
	if d := b.Depths()[tel]; d != 10 {
		t.Fatalf("depth %d, want 10: the refused readings were handed out before the journal had them", d)
	}
	batch, ok := oldestT(t, b, tel, 1000)
	if !ok {
		t.Fatal("nothing stored")
	}
	checkBatch(t, batch, s0, 0, 10)
	closeT(t, b)
}
