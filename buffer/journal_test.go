package buffer

import (
	"bytes"
	"log/slog"
	"os"
	"slices"
	"strings"
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
// it, after a batch was acknowledged and the journal started afresh.
// Opened in the same boot, every held segment the cloud had not
// acknowledged is back under its seqs and the lanes go on where they
// were; opened after a power cut (another boot id), or with the journal
// gone or damaged, the seqs jump and the held readings are lost, as
// without a journal; a torn last record gives its seqs again (it was
// never handed out).
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
	add(tel, readings(10, 3, 0)) // T1: acked before the fresh start
	held(tel, 10)
	ackT(t, b, tel, s0, s0+9)
	add(ev, readings(5, 2, 100)) // E1: starts the journal afresh
	held(ev, 5)
	add(tel, readings(10, 3, 10)) // T2
	held(tel, 10)
	add(tel, readings(10, 3, 20)) // T3
	held(tel, 20)
	if got := m.JournalBytes.Value(); got == 0 {
		t.Fatal("nothing written to the journal")
	}

	type want struct {
		tags     []int // telemetry tags read back, in seq order from the first
		first    uint64
		evTags   int
		next     uint64 // telemetry's next seq; 0: above the sidecar's mark
		corrupt  float64
		jumpWarn bool
	}
	cases := []struct {
		name   string
		boot   string
		damage func(t *testing.T, journal string)
		want   want
	}{
		{"same boot", "a", nil, want{tags: tagRange(10, 30), first: s0 + 10, evTags: 5, next: s0 + 30}},
		{"power cut", "b", nil, want{jumpWarn: true}},
		{"journal gone", "a", func(t *testing.T, j string) {
			if err := os.Remove(j); err != nil {
				t.Fatal(err)
			}
		}, want{jumpWarn: true}},
		{"header damaged", "a", func(t *testing.T, j string) { flipByte(t, j, 20) }, want{corrupt: 1, jumpWarn: true}},
		{"last record torn", "a", func(t *testing.T, j string) {
			fi, err := os.Stat(j)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(j, fi.Size()-3); err != nil {
				t.Fatal(err)
			}
		}, want{tags: tagRange(10, 20), first: s0 + 10, evTags: 5, next: s0 + 20}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cp := copyFileT(t, path, journalSuffix)
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
			case c.want.next == 0 && st.Lanes[tel].NextSeq < s0+30+seqBlock/2:
				t.Fatalf("telemetry continues at %d after a power cut: not above every seq given (%d..%d)", st.Lanes[tel].NextSeq, s0, s0+29)
			}
			if got := cm.Corrupt.WithLabelValues("journal").Value(); got != c.want.corrupt {
				t.Fatalf("journal counted corrupt %v times, want %v", got, c.want.corrupt)
			}
			if got := strings.Contains(logs.String(), "seqs continue above every seq it may have given"); got != c.want.jumpWarn {
				t.Fatalf("jump warning logged: %v, want %v:\n%s", got, c.want.jumpWarn, logs.String())
			}
			var tags []int
			for {
				batch, ok := oldestT(t, r, tel, 1000)
				if !ok {
					break
				}
				if len(tags) == 0 && batch.FirstSeq != c.want.first {
					t.Fatalf("first stored seq %d, want %d", batch.FirstSeq, c.want.first)
				}
				for i, rd := range batch.Readings {
					w := readings(1, 3, tag(rd))[0]
					if rd.SensorID != w.SensorID || rd.TimeNs != w.TimeNs || rd.Seq != batch.FirstSeq+uint64(i) {
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
