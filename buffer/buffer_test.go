package buffer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	code := m.Run()
	for _, d := range benchDirs {
		_ = os.RemoveAll(d)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// op is one step of a scripted scenario.
type op struct {
	do   string // append, oldest, newest, ack, reopen
	lane fieldline.Lane
	n    int    // append: readings; oldest/newest: max
	a, z uint64 // ack range; oldest/newest: expected seq range (0,0: none)
}

func TestScenarios(t *testing.T) {
	T, A, E := fieldline.LaneTelemetry, fieldline.LaneAlert, fieldline.LaneEvent
	cases := []struct {
		name string
		ops  []op
	}{
		{"oldest then ack in order", []op{
			{do: "append", lane: T, n: 10}, {do: "append", lane: T, n: 10},
			{do: "oldest", lane: T, n: 4, a: 1, z: 4}, {do: "ack", lane: T, a: 1, z: 4},
			{do: "oldest", lane: T, n: 100, a: 5, z: 20}, {do: "ack", lane: T, a: 5, z: 20},
			{do: "oldest", lane: T, n: 100}, {do: "newest", lane: T, n: 100},
		}},
		{"newest takes the tail", []op{
			{do: "append", lane: T, n: 30},
			{do: "newest", lane: T, n: 5, a: 26, z: 30}, {do: "ack", lane: T, a: 26, z: 30},
			{do: "newest", lane: T, n: 5, a: 21, z: 25},
			{do: "append", lane: T, n: 3},
			{do: "newest", lane: T, n: 5, a: 31, z: 33}, {do: "ack", lane: T, a: 31, z: 33},
			{do: "newest", lane: T, n: 50, a: 1, z: 25},
		}},
		{"acked middle splits ranges", []op{
			{do: "append", lane: T, n: 100},
			{do: "ack", lane: T, a: 40, z: 60},
			{do: "oldest", lane: T, n: 1000, a: 1, z: 39},
			{do: "newest", lane: T, n: 1000, a: 61, z: 100},
			{do: "ack", lane: T, a: 1, z: 39},
			{do: "oldest", lane: T, n: 1000, a: 61, z: 100},
			{do: "reopen"},
			{do: "oldest", lane: T, n: 1000, a: 61, z: 100},
			{do: "newest", lane: T, n: 10, a: 91, z: 100},
		}},
		{"ack twice and beyond dropped is fine", []op{
			{do: "append", lane: T, n: 10},
			{do: "ack", lane: T, a: 1, z: 5}, {do: "ack", lane: T, a: 1, z: 5}, {do: "ack", lane: T, a: 3, z: 7},
			{do: "oldest", lane: T, n: 10, a: 8, z: 10},
		}},
		{"lanes are independent", []op{
			{do: "append", lane: T, n: 5}, {do: "append", lane: A, n: 2}, {do: "append", lane: E, n: 3},
			{do: "oldest", lane: A, n: 10, a: 1, z: 2}, {do: "oldest", lane: E, n: 10, a: 1, z: 3},
			{do: "oldest", lane: T, n: 10, a: 1, z: 5},
			{do: "ack", lane: A, a: 1, z: 2},
			{do: "oldest", lane: A, n: 10}, {do: "oldest", lane: T, n: 10, a: 1, z: 5},
			{do: "append", lane: A, n: 1}, {do: "oldest", lane: A, n: 10, a: 3, z: 3},
		}},
		{"reopen keeps seqs and acks", []op{
			{do: "append", lane: T, n: 20}, {do: "ack", lane: T, a: 1, z: 5}, {do: "ack", lane: T, a: 18, z: 20},
			{do: "reopen"},
			{do: "oldest", lane: T, n: 100, a: 6, z: 17},
			{do: "append", lane: T, n: 2},
			{do: "newest", lane: T, n: 100, a: 21, z: 22},
			{do: "ack", lane: T, a: 6, z: 17}, {do: "ack", lane: T, a: 21, z: 22},
			{do: "reopen"},
			{do: "oldest", lane: T, n: 100},
			{do: "append", lane: T, n: 1}, {do: "oldest", lane: T, n: 100, a: 23, z: 23},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tempPath(t)
			b := openT(t, p, nil)
			defer func() { closeT(t, b) }()
			tags := map[uint64]int{} // seq → tag, per lane via offset
			next := 0
			for i, o := range tc.ops {
				switch o.do {
				case "append":
					f, l := appendT(t, b, o.lane, readings(o.n, 7, next))
					if int(l-f+1) != o.n {
						t.Fatalf("op %d: AppendSync returned %d..%d for %d readings", i, f, l, o.n)
					}
					for s := f; s <= l; s++ {
						tags[uint64(o.lane)<<56|s] = next + int(s-f)
					}
					next += o.n
				case "oldest", "newest":
					var batch fieldline.Batch
					var ok bool
					if o.do == "oldest" {
						batch, ok = oldestT(t, b, o.lane, o.n)
					} else {
						batch, ok = newestT(t, b, o.lane, o.n)
					}
					if o.a == 0 {
						if ok {
							t.Fatalf("op %d %s: got %d..%d, want nothing", i, o.do, batch.FirstSeq, batch.LastSeq())
						}
						continue
					}
					if !ok || batch.FirstSeq != o.a || batch.LastSeq() != o.z || batch.Lane != o.lane || batch.AgentID != "gw-test" {
						t.Fatalf("op %d %s: got ok=%v %s %d..%d, want %d..%d", i, o.do, ok, batch.Lane, batch.FirstSeq, batch.LastSeq(), o.a, o.z)
					}
					for j, r := range batch.Readings {
						if r.Seq != o.a+uint64(j) || tag(r) != tags[uint64(o.lane)<<56|r.Seq] {
							t.Fatalf("op %d: reading %d has seq %d tag %d", i, j, r.Seq, tag(r))
						}
					}
				case "ack":
					ackT(t, b, o.lane, o.a, o.z)
				case "reopen":
					closeT(t, b)
					b = openT(t, p, nil)
				}
			}
		})
	}
}

func TestAckErrors(t *testing.T) {
	b := openT(t, tempPath(t), nil)
	defer closeT(t, b)
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, 0))
	cases := []struct {
		lane        fieldline.Lane
		first, last uint64
		want        error
	}{
		{fieldline.LaneTelemetry, 0, 3, ErrRange},
		{fieldline.LaneTelemetry, 5, 4, ErrRange},
		{fieldline.LaneTelemetry, 5, 11, ErrRange},
		{fieldline.LaneAlert, 1, 1, ErrRange},
		{fieldline.Lane(7), 1, 1, ErrLane},
		{fieldline.LaneTelemetry, 1, 10, nil},
		{fieldline.LaneTelemetry, 1, 10, nil},
	}
	for _, c := range cases {
		if err := b.Ack(c.lane, c.first, c.last); !errors.Is(err, c.want) {
			t.Errorf("Ack(%s, %d, %d) = %v, want %v", c.lane, c.first, c.last, err, c.want)
		}
	}
	if _, _, err := b.Oldest(fieldline.LaneTelemetry, 0); !errors.Is(err, ErrRange) {
		t.Errorf("Oldest(max 0) = %v, want ErrRange", err)
	}
}

