package wire

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
)

// v1Batch is the batch of testdata/golden/batch-v1.hex, which Encode wrote
// before version 2 (main at 0c4efae): three sensors polled in turn four
// times, an event between, one reading of bad quality.
func v1Batch() *fieldline.Batch {
	b := &fieldline.Batch{AgentID: "gw-v1", Lane: fieldline.LaneTelemetry, FirstSeq: 1000}
	t0 := int64(1_765_000_000_000_000_000)
	for poll := range 4 {
		for s := range 3 {
			r := fieldline.Reading{SensorID: fmt.Sprintf("plant.s%d", s), TimeNs: t0 + int64(poll)*1e9 + int64(s)*1e6, Value: float64(20+poll) + float64(s)/10}
			if poll == 2 && s == 1 {
				r.Quality = fieldline.QualityBad
			}
			b.Readings = append(b.Readings, r)
		}
		if poll == 1 {
			b.Readings = append(b.Readings, fieldline.Reading{SensorID: "plant.note", Kind: fieldline.KindEvent, Text: "door open", TimeNs: t0 + int64(poll)*1e9 + 5e8})
		}
	}
	for i := range b.Readings {
		b.Readings[i].Seq = b.FirstSeq + uint64(i)
	}
	return b
}

// TestDecodeVersion1 decodes a batch written in format version 1 (order as
// column indexes): buffers and bridges keep reading what older agents
// stored and sent.
func TestDecodeVersion1(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "batch-v1.hex"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if src[1]&0xf0 != version1 {
		t.Fatalf("golden batch is version %d, want 1", src[1]>>4)
	}
	got, err := Decode(src, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := v1Batch(); !reflect.DeepEqual(got, want) {
		t.Fatalf("version-1 batch decodes to\n%+v\nwant\n%+v", got, want)
	}
	// Marking it older-unsent keeps it a version-1 batch that decodes.
	marked, err := AppendOlderUnsent(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decode(marked, Limits{}); err != nil || !got.OlderUnsent || len(got.Readings) != len(v1Batch().Readings) {
		t.Fatalf("marked version-1 batch: %v, %+v", err, got)
	}
}

// TestOrderDeltas: Encode writes version 2, whose order is a run of zeros
// for sensors polled in turn, and any order of columns round-trips.
func TestOrderDeltas(t *testing.T) {
	cases := []struct {
		name string
		cols []int // column of each reading, by sensor index
	}{
		{"in turn", []int{0, 1, 2, 0, 1, 2}},
		{"grouped", []int{0, 0, 1, 1, 2, 2}},
		{"backwards", []int{2, 1, 0, 2, 1, 0}},
		{"jumps", []int{0, 5, 1, 4, 2, 3, 5, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &fieldline.Batch{AgentID: "gw", FirstSeq: 1}
			for i, c := range tc.cols {
				b.Readings = append(b.Readings, fieldline.Reading{Seq: uint64(i + 1), SensorID: fmt.Sprintf("s%d", c), TimeNs: int64(i) * 1e9, Value: float64(i)})
			}
			enc, err := Encode(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			if enc[1]&0xf0 != version2 {
				t.Fatalf("Encode wrote version %d, want 2", enc[1]>>4)
			}
			got, err := Decode(enc, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, b) {
				t.Fatalf("round trip\n%+v\nwant\n%+v", got, b)
			}
		})
	}
	// Sensors polled in turn: every delta is zero.
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	b := &fieldline.Batch{}
	for i := range 12 {
		b.Readings = append(b.Readings, fieldline.Reading{SensorID: fmt.Sprintf("s%d", i%4)})
	}
	e.build(b)
	for i, d := range e.msg.Order {
		if d != 0 {
			t.Fatalf("order[%d] = %d for sensors in turn, want 0 (all: %v)", i, d, e.msg.Order)
		}
	}
}

// TestOrderDeltaOutOfRange: a version-2 order that steps a whole round of
// the columns or more is corrupt, not a panic.
func TestOrderDeltaOutOfRange(t *testing.T) {
	for _, order := range [][]uint32{{2}, {0, 5}, {1, 1, 1 << 31}} {
		if err := undeltaOrder(append([]uint32(nil), order...), 2); !errors.Is(err, ErrCorrupt) {
			t.Errorf("order %v over 2 columns: %v, want ErrCorrupt", order, err)
		}
	}
}
