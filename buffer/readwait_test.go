package buffer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestReaderWaitsForTheDroppingCommit: a reader whose segments a commit
// dropped (here by max_age) while that commit is between its bbolt
// transaction and its publish (its fsync) waits for the publish, however
// long it takes, and then reads what the commit left; it neither fails
// after its retries nor polls.
func TestReaderWaitsForTheDroppingCommit(t *testing.T) {
	t0 := time.Unix(1_764_000_000, 0)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	var armed atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	b := openT(t, tempPath(t), &Options{AgentID: "gw-test", MaxAge: time.Hour, NoAliases: true,
		Now: func() time.Time { return time.Unix(0, now.Load()) },
		beforePublish: func() {
			if armed.CompareAndSwap(true, false) {
				close(entered)
				<-release
			}
		}})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let)                                             // before openT's Close, should the test fail with the committer held
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 5, 0)) // seqs 1..10, committed at t0

	// Two hours on, the next commit expires seqs 1..10 and stops before
	// its publish.
	now.Add(int64(2 * time.Hour))
	armed.Store(true)
	appended := make(chan error, 1)
	go func() {
		_, _, err := b.AppendSync(t.Context(), fieldline.LaneTelemetry, readings(1, 1, 10))
		appended <- err
	}()
	<-entered
	type result struct {
		batch fieldline.Batch
		ok    bool
		err   error
	}
	got := make(chan result, 1)
	go func() {
		batch, ok, err := b.Oldest(fieldline.LaneTelemetry, 100)
		got <- result{batch, ok, err}
	}()
	testkit.WaitFor(t, 10*time.Second, "the reader to wait for the publish", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.adopted != nil
	})
	let()
	r := <-got
	if r.err != nil || !r.ok || r.batch.FirstSeq != 11 || len(r.batch.Readings) != 1 {
		t.Fatalf("Oldest after the expiring commit: seq %d, %d readings, ok %v, err %v; want seq 11, 1 reading", r.batch.FirstSeq, len(r.batch.Readings), r.ok, r.err)
	}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	if st := b.Stats().Lanes[fieldline.LaneTelemetry]; st.Expired != 10 {
		t.Fatalf("expired %d, want 10", st.Expired)
	}
}
