package wire

import (
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
)

// A batch stored by the agent's buffer is sent as it is (issue 19); the
// one field the forwarder may have to change is OlderUnsent, set on a batch
// of the newest readings while older ones wait. Protobuf merges a message
// from concatenated encodings (a scalar field read twice keeps the last
// value) and zstd decompresses concatenated frames to the concatenation of
// their contents (RFC 8878, 3.1), so the field is appended to the stored
// bytes as a frame of its own: a few bytes, and no work on the readings.

// olderUnsentField is the protobuf encoding of OlderUnsent = true.
var olderUnsentField = protowire.AppendVarint(protowire.AppendTag(nil, fBatchOlderUnsent, protowire.VarintType), 1)

// olderUnsentFrame is that field as a zstd frame.
var olderUnsentFrame = sync.OnceValue(func() []byte { return zenc.EncodeAll(olderUnsentField, nil) })

// AppendOlderUnsent appends to dst the encoded batch src (the output of
// Encode) with OlderUnsent set, without decoding it: Decode of the result
// equals Decode of src with OlderUnsent true. src is checked as far as its
// two header bytes; errors wrap ErrMagic or ErrVersion.
func AppendOlderUnsent(dst, src []byte) ([]byte, error) {
	if err := checkHeader(src); err != nil {
		return dst, err
	}
	dst = append(dst, src...)
	switch src[1] & 0x0f {
	case compNone:
		return append(dst, olderUnsentField...), nil
	case compZstd:
		return append(dst, olderUnsentFrame()...), nil
	}
	return dst[:len(dst)-len(src)], fmt.Errorf("compression %d: %w", src[1]&0x0f, ErrVersion)
}
