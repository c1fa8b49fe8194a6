package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestDamagedBufferPage runs the real agent with no bridge (its readings
// pile up in buffer.db), stops it, overwrites one 4 KiB page in the middle
// of the file with random bytes, and starts it again with a bridge up. It
// proves, from every record read back from Kafka and the heartbeats on
// fl.status.<id>: every seq the agent committed before the damage is in
// Kafka or in a lost range of the heartbeat, never both, and the ranges
// add up to its lost count (delivered + counted lost = committed); the
// agent said so in one log line; and readings taken after the restart
// reach Kafka.
func TestDamagedBufferPage(t *testing.T) {
	const registers = 50
	interval := 10 * time.Millisecond // 5,000 readings/s
	s := startStack(t, registers)
	dir, ns, k, col := s.dir, s.nats, s.k, s.col
	beats := heartbeats(t, ns.URL(), "gw-dmg")
	a := s.newAgent(t, "gw-dmg", "live-first", interval, nil)
	// Offline: NATS answers, no bridge does; everything stays in the buffer.
	a.p = start(t, "agent-gw-dmg-1", a.dir, "fieldline-agent", "run", "--config", a.cfg, "--grace", "5s")
	testkit.WaitFor(t, 60*time.Second, "30,000 readings in the buffer", func() bool { return a.depth(t) >= 30_000 })
	a.p.stop(t)

	path := filepath.Join(a.dir, "buffer.db")
	before, err := buffer.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	committed := before.Lanes[fieldline.LaneTelemetry].NextSeq - 1
	if before.Lanes[fieldline.LaneTelemetry].AckedSeq != 0 || committed < 30_000 {
		t.Fatalf("before the damage: %+v", before.Lanes[fieldline.LaneTelemetry])
	}
	page := pageThatHoldsReadings(t, path)
	damage := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(14, uint64(page)))
	for i := range damage {
		damage[i] = byte(rng.Uint32())
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(damage, page*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Logf("%d readings committed; page %d of %d overwritten", committed, page, fileSize(t, path)/4096)

	startBridgeProc(t, dir, "bridge", ns.URL(), k)
	a.p = start(t, "agent-gw-dmg-2", a.dir, "fieldline-agent", "run", "--config", a.cfg, "--grace", "5s")

	// The heartbeat counts what was lost; Kafka gets everything else, and
	// the readings taken since the restart.
	var st *fieldline.AgentStatus
	testkit.WaitFor(t, 60*time.Second, "a heartbeat counting lost readings", func() bool {
		st = beats.last()
		return st != nil && st.Lanes[fieldline.LaneTelemetry].Lost > 0
	})
	lost := map[uint64]bool{}
	var inRanges uint64
	tl := st.Lanes[fieldline.LaneTelemetry]
	for _, r := range tl.LostRanges {
		for s := r.First; s <= r.Last; s++ {
			if s == 0 || s > committed {
				t.Fatalf("lost range %d..%d reaches outside the committed 1..%d", r.First, r.Last, committed)
			}
			lost[s] = true
			inRanges++
		}
	}
	if inRanges != tl.Lost {
		t.Fatalf("heartbeat counts %d lost, its ranges %v hold %d", tl.Lost, tl.LostRanges, inRanges)
	}
	testkit.WaitFor(t, 180*time.Second, "every committed seq in Kafka or lost, and readings after the restart", func() bool {
		seen := map[uint64]bool{}
		after := 0
		for _, r := range col.snapshot() {
			if r.agent != a.id || r.lane != fieldline.LaneTelemetry {
				continue
			}
			if r.seq > committed {
				after++
			}
			seen[r.seq] = true
		}
		for s := uint64(1); s <= committed; s++ {
			if !seen[s] && !lost[s] {
				return false
			}
		}
		return after >= 1000
	})
	for _, r := range col.snapshot() {
		if r.agent == a.id && r.lane == fieldline.LaneTelemetry && lost[r.seq] {
			t.Fatalf("seq %d is in Kafka and counted lost", r.seq)
		}
	}
	// The metric counts them too.
	resp, err := httpClient.Get("http://" + a.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("fieldline_buffer_lost_readings_total{lane=\"telemetry\"} %d\n", tl.Lost); !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %q", want)
	}
	a.p.stop(t)
	logs, err := os.ReadFile(a.p.log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(logs), "buffer file damaged; moved it aside and rebuilt it"); n != 1 {
		t.Fatalf("%d log lines of the rebuild, want 1:\n%s", n, logs)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 1 {
		t.Fatalf("damaged files kept: %v", aside)
	}
	t.Logf("%d of %d committed readings lost (%v), the rest in Kafka; %d delivered in all",
		tl.Lost, committed, tl.LostRanges, col.count(a.id))
}

// pageThatHoldsReadings returns a page near the middle of the file whose
// damage costs readings, by buffer.Check on a copy with the page zeroed:
// so that the test is about losing some, not a free page.
func pageThatHoldsReadings(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pages := int64(len(data) / 4096)
	probe := filepath.Join(t.TempDir(), "probe.db")
	for d := int64(0); d < pages/2; d++ {
		for _, p := range []int64{pages/2 + d, pages/2 - d - 1} {
			if p < 2 || p >= pages {
				continue
			}
			c := append([]byte(nil), data...)
			clear(c[p*4096 : (p+1)*4096])
			if err := os.WriteFile(probe, c, 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := buffer.Check(probe)
			if err != nil {
				t.Fatal(err)
			}
			if tl := rep.Lanes[fieldline.LaneTelemetry]; tl.Lost > 0 && tl.Readable > 0 {
				return p
			}
		}
	}
	t.Fatal("no page of the file holds readings")
	return 0
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// beatLog keeps the latest heartbeat of one agent.
type beatLog struct {
	mu sync.Mutex
	st *fieldline.AgentStatus
}

func (b *beatLog) last() *fieldline.AgentStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st
}

// heartbeats subscribes to fl.status.<agent> until the test ends.
func heartbeats(t *testing.T, url, agent string) *beatLog {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bl := &beatLog{}
	if _, err := nc.Subscribe(uplink.StatusSubject(agent), func(m *nats.Msg) {
		var s fieldline.AgentStatus
		if wire.DecodeStatus(m.Data, &s) == nil {
			bl.mu.Lock()
			bl.st = &s
			bl.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return bl
}
