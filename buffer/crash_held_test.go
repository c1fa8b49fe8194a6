package buffer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// heldChild runs the "held" crash child: it appends with a write delay
// while a forwarder of its own hands ranges out (printing "S first last"
// before it would send them) and acknowledges most of them, as a cloud
// would, until it is killed. Readings are tagged from the lane's next seq
// at open, so tags increase with seqs across runs whatever seqs a run
// jumps.
func heldChild(say func(string, ...any), path string) {
	b, err := Open(path, &Options{AgentID: "gw-crash", FlushInterval: 10 * time.Millisecond, WriteDelay: 30 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	next := int(b.Stats().Lanes[fieldline.LaneTelemetry].NextSeq)
	say("R %d", next)
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 4))
	go func() { // killed with the process
		for {
			select {
			case <-b.Committed():
			case <-time.After(5 * time.Millisecond):
			}
			take := b.OldestStored
			if rng.IntN(2) == 0 {
				take = b.NewestStored
			}
			s, ok, err := take(fieldline.LaneTelemetry, 1+rng.IntN(60), 1<<20)
			if err != nil {
				fmt.Fprintln(os.Stderr, "read:", err)
				os.Exit(1)
			}
			if !ok {
				continue
			}
			say("S %d %d", s.Batch.FirstSeq, s.Last)
			if rng.IntN(10) < 8 {
				say("A %d %d", s.Batch.FirstSeq, s.Last) // before: a kill may come between
				if err := b.Ack(fieldline.LaneTelemetry, s.Batch.FirstSeq, s.Last); err != nil {
					fmt.Fprintln(os.Stderr, "ack:", err)
					os.Exit(1)
				}
			}
		}
	}()
	for {
		n := 1 + rng.IntN(40)
		if err := b.Append(fieldline.LaneTelemetry, readings(n, 13, next)); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(1)
		}
		next += n
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
	}
}

// TestCrashHeldNoSeqTwice: SIGKILLs of a buffer that holds segments
// (WriteDelay) while a forwarder hands them out and acknowledges them.
// After every kill the file continues above every seq the killed run
// handed out (so no seq that may have reached the cloud is given twice),
// what it stores reads back in seq order with tags increasing (no
// reading duplicated or misplaced), and every seq the killed run gave is
// stored or was acknowledged: the journal (journal.go) survives a SIGKILL,
// so nothing held is lost and no seq is jumped.
func TestCrashHeldNoSeqTwice(t *testing.T) {
	path := tempPath(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	handed, pastFile, stored := 0, 0, 0
	lastTag := -1
	for i := range crashKills() {
		lines := runAndKill(t, "held", path, rng)
		var maxGiven, runStart uint64
		acked := map[uint64]bool{}
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "R "); ok {
				runStart, _ = strconv.ParseUint(v, 10, 64)
			}
			if v, ok := strings.CutPrefix(l, "A "); ok {
				a, z, _ := strings.Cut(v, " ")
				from, _ := strconv.ParseUint(a, 10, 64)
				to, _ := strconv.ParseUint(z, 10, 64)
				for s := from; s <= to; s++ {
					acked[s] = true
				}
			}
			if v, ok := strings.CutPrefix(l, "S "); ok {
				_, last, _ := strings.Cut(v, " ")
				n, _ := strconv.ParseUint(last, 10, 64)
				maxGiven = max(maxGiven, n)
				handed++
			}
		}
		onDisk, err := Inspect(path)
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		b := openT(t, path, &Options{AgentID: "gw-crash", FlushInterval: 0})
		st := b.Stats().Lanes[fieldline.LaneTelemetry]
		if maxGiven >= onDisk.Lanes[fieldline.LaneTelemetry].NextSeq {
			pastFile++ // the killed run handed out held seqs the file does not show
		}
		if onDisk.Held == nil || onDisk.Held.Problem != "" {
			t.Fatalf("kill %d: Inspect found no usable journal of the unclean stop: %+v", i, onDisk.Held)
		}
		if want := onDisk.Lanes[fieldline.LaneTelemetry].DepthReadings + int64(onDisk.Held.Readings); st.DepthReadings != want {
			t.Fatalf("kill %d: depth %d after Open; Inspect said %d on disk and %d in the journal", i, st.DepthReadings, onDisk.Lanes[fieldline.LaneTelemetry].DepthReadings, onDisk.Held.Readings)
		}
		if st.NextSeq <= maxGiven {
			t.Fatalf("kill %d: the killed run handed out seq %d, the file continues at %d", i, maxGiven, st.NextSeq)
		}
		if st.Lost != 0 {
			t.Fatalf("kill %d: %d readings counted lost to damage", i, st.Lost)
		}
		// Read what is stored, as a forwarder would, and acknowledge it.
		read := map[uint64]bool{}
		for {
			batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 1000)
			if !ok {
				break
			}
			for _, r := range batch.Readings {
				read[r.Seq] = true
				if tag(r) <= lastTag {
					t.Fatalf("kill %d: seq %d holds tag %d after tag %d: a reading duplicated or out of order", i, r.Seq, tag(r), lastTag)
				}
				lastTag = tag(r)
			}
			stored += len(batch.Readings)
			ackT(t, b, fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
		}
		for s := runStart; s < st.NextSeq; s++ {
			if !read[s] && !acked[s] {
				t.Fatalf("kill %d: seq %d (the run gave %d..%d) is neither stored nor acknowledged: a held reading lost or a seq jumped", i, s, runStart, st.NextSeq-1)
			}
		}
		closeT(t, b)
	}
	if handed == 0 || pastFile == 0 {
		t.Fatalf("the children handed out %d ranges and %d kills found seqs handed out past the file: the test exercised nothing", handed, pastFile)
	}
	t.Logf("%d kills, %d with seqs handed out past the file, %d ranges handed out, %d unacknowledged readings found stored after the kills", crashKills(), pastFile, handed, stored)
}
