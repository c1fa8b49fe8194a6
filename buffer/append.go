package buffer

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
)

// Append copies rs into the lane's pending segment (their Seq fields are
// ignored) and returns without waiting for the commit, unless FlushInterval
// is 0: then it returns once the readings are durable. It never blocks for
// long when the buffer is full: readings over the caps are dropped, counted,
// and reported with an error wrapping ErrDropped.
func (b *Buffer) Append(lane fieldline.Lane, rs []fieldline.Reading) error {
	if b.opts.FlushInterval == 0 {
		_, _, err := b.AppendSync(context.Background(), lane, rs)
		return err
	}
	_, err := b.add(appendReq{lane: lane, rs: rs})
	return err
}

// AppendSync appends rs and returns after they are committed, with the seq
// range assigned to them. An error other than ctx's means they may not be
// stored: ErrDropped when the buffer dropped them, a commit error otherwise
// (the readings then stay queued and a later commit may store them).
func (b *Buffer) AppendSync(ctx context.Context, lane fieldline.Lane, rs []fieldline.Reading) (first, last uint64, err error) {
	w, err := b.add(appendReq{lane: lane, rs: rs, sync: true})
	return w.wait(ctx, err)
}

// AppendSyncWithState is AppendSync that also stores state, an opaque value
// of the caller's, in the same bbolt transaction as rs: after a crash either
// both are on disk or neither. The agent keeps its rule engine's alert
// states this way, so that an alert transition is never lost nor emitted
// twice across a restart. AppState returns the latest state.
func (b *Buffer) AppendSyncWithState(ctx context.Context, lane fieldline.Lane, rs []fieldline.Reading, state []byte) (first, last uint64, err error) {
	w, err := b.add(appendReq{lane: lane, rs: rs, sync: true, state: state, withState: true})
	return w.wait(ctx, err)
}

// wait returns the seq range the commit gave w's readings, once it is done;
// err is add's error.
func (w *waiter) wait(ctx context.Context, err error) (first, last uint64, _ error) {
	if err != nil || w == nil {
		return 0, 0, err
	}
	select {
	case <-w.done:
		return w.first, w.last, w.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// AppState returns the state last given to AppendSyncWithState (committed,
// or waiting for the next commit), or what the file held when it was
// opened; nil when there is none.
func (b *Buffer) AppState() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.appState...)
}

// appendReq is one call of Append, AppendSync or AppendSyncWithState.
type appendReq struct {
	lane fieldline.Lane
	rs   []fieldline.Reading
	// sync: the caller waits for the commit (add returns its waiter, and
	// the commit is made at once).
	sync bool
	// state, when withState, is stored in the commit that stores rs.
	state     []byte
	withState bool
}

// add queues r's readings for the next commit.
func (b *Buffer) add(r appendReq) (*waiter, error) {
	lane, rs := r.lane, r.rs
	if lane >= fieldline.NumLanes {
		return nil, fmt.Errorf("appending to lane %d: %w", lane, ErrLane)
	}
	if len(rs) == 0 && !r.sync {
		return nil, nil
	}
	if i := oversized(rs); i >= 0 {
		b.lm[lane].dropped.Add(float64(len(rs)))
		b.droppedPending(lane, len(rs))
		return nil, fmt.Errorf("reading %d of %d (sensor %q, %d bytes of text) is larger than a stored segment may be: %w",
			i, len(rs), rs[i].SensorID, len(rs[i].Text), ErrDropped)
	}
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	// Alerts and events are rare and matter: only telemetry is refused
	// when commits fall behind.
	if lane == fieldline.LaneTelemetry && b.pendingN+len(rs) > b.opts.MaxPendingReadings {
		b.mu.Unlock()
		b.lm[lane].dropped.Add(float64(len(rs)))
		b.droppedPending(lane, len(rs))
		return nil, fmt.Errorf("%d readings wait for a commit (max_pending_readings): %w", b.opts.MaxPendingReadings, ErrDropped)
	}
	if r.withState {
		b.appState, b.appDirty, b.appLane = append([]byte(nil), r.state...), true, lane
	}
	lm := &b.lanes[lane]
	var w *waiter
	if r.sync {
		w = &waiter{lane: lane, off: len(lm.pending), n: len(rs), done: make(chan struct{})}
		b.waiters = append(b.waiters, w)
		b.urgent = true
	}
	lm.pending = append(lm.pending, rs...)
	wasIdle := b.pendingN == 0
	if wasIdle {
		b.firstAt = time.Now()
	}
	b.pendingN += len(rs)
	if b.pendingN >= b.opts.FlushMaxReadings {
		b.urgent = true
	}
	kick := wasIdle || b.urgent
	b.mu.Unlock()
	if kick {
		b.kick()
	}
	return w, nil
}

// oversized returns the index of the first reading that would not fit in
// a segment even alone (see segmentLen), or -1.
func oversized(rs []fieldline.Reading) int {
	limit := segmentBytes() - rawPerReading
	for i := range rs {
		if len(rs[i].SensorID)+len(rs[i].Text) > limit {
			return i
		}
	}
	return -1
}

// droppedPending counts readings refused before they got a seq; they are
// added to the lane's persisted dropped total at the next commit.
func (b *Buffer) droppedPending(lane fieldline.Lane, n int) {
	b.mu.Lock()
	b.lanes[lane].droppedEarly += uint64(n)
	b.mu.Unlock()
	b.kick() // an idle committer sleeps until kicked: the count is written within FlushInterval
}
