package wire

import (
	"github.com/klauspost/compress/zstd"
)

// Header bytes in front of every encoded batch.
const (
	magic       = 0xF1
	version1    = 1 << 4
	compNone    = 0
	compZstd    = 1
	headerBytes = 2
)

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
