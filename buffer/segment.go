package buffer

// This file cuts a commit's readings into segments the wire codec decodes.

import (
	"fmt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// segment is one stored value that a commit writes: n readings, encoded.
type segment struct {
	n    int
	enc  []byte
	cost uint64
}

// encode cuts each lane's takes into segments that the wire codec will
// decode again (see segmentLen) and encodes them, all into the lane's one
// scratch buffer.
func (b *Buffer) encode(in *cycleIn) error {
	aliases := b.encodeAliases()
	for l := range fieldline.NumLanes {
		rs := in.takes[l]
		buf := b.encBuf[l][:0]
		var ends []int
		for off := 0; off < len(rs); {
			n := segmentLen(rs[off:], b.segmentReadings())
			batch := fieldline.Batch{AgentID: b.opts.AgentID, Lane: fieldline.Lane(l), FirstSeq: in.base[l] + uint64(off), Readings: rs[off : off+n]}
			var err error
			if buf, err = wire.EncodeAliased(buf, &batch, aliases); err != nil {
				return fmt.Errorf("encoding segment of lane %s: %w", fieldline.Lane(l), err)
			}
			in.segs[l] = append(in.segs[l], segment{n: n})
			ends = append(ends, len(buf))
			off += n
		}
		b.encBuf[l] = buf
		start := 0
		for i := range in.segs[l] {
			s := &in.segs[l][i]
			s.enc = buf[start:ends[i]:ends[i]]
			s.cost = b.cost(len(s.enc))
			in.cost[l] += s.cost
			start = ends[i]
		}
	}
	return nil
}

// Bounds of one segment. A segment must decode with wire.DefaultLimits, or
// it would be stored and never read back: at most MaxReadings readings, and
// a protobuf body that fits both the encoded and the decoded byte limits
// (zstd adds a few bytes per 128 KiB block to what it cannot compress).
// rawPerReading bounds what a reading adds to the body besides its strings,
// even when every reading has a column of its own: about 85 bytes of column
// header, 64 of varints, doubles and run lengths.
const rawPerReading = 160

// segmentBytes is the body size a segment is cut at, 1 MiB under the
// smaller byte limit.
func segmentBytes() int {
	return min(wire.DefaultLimits.MaxEncodedBytes, wire.DefaultLimits.MaxDecodedBytes) - 1<<20
}

// segmentLen returns how many of rs (at least one) go into the next
// segment: at most flushMax, the wire limit of readings, and segmentBytes
// of body by the rawPerReading bound.
func segmentLen(rs []fieldline.Reading, flushMax int) int {
	n := min(len(rs), max(flushMax, 1), wire.DefaultLimits.MaxReadings)
	size, limit := 0, segmentBytes()
	for i := range n {
		size += rawPerReading + len(rs[i].SensorID) + len(rs[i].Text)
		if size > limit && i > 0 {
			return i
		}
	}
	return n
}

// segmentReadings is the most readings a commit puts in one segment.
func (b *Buffer) segmentReadings() int {
	if n := b.opts.SegmentReadings; n > 0 && n < b.opts.FlushMaxReadings {
		return n
	}
	return b.opts.FlushMaxReadings
}
