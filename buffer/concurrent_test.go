package buffer

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// TestConcurrentHistory appends from two goroutines while a third takes
// batches from both ends and acks them, and a fourth reads Stats. It records
// who got which seq and what was delivered, then checks: no reading is
// delivered after its ack (each delivered seq exactly once), each delivered
// reading is the one appended under that seq, and once appends stop every
// appended reading has been delivered.
func TestConcurrentHistory(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, &Options{FlushInterval: 2 * time.Millisecond, FlushMaxReadings: 500})
	failed := true
	defer func() {
		if failed {
			saveFile(t, path)
		}
	}()
	calls := 150
	if testing.Short() {
		calls = 60
	}
	var (
		mu        sync.Mutex
		appended  = map[uint64]int{} // seq → tag
		delivered = map[uint64]int{} // seq → tag
		nextTag   atomic.Int64
		appenders sync.WaitGroup
		stop      = make(chan struct{})
		errs      = make(chan error, 8)
	)
	for w := range 2 {
		appenders.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range calls {
				n := 1 + rng.IntN(50)
				start := int(nextTag.Add(int64(n))) - n
				first, last, err := b.AppendSync(context.Background(), fieldline.LaneTelemetry, readings(n, 9, start))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for s := first; s <= last; s++ {
					appended[s] = start + int(s-first)
				}
				mu.Unlock()
			}
		})
	}
	var readers sync.WaitGroup
	readers.Go(func() { // Stats must not disturb anything
		for {
			select {
			case <-stop:
				return
			default:
				_ = b.Stats()
			}
		}
	})
	forward := func(rng *rand.Rand) (bool, error) {
		var batch fieldline.Batch
		var ok bool
		var err error
		if rng.IntN(2) == 0 {
			batch, ok, err = b.Oldest(fieldline.LaneTelemetry, 1+rng.IntN(120))
		} else {
			batch, ok, err = b.Newest(fieldline.LaneTelemetry, 1+rng.IntN(120))
		}
		if err != nil || !ok {
			return false, err
		}
		mu.Lock()
		for _, r := range batch.Readings {
			if _, dup := delivered[r.Seq]; dup {
				mu.Unlock()
				t.Errorf("seq %d delivered again after its ack", r.Seq)
				return false, nil
			}
			delivered[r.Seq] = tag(r)
		}
		mu.Unlock()
		return true, b.Ack(fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
	}
	readers.Go(func() {
		rng := rand.New(rand.NewPCG(3, 3))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := forward(rng); err != nil {
				errs <- err
				return
			}
		}
	})
	appenders.Wait()
	close(stop)
	readers.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	flushT(t, b)
	rng := rand.New(rand.NewPCG(4, 4))
	for {
		ok, err := forward(rng)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if len(delivered) != len(appended) {
		t.Fatalf("appended %d readings, delivered %d", len(appended), len(delivered))
	}
	for s, tg := range appended {
		if got, ok := delivered[s]; !ok || got != tg {
			t.Fatalf("seq %d: appended tag %d, delivered %d (%v)", s, tg, got, ok)
		}
	}
	flushT(t, b)
	if s := b.Stats(); s.DepthReadings != 0 || s.DepthBytes != 0 {
		t.Fatalf("fully acked buffer reports %+v", s)
	}
	closeT(t, b)
	// After a restart nothing acked comes back.
	b = openT(t, path, nil)
	defer closeT(t, b)
	if batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 10); ok {
		t.Fatalf("after restart Oldest returned acked seqs %d..%d", batch.FirstSeq, batch.LastSeq())
	}
	failed = t.Failed()
}

// saveFile keeps the data file of a failed test for a post-mortem.
func saveFile(t testing.TB, path string) {
	dst := filepath.Join(os.TempDir(), "fieldline-buffer-"+filepath.Base(t.Name())+".db")
	src, err := os.Open(path)
	if err != nil {
		return
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		return
	}
	defer out.Close()
	if _, err := io.Copy(out, src); err == nil {
		t.Logf("data file saved to %s", dst)
	}
}
