package agent

// The batch in flight, and sending stored segments as they are (issue 19):
// the buffer keeps segments in wire form, so a segment that is exactly the
// batch to send goes out as stored, without being decoded and encoded
// again to the same bytes.

import (
	"fmt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/protocols/wire"
)

// StoredQueue is a Queue that can hand out a stored segment as it is
// (*buffer.Buffer is one; see buffer.OldestStored). The forwarder uses it
// when the queue has it, and Oldest and Newest otherwise.
type StoredQueue interface {
	OldestStored(lane fieldline.Lane, max, maxBytes int) (buffer.Stored, bool, error)
	NewestStored(lane fieldline.Lane, max, maxBytes int) (buffer.Stored, bool, error)
}

// RangeFixer is a Fixer that can tell from a batch's seqs alone that Fix
// would change nothing (the agent's clockFix: no clock step is known for
// them), so that a stored batch is sent as it is without being decoded.
// The forwarder decodes a stored batch before each attempt for which
// MayFix says true, or when the Fixer is no RangeFixer.
type RangeFixer interface {
	MayFix(lane fieldline.Lane, first, last uint64) bool
}

// Paths of a batch's payload (fieldline_agent_uplink_batches_total).
const (
	pathStored    = "stored"
	pathReencoded = "reencoded"
)

// outBatch is the batch in flight: decoded (b.Readings), or a stored
// segment (stored; b.Readings nil) that is sent as it is until it must be
// decoded (fixed, cut, or over the uplink's limit).
type outBatch struct {
	b      fieldline.Batch
	last   uint64
	stored []byte
}

func outOf(s buffer.Stored) outBatch { return outBatch{b: s.Batch, last: s.Last, stored: s.Enc} }

func decodedOut(b fieldline.Batch) outBatch { return outBatch{b: b, last: b.LastSeq()} }

// len is the number of readings in the batch.
func (o *outBatch) len() int { return int(o.last - o.b.FirstSeq + 1) }

// decode turns a stored batch into a decoded one, its sensor aliases
// looked up with look; a decoded one is left as it is.
func (o *outBatch) decode(look wire.AliasLookup) error {
	if o.stored == nil {
		return nil
	}
	var d fieldline.Batch
	if err := wire.DecodeAliased(&d, o.stored, wire.Limits{}, look); err != nil {
		return fmt.Errorf("decoding stored batch %d..%d of lane %s: %w", o.b.FirstSeq, o.last, o.b.Lane, err)
	}
	if d.FirstSeq != o.b.FirstSeq || d.LastSeq() != o.last || d.Lane != o.b.Lane {
		return fmt.Errorf("stored batch %d..%d of lane %s holds lane %s %d..%d", o.b.FirstSeq, o.last, o.b.Lane, d.Lane, d.FirstSeq, d.LastSeq())
	}
	o.b.Readings, o.stored = d.Readings, nil
	return nil
}

// mayFix reports whether the forwarder's Fixer may change b's readings.
func (f *Forwarder) mayFix(o *outBatch) bool {
	if f.o.Fixer == nil {
		return false
	}
	rf, ok := f.o.Fixer.(RangeFixer)
	return !ok || rf.MayFix(o.b.Lane, o.b.FirstSeq, o.last)
}

// payload puts the bytes to send for o into f.enc: the stored bytes (with
// the OlderUnsent mark when set) when they fit under the limit and the
// bridges take what they name, or o decoded and encoded again (encode:
// sensors by id, cut until it fits), and says which (path).
func (f *Forwarder) payload(o *outBatch) (fits bool, path string, err error) {
	if o.stored != nil && f.byName && wire.NamesAliases(o.stored) {
		if err := o.decode(f.lookup); err != nil {
			return false, "", err
		}
	}
	if o.stored != nil {
		f.enc = f.enc[:0]
		if o.b.OlderUnsent {
			f.enc, err = wire.AppendOlderUnsent(f.enc, o.stored)
		} else {
			f.enc = append(f.enc, o.stored...)
		}
		if err == nil && len(f.enc) <= f.limit() {
			return true, pathStored, nil
		}
		if err := o.decode(f.lookup); err != nil {
			return false, "", err
		}
	}
	fits, err = f.encode(&o.b)
	o.last = o.b.LastSeq()
	return fits, pathReencoded, err
}
