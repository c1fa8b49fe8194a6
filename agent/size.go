package agent

import (
	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// How big a batch may be: the configured limits, the transport's, and
// what the bridge taught the forwarder by rejecting a batch as too large.

// limit is the largest encoded batch to send now.
func (f *Forwarder) limit() int {
	l := f.cfg.MaxBatchBytes
	if mp := f.tr.MaxPayload(); mp > 0 && mp < l {
		l = mp
	}
	if f.capBytes > 0 && f.capBytes < l {
		l = f.capBytes
	}
	return l
}

// maxReadings is n, or less once the bridge taught the forwarder a smaller
// batch size.
func (f *Forwarder) maxReadings(n int) int {
	if f.capReadings > 0 && f.capReadings < n {
		return f.capReadings
	}
	return n
}

// shrink cuts b to its first half after the bridge rejected it as too
// large, and caps later batches at that size in readings and bytes (the
// rest stays in the queue for the next batch).
func (f *Forwarder) shrink(b *fieldline.Batch) {
	f.halve(b)
	f.capReadings = len(b.Readings)
	// Which of the bridge's limits was hit is not known: cap the bytes just
	// under what was refused (halving the readings roughly halves them;
	// halving the bytes would overshoot, as the codec's overhead is fixed).
	if below := len(f.enc) - 1; f.capBytes == 0 || below < f.capBytes {
		f.capBytes = max(below, 1)
	}
}

// halve cuts b to its first half; under a size learned from the bridge,
// later batches take no more readings than that either.
func (f *Forwarder) halve(b *fieldline.Batch) {
	b.Readings = b.Readings[:len(b.Readings)/2]
	if f.capReadings > len(b.Readings) {
		f.capReadings = len(b.Readings)
	}
}

// encode codes b into f.enc, its sensors by the aliases the buffer's
// table has (unless the bridges refused them), cutting b to its first
// half until it fits under the limit (the rest stays in the buffer for the
// next batch). fits is false for a single reading that does not fit.
func (f *Forwarder) encode(b *fieldline.Batch) (fits bool, err error) {
	var table *wire.Aliases
	if !f.byName && !f.cfg.NoAliases {
		table = f.aliasTable()
	}
	for {
		if f.enc, err = wire.EncodeKnownAliases(f.enc[:0], b, table); err != nil {
			return false, err
		}
		if len(f.enc) <= f.limit() {
			return true, nil
		}
		if len(b.Readings) == 1 {
			return false, nil
		}
		f.halve(b)
		f.m.ForwardErrors.WithLabelValues("split").Inc()
	}
}
