package buffer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
	bolt "go.etcd.io/bbolt"
)

// Buffer is a durable, bounded store-and-forward queue of readings on one
// bbolt file. All methods are safe for concurrent use.
type Buffer struct {
	path string
	opts Options
	// dbMu guards db, which a rebuild of a damaged file (recover.go)
	// replaces: every use of db holds it for reading, the rebuild for
	// writing.
	dbMu  sync.RWMutex
	db    *bolt.DB
	metaF *os.File // the file, for checkHeads
	// writeMu is held by each writer (the committer, PutBlob) around
	// checkHeads and its bbolt transaction: no other commit writes a meta
	// page while it is read.
	writeMu  sync.Mutex
	log      *slog.Logger
	m        *Metrics
	lm       [fieldline.NumLanes]laneMetrics
	pageSize int

	mu       sync.Mutex
	lanes    [fieldline.NumLanes]laneMem
	pendingN int
	firstAt  time.Time // when the oldest waiting reading arrived (real clock)
	ackAt    time.Time // when the oldest unwritten ack arrived (real clock)
	waiters  []*waiter
	urgent   bool
	closing  bool
	// damage is set by a reader that found the file damaged (a bbolt
	// panic or fault); the committer then rebuilds the file, and closes
	// rebuilt (and makes a new one) when it is done.
	damage  error
	rebuilt chan struct{}
	// adopted, made by a reader that found its segments gone before the
	// commit that dropped them was adopted, is closed by the next adopt.
	adopted chan struct{}
	// appState is the caller's opaque state (see AppendSyncWithState); it
	// is written by the next commit when appDirty.
	appState []byte
	appDirty bool
	appLane  fieldline.Lane // the lane of the readings appState goes with

	running bool // set when Open is done (before the committer starts)

	// blobWritten tells the committer that PutBlob changed the file.
	blobWritten atomic.Bool

	wake      chan struct{} // to the committer, cap 1
	committed chan struct{} // to the forwarder, cap 1
	done      chan struct{} // closed when the committer returns

	closeOnce sync.Once
	closeErr  error

	cache segCache
	fsize fileSize // Stats' FileBytes
	jnl   *journal // the held segments' journal (journal.go); nil without WriteDelay

	// Owned by the committer goroutine.
	cst   [fieldline.NumLanes]laneState
	marks [fieldline.NumLanes]uint64 // seq sidecar marks
	// aliases is the file's alias table (aliases.go); aliasesKept how
	// many of its aliases the file holds (written by commitTx).
	aliases     atomic.Pointer[wire.Aliases]
	aliasesKept int
	// aliasesPub is the table's first aliasesKept aliases (Aliases).
	aliasesPub atomic.Pointer[wire.Aliases]
	encBuf     [fieldline.NumLanes][]byte
	spare      [fieldline.NumLanes][]fieldline.Reading
	gaugesIdle bool // the last updateGauges found every lane empty
	maxSegCost uint64
	budgetCut  uint64
	recoverAt  time.Time // no rebuild before (recover.go)
}

// laneMem is a lane's in-memory state, guarded by Buffer.mu.
type laneMem struct {
	pending      []fieldline.Reading // waiting for a commit, seqs not yet assigned
	st           laneState           // as of the last commit
	acked        spanSet             // acked (or gone) seqs ≥ st.lowSeq, ahead of disk
	ackedDirty   bool                // acked changed since the last commit took it
	droppedEarly uint64              // readings refused before a seq, not yet persisted
	badKeys      [][]byte            // undecodable index entries for the next commit to delete
	lost         lostRecord          // readings lost to damage (see lost.go)
	lostDirty    bool                // lost changed since the last commit took it
	// Committed segments not yet written (Options.WriteDelay, hold.go),
	// in seq order from st.nextSeq; top is the seq after the last one
	// held or let go (0: none yet).
	held      []heldSeg
	heldBytes int
	heldCost  uint64 // of held, by the cap's cost model
	top       uint64
}

// waiter is an Append or Flush call waiting for the commit that takes its
// readings.
type waiter struct {
	lane        fieldline.Lane
	off, n      int // position of its readings in the lane's pending slice
	first, last uint64
	err         error
	done        chan struct{}
}

// Committed returns a channel that receives a value (non-blocking,
// coalesced) after every commit that stored readings, so that a forwarder
// can wake up.
func (b *Buffer) Committed() <-chan struct{} { return b.committed }

// Path returns the path of the bbolt file.
func (b *Buffer) Path() string { return b.path }

// Close commits what waits, then closes the file. It is safe to call twice;
// the second call returns the first call's result.
func (b *Buffer) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closing = true
		b.mu.Unlock()
		b.kick()
		<-b.done
		if err := b.jnl.close(); err != nil {
			b.closeErr = fmt.Errorf("closing the held segments' journal: %w", err)
		}
		b.dbMu.Lock()
		if b.db != nil {
			if err := b.closeDB(); err != nil && b.closeErr == nil {
				b.closeErr = err
			}
		}
		b.dbMu.Unlock()
	})
	return b.closeErr
}

func (b *Buffer) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Flush commits everything appended before the call and returns when it is
// durable. It also runs the bookkeeping of a commit (acks written, max age
// applied) when nothing waits.
func (b *Buffer) Flush(ctx context.Context) error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return ErrClosed
	}
	w := &waiter{done: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.urgent = true
	b.mu.Unlock()
	b.kick()
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeDB closes bbolt and the file kept for the meta check.
func (b *Buffer) closeDB() error {
	var err error
	if b.db != nil {
		err = b.db.Close()
		b.db = nil
	}
	if b.metaF != nil {
		_ = b.metaF.Close()
		b.metaF = nil
	}
	return err
}