func TestAppendSyncAssignsContiguousSeqs(t *testing.T) {
	b := openT(t, tempPath(t), &Options{FlushInterval: 5 * time.Millisecond})
	defer closeT(t, b)
	const workers, calls, per = 4, 25, 7
	type got struct{ first, last uint64 }
	ch := make(chan got, workers*calls)
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range calls {
				f, l, err := b.AppendSync(context.Background(), fieldline.LaneEvent, readings(per, 1, (w*calls+i)*per))
				if err != nil {
					errc <- err
					return
				}
				ch <- got{f, l}
			}
			errc <- nil
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	close(ch)
	seen := make([]bool, workers*calls*per+1)
	for g := range ch {
		if g.last-g.first+1 != per {
			t.Fatalf("range %d..%d for %d readings", g.first, g.last, per)
		}
		for s := g.first; s <= g.last; s++ {
			if seen[s] {
				t.Fatalf("seq %d returned twice", s)
			}
			seen[s] = true
		}
	}
	for s := 1; s < len(seen); s++ {
		if !seen[s] {
			t.Fatalf("seq %d never returned", s)
		}
	}
	// Each call's readings are stored contiguously under the seqs it got.
	batch, _ := oldestT(t, b, fieldline.LaneEvent, 10000)
	for i := 0; i < len(batch.Readings); i += per {
		if k := tag(batch.Readings[i]); k%per != 0 || tag(batch.Readings[i+per-1]) != k+per-1 {
			t.Fatalf("readings of one call split at seq %d", batch.Readings[i].Seq)
		}
	}
}

