package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/fieldline/fieldline"
)

// TestAppendOlderUnsent: a stored batch with the mark appended decodes to
// exactly what encoding the batch with OlderUnsent set decodes to, and its
// stored bytes are left as they are in front.
func TestAppendOlderUnsent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 50 {
		rs := make([]fieldline.Reading, rng.IntN(3000))
		for i := range rs {
			rs[i] = fieldline.Reading{SensorID: []string{"a", "b.c", "d"}[rng.IntN(3)], TimeNs: 1_700_000_000_000_000_000 + int64(i)*1e6,
				Value: float64(rng.IntN(10000)) / 10, Quality: fieldline.Quality(rng.IntN(3))}
		}
		in := fieldline.Batch{AgentID: "gw-1", Lane: fieldline.Lane(iter % int(fieldline.NumLanes)), FirstSeq: 1 + rng.Uint64N(1<<40)}
		in.Readings = withSeq(in.FirstSeq, rs)
		stored, err := Encode(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		marked, err := AppendOlderUnsent([]byte("x"), stored)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(marked[1:1+len(stored)], stored) {
			t.Fatal("stored bytes changed")
		}
		in.OlderUnsent = true
		reenc, err := Encode(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Decode(reenc, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(marked[1:], Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !got.OlderUnsent || !reflect.DeepEqual(got, want) {
			t.Fatalf("iter %d: marked batch decodes to %+v, want %+v", iter, got.OlderUnsent, want.OlderUnsent)
		}
		h, err := DecodeHeader(marked[1:], Limits{})
		if err != nil || h.FirstSeq != in.FirstSeq || h.Count != len(rs) {
			t.Fatalf("header of marked batch: %+v, %v", h, err)
		}
		if extra := len(marked) - 1 - len(stored); extra > 16 {
			t.Fatalf("mark costs %d bytes", extra)
		}
	}
	if _, err := AppendOlderUnsent(nil, []byte{0, 0, 0}); !errors.Is(err, ErrMagic) {
		t.Fatalf("bad magic: %v", err)
	}
	if _, err := AppendOlderUnsent(nil, []byte{magic, version1 | 7}); !errors.Is(err, ErrVersion) {
		t.Fatalf("unknown compression: %v", err)
	}
}
