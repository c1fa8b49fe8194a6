package uplink

import (
	"errors"
	"testing"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// FuzzDecodeAck: a reply decodes to an Ack, or to an error wrapping one of
// the package's sentinels; never a panic.
func FuzzDecodeAck(f *testing.F) {
	f.Add(wire.EncodeAck(&fieldline.Ack{AgentID: "gw-1", OK: true, FirstSeq: 1, LastSeq: 9}))
	f.Add(wire.EncodeAck(&fieldline.Ack{Code: CodeKafka, Retry: true, Error: "kafka"}))
	f.Add(wire.EncodeAck(&fieldline.Ack{Code: CodeDecode, Error: "bad magic"}))
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAck(data)
		switch {
		case err == nil:
			if a == nil || !a.OK {
				t.Fatalf("no error but ack %v", a)
			}
		case errors.Is(err, ErrBadAck):
		case errors.Is(err, ErrRejected), errors.Is(err, ErrNotAcked):
			if a == nil || a.OK {
				t.Fatalf("negative reply without its ack: %v", a)
			}
		default:
			t.Fatalf("error %v wraps no sentinel", err)
		}
	})
}