func TestFlushMaxReadingsCommitsEarly(t *testing.T) {
	commits := make(chan CommitInfo, 100)
	b := openT(t, tempPath(t), &Options{FlushInterval: time.Hour, FlushMaxReadings: 100,
		OnCommit: func(c CommitInfo) { commits <- c }})
	defer closeT(t, b)
	for i := range 5 {
		if err := b.Append(fieldline.LaneTelemetry, readings(50, 5, i*50)); err != nil {
			t.Fatal(err)
		}
	}
	// 250 readings with a 100-reading threshold: at least two commits come
	// without any Flush, long before the hour.
	var last uint64
	for last < 200 {
		select {
		case c := <-commits:
			if c.FirstSeq != last+1 {
				t.Fatalf("commit %d..%d after %d", c.FirstSeq, c.LastSeq, last)
			}
			last = c.LastSeq
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d readings committed", last)
		}
	}
	if s := b.Stats(); s.Lanes[fieldline.LaneTelemetry].NextSeq != last+1 {
		t.Fatalf("NextSeq %d after commits up to %d", s.Lanes[fieldline.LaneTelemetry].NextSeq, last)
	}
	// Committed data is readable; what waits is not.
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 1000)
	if batch.LastSeq() != last {
		t.Fatalf("Oldest returned up to %d, committed %d", batch.LastSeq(), last)
	}
	select {
	case <-b.Committed():
	case <-time.After(20 * time.Second):
		t.Fatal("Committed channel not signalled")
	}
}

func TestAppendAfterClose(t *testing.T) {
	b := openT(t, tempPath(t), nil)
	closeT(t, b)
	if err := b.Append(fieldline.LaneTelemetry, readings(1, 1, 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := b.Ack(fieldline.LaneTelemetry, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ack after Close = %v", err)
	}
}

func TestCloseCommitsPending(t *testing.T) {
	p := tempPath(t)
	b := openT(t, p, &Options{FlushInterval: time.Hour})
	if err := b.Append(fieldline.LaneAlert, readings(3, 1, 0)); err != nil {
		t.Fatal(err)
	}
	closeT(t, b)
	b = openT(t, p, nil)
	defer closeT(t, b)
	batch, _ := oldestT(t, b, fieldline.LaneAlert, 10)
	checkBatch(t, batch, 1, 0, 3)
}

func TestOptionsValidate(t *testing.T) {
	_, err := Open(tempPath(t), &Options{FlushInterval: -1, MaxBytes: 10, MaxAge: -time.Second, FlushMaxReadings: -3, SegmentReadings: -1})
	if !errors.Is(err, ErrOptions) {
		t.Fatalf("Open with bad options = %v", err)
	}
	for _, want := range []string{"flush_interval", "max_bytes", "max_age", "flush_max_readings", "segment_readings"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if p, err := ParseDropPolicy("newest"); err != nil || p != DropNewest {
		t.Errorf("ParseDropPolicy(newest) = %v, %v", p, err)
	}
	if _, err := ParseDropPolicy("random"); !errors.Is(err, ErrOptions) {
		t.Errorf("ParseDropPolicy(random) = %v", err)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

func TestMetricsMatchStats(t *testing.T) {
	m := NewMetrics(nil)
	b := openT(t, tempPath(t), &Options{Metrics: m})
	defer closeT(t, b)
	appendT(t, b, fieldline.LaneTelemetry, readings(40, 4, 0))
	appendT(t, b, fieldline.LaneAlert, readings(2, 1, 0))
	ackT(t, b, fieldline.LaneTelemetry, 1, 10)
	flushT(t, b)
	if got := m.Appended.WithLabelValues("telemetry").Value(); got != 40 {
		t.Errorf("appended telemetry = %v", got)
	}
	if got := m.Acked.WithLabelValues("telemetry").Value(); got != 10 {
		t.Errorf("acked telemetry = %v", got)
	}
	if got := m.DepthReadings.WithLabelValues("telemetry").Value(); got != 30 {
		t.Errorf("depth telemetry = %v", got)
	}
	if got := m.DepthReadings.WithLabelValues("alert").Value(); got != 2 {
		t.Errorf("depth alert = %v", got)
	}
	if got := m.Commits.Value(); got < 3 {
		t.Errorf("commits = %v", got)
	}
	s := b.Stats()
	if s.DepthReadings != 32 || s.Lanes[fieldline.LaneTelemetry].AckedSeq != 10 || s.Lanes[fieldline.LaneTelemetry].NextSeq != 41 {
		t.Errorf("stats %+v", s)
	}
}
