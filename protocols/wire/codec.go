package wire

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Header bytes in front of every encoded batch.
//
// Version 2 (what Encode writes) differs from version 1 only in the batch's
// order field: version 1 holds each reading's column index, version 2 how
// many columns it is past the column after the previous reading's, round
// the columns (order[i] = (col[i] - col[i-1] - 1) mod columns, col[-1] =
// -1). Readings that cycle through the sensors in column order, the common
// case, give a run of zeros that zstd all but removes: a poll of 1,000
// registers carried about 1.9 bytes a reading of order before. Version 3
// is version 2 whose columns may name their sensors by alias (alias.go).
// Decode reads all three.
const (
	magic       = 0xF1
	version1    = 1 << 4
	version2    = 2 << 4
	version3    = 3 << 4 // version 2 with sensor aliases (alias.go)
	compNone    = 0
	compZstd    = 1
	headerBytes = 2
)

// checkHeader checks the magic byte and the format version of an encoded
// batch (its compression is checked where it is undone); errors wrap
// ErrMagic or ErrVersion.
func checkHeader(src []byte) error {
	if len(src) < headerBytes || src[0] != magic {
		return ErrMagic
	}
	if v := src[1] & 0xf0; v != version1 && v != version2 && v != version3 {
		return fmt.Errorf("version %d: %w", src[1]>>4, ErrVersion)
	}
	return nil
}

// Limits bound what Decode accepts. The zero value means DefaultLimits.
type Limits struct {
	MaxEncodedBytes int // compressed size
	MaxDecodedBytes int // size after decompression
	MaxReadings     int
}

// DefaultLimits accept batches far larger than any agent sends.
var DefaultLimits = Limits{
	MaxEncodedBytes: 16 << 20,
	MaxDecodedBytes: 64 << 20,
	MaxReadings:     1 << 20,
}

func (l Limits) orDefault() Limits {
	if l.MaxEncodedBytes <= 0 {
		l.MaxEncodedBytes = DefaultLimits.MaxEncodedBytes
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = DefaultLimits.MaxDecodedBytes
	}
	if l.MaxReadings <= 0 {
		l.MaxReadings = DefaultLimits.MaxReadings
	}
	return l
}

var (
	zenc, _ = zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true))
	zdec, _ = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(uint64(DefaultLimits.MaxDecodedBytes)),
		zstd.WithDecoderLowmem(true))
)
