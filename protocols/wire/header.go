package wire

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fieldline/fieldline"
)

// BatchHeader is what DecodeHeader reads of an encoded batch.
type BatchHeader struct {
	AgentID  string
	Lane     fieldline.Lane
	FirstSeq uint64
	Count    int
	// AliasEpoch and AliasCount: the alias table a batch of format
	// version 3 names, and how many of its aliases (0, 0: none).
	AliasEpoch uint64
	AliasCount int
}

// Field numbers of fieldline.v1.Batch's leading fields (wirepb); a test
// checks DecodeHeader against Decode.
const (
	fBatchAgentID  = 1
	fBatchLane     = 2
	fBatchFirstSeq = 3
	fBatchCount    = 4
)

// DecodeHeader reads the agent, lane, first seq and count of an encoded
// batch without decoding its readings, for a scan of many stored batches
// (the buffer's salvage of a damaged file). It decompresses the batch, so
// that a damaged one fails zstd's checksum, and reads the message's scalar
// fields; the columns are skipped unparsed, so a batch DecodeHeader
// accepts may still fail Decode. Errors wrap the package's sentinels.
func DecodeHeader(src []byte, lim Limits) (BatchHeader, error) {
	lim = lim.orDefault()
	body, bufp, err := decompress(src, lim)
	if bufp != nil {
		defer rawPool.Put(bufp)
	}
	if err != nil {
		return BatchHeader{}, err
	}
	var h BatchHeader
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return BatchHeader{}, fmt.Errorf("batch header: %v: %w", protowire.ParseError(n), ErrCorrupt)
		}
		body = body[n:]
		switch {
		case num == fBatchAgentID && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(body)
			if n < 0 {
				return BatchHeader{}, fmt.Errorf("batch agent id: %w", ErrCorrupt)
			}
			h.AgentID, body = v, body[n:]
			continue
		case (num == fBatchLane || num == fBatchFirstSeq || num == fBatchCount) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(body)
			if n < 0 {
				return BatchHeader{}, fmt.Errorf("batch field %d: %w", num, ErrCorrupt)
			}
			body = body[n:]
			switch num {
			case fBatchLane:
				if v >= uint64(fieldline.NumLanes) {
					return BatchHeader{}, fmt.Errorf("lane %d: %w", v, ErrCorrupt)
				}
				h.Lane = fieldline.Lane(v)
			case fBatchFirstSeq:
				h.FirstSeq = v
			case fBatchCount:
				if v > uint64(lim.MaxReadings) {
					return BatchHeader{}, fmt.Errorf("batch of %d readings, limit %d: %w", v, lim.MaxReadings, ErrTooLarge)
				}
				h.Count = int(v)
			}
			continue
		}
		if num == fBatchAliasEpoch && typ == protowire.Fixed64Type {
			v, n := protowire.ConsumeFixed64(body)
			if n < 0 {
				return BatchHeader{}, fmt.Errorf("batch alias epoch: %w", ErrCorrupt)
			}
			h.AliasEpoch, body = v, body[n:]
			continue
		}
		if num == fBatchAliasCount && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(body)
			if n < 0 || v > MaxAliases {
				return BatchHeader{}, fmt.Errorf("batch alias count: %w", ErrCorrupt)
			}
			h.AliasCount, body = int(v), body[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, body)
		if n < 0 {
			return BatchHeader{}, fmt.Errorf("batch field %d: %v: %w", num, protowire.ParseError(n), ErrCorrupt)
		}
		body = body[n:]
	}
	if h.FirstSeq+uint64(h.Count) < h.FirstSeq {
		return BatchHeader{}, fmt.Errorf("batch at seq %d with %d readings: %w", h.FirstSeq, h.Count, ErrSeqOverflow)
	}
	return h, nil
}
