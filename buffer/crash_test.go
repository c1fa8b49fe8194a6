package buffer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// The crash tests re-execute the test binary as a child that appends as
// fast as it can and reports on stdout; the parent SIGKILLs it at random
// moments and checks the file after each kill. Every reading is made with
// tag = seq-1 (the child knows the next seq from Stats at open, and every
// reading it appends gets the next seq), so a stored reading whose tag is
// not seq-1 is a reading out of order, duplicated or misplaced.
const (
	crashChildEnv = "FL_BUFFER_CRASH_CHILD" // "sync" or "interval"
	crashPathEnv  = "FL_BUFFER_CRASH_PATH"
)

// crashChild runs in the child process until it is killed.
func crashChild() {
	mode, path := os.Getenv(crashChildEnv), os.Getenv(crashPathEnv)
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		outMu.Lock()
		_, _ = os.Stdout.WriteString(line) // one write: atomic in a pipe
		outMu.Unlock()
	}
	o := &Options{AgentID: "gw-crash", MaxBytes: 0}
	switch mode {
	case "sync":
		o.FlushInterval = 0
	case "interval":
		o.FlushInterval = 100 * time.Millisecond
		o.FlushMaxReadings = 2000
		o.OnCommit = func(c CommitInfo) { say("C %d", c.LastSeq) }
	case "held":
		heldChild(say, path)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown crash child mode %q\n", mode)
		os.Exit(2)
	}
	b, err := Open(path, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	next := int(b.Stats().Lanes[fieldline.LaneTelemetry].NextSeq) - 1 // tag of the next reading
	say("R %d", next)
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	for {
		n := 1 + rng.IntN(40)
		rs := readings(n, 13, next)
		if mode == "sync" {
			_, last, err := b.AppendSync(context.Background(), fieldline.LaneTelemetry, rs)
			if err != nil {
				fmt.Fprintln(os.Stderr, "append:", err)
				os.Exit(1)
			}
			say("A %d", last)
		} else {
			// Announced before the call: a commit that FlushMaxReadings
			// starts at once may store these readings before this
			// goroutine gets to print "A".
			say("P %d", next+n-1)
			if err := b.Append(fieldline.LaneTelemetry, rs); errors.Is(err, ErrDropped) {
				continue // not stored, no seq used: try the same readings again
			} else if err != nil {
				fmt.Fprintln(os.Stderr, "append:", err)
				os.Exit(1)
			}
			say("A %d", next+n-1)
		}
		next += n
	}
}

// runAndKill starts a child, lets it append for a random moment after it is
// ready, kills it with SIGKILL and returns all it printed.
func runAndKill(t *testing.T, mode, path string, rng *rand.Rand) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+mode, crashPathEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1<<16)
	var all []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Wait until the child is ready, then kill it at a random moment.
	ready := time.After(60 * time.Second)
	for started := false; !started; {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("child exited before it was ready: %s", stderr.String())
			}
			all = append(all, l)
			started = strings.HasPrefix(l, "R ")
		case <-ready:
			_ = cmd.Process.Kill()
			t.Fatal("child not ready in 60s")
		}
	}
	timer := time.NewTimer(time.Duration(rng.Int64N(int64(80 * time.Millisecond))))
	for killed := false; !killed; {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("child exited on its own: %s", stderr.String())
			}
			all = append(all, l)
		case <-timer.C:
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	for l := range lines {
		all = append(all, l)
	}
	<-done
	_ = cmd.Wait()
	return all
}

// verifyTail opens the file after a kill and checks the stored readings
// from seq `from` to the newest: contiguous, each with tag seq-1. It
// returns the newest stored seq.
func verifyTail(t *testing.T, path string, from uint64) uint64 {
	t.Helper()
	b := openT(t, path, &Options{AgentID: "gw-crash", FlushInterval: 0})
	defer closeT(t, b)
	s := b.Stats().Lanes[fieldline.LaneTelemetry]
	top := s.NextSeq - 1
	if s.DepthReadings != int64(top) {
		t.Fatalf("depth %d, newest seq %d: readings missing", s.DepthReadings, top)
	}
	first, ok := oldestT(t, b, fieldline.LaneTelemetry, 1)
	if top > 0 && (!ok || first.FirstSeq != 1) {
		t.Fatalf("oldest stored seq %d, want 1", first.FirstSeq)
	}
	// Walk the tail with Newest-sized windows read through Oldest ranges.
	seq := max(from, 1)
	if top == 0 {
		return 0
	}
	all, _ := oldestT(t, b, fieldline.LaneTelemetry, 1<<30)
	if all.LastSeq() != top || uint64(len(all.Readings)) != top {
		t.Fatalf("stored seqs %d..%d, want 1..%d", all.FirstSeq, all.LastSeq(), top)
	}
	for _, r := range all.Readings[seq-1:] {
		if uint64(tag(r)) != r.Seq-1 {
			t.Fatalf("seq %d holds reading %d: out of order or duplicated", r.Seq, tag(r))
		}
	}
	return top
}

func crashKills() int {
	if testing.Short() {
		return 5
	}
	return 50
}

// TestCrashSyncAppendsSurvive: with flush_interval 0 every reading whose
// AppendSync returned is on disk after a SIGKILL, in order, no gap, no
// duplicate.
func TestCrashSyncAppendsSurvive(t *testing.T) {
	path := tempPath(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var verified uint64
	total := 0
	for i := range crashKills() {
		lines := runAndKill(t, "sync", path, rng)
		var acked uint64
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "A "); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				acked = max(acked, n)
				total++
			}
		}
		top := verifyTail(t, path, verified)
		if top < acked {
			t.Fatalf("kill %d: AppendSync returned seq %d but the file ends at %d", i, acked, top)
		}
		verified = top
	}
	t.Logf("%d kills, %d acknowledged appends, %d readings stored", crashKills(), total, verified)
}

// TestCrashIntervalLossBounded: with the default 100ms group commit, a
// SIGKILL loses at most what was appended after the last commit began:
// every seq reported committed (OnCommit) is stored, every reading appended
// before the previous commit report is stored, and what is stored is a
// prefix of what was appended.
func TestCrashIntervalLossBounded(t *testing.T) {
	path := tempPath(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var verified uint64
	maxLost := 0
	for i := range crashKills() {
		lines := runAndKill(t, "interval", path, rng)
		var committed, appended, offered, safe, start uint64
		var lastA uint64 // highest tag appended before the latest C line
		for _, l := range lines {
			kind, v, _ := strings.Cut(l, " ")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch kind {
			case "R":
				start = n
			case "P":
				offered = max(offered, n+1) // passed to an Append that may not have returned
			case "A":
				appended = max(appended, n+1) // tags are seq-1: n+1 readings exist
			case "C":
				committed = max(committed, n)
				// Every Append that returned before the previous commit was
				// reported was taken by this commit or an earlier one.
				safe = max(safe, lastA)
				lastA = appended
			}
		}
		top := verifyTail(t, path, verified)
		if top < committed {
			t.Fatalf("kill %d: commit of seq %d was reported but the file ends at %d", i, committed, top)
		}
		if top < safe {
			t.Fatalf("kill %d: readings up to %d were appended before a reported commit, file ends at %d", i, safe, top)
		}
		if top > max(appended, offered, start) {
			t.Fatalf("kill %d: file ends at %d, only %d readings were passed to Append", i, top, max(appended, offered))
		}
		if appended > top {
			maxLost = max(maxLost, int(appended-top))
		}
		verified = top
	}
	t.Logf("%d kills, %d readings stored, at most %d readings lost in one kill (unflushed window)", crashKills(), verified, maxLost)
}
