package wire

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fieldline/fieldline"
)

// TestRepeatedPollsEncodeAsFresh: one encoder taken through a run of
// batches, where it reuses the previous batch's columns and aliases when
// the sensors repeat, writes each batch byte for byte as an encoder with
// nothing remembered does.
func TestRepeatedPollsEncodeAsFresh(t *testing.T) {
	poll := func(n, round int, edit func(rs []fieldline.Reading)) *fieldline.Batch {
		b := &fieldline.Batch{AgentID: "gw", FirstSeq: uint64(1 + round*n)}
		for i := range n {
			b.Readings = append(b.Readings, fieldline.Reading{SensorID: fmt.Sprintf("s%d", i), TimeNs: int64(round)*1e9 + int64(i), Value: float64(round*7 + i%5)})
		}
		if edit != nil {
			edit(b.Readings)
		}
		return b
	}
	tableA, _ := NewAliases(1, nil)
	tableB, _ := NewAliases(2, []string{"s3", "s1"})
	full, _ := NewAliases(3, nil)
	for i := range MaxAliases - 2 {
		full.aliasLocked(fmt.Sprintf("other%d", i), true)
	}
	swap := func(rs []fieldline.Reading) { rs[0], rs[1] = rs[1], rs[0] }
	steps := []struct {
		name  string
		batch *fieldline.Batch
		table *Aliases
		grow  bool
	}{
		{"first poll gives the aliases", poll(50, 0, nil), tableA, true},
		{"the same sensors", poll(50, 1, nil), tableA, true},
		{"the same sensors, known aliases only", poll(50, 2, nil), tableA, false},
		{"the same sensors, no table", poll(50, 3, nil), nil, false},
		{"the same sensors, another table", poll(50, 4, nil), tableB, false},
		{"another table again", poll(50, 5, nil), tableB, false},
		{"back to the first table", poll(50, 6, nil), tableA, false},
		{"two sensors swapped", poll(50, 7, swap), tableA, true},
		{"swapped again", poll(50, 8, swap), tableA, true},
		{"one kind changed", poll(50, 9, func(rs []fieldline.Reading) { rs[4].Kind = fieldline.KindCounter }), tableA, true},
		{"a sensor twice", poll(50, 10, func(rs []fieldline.Reading) { rs[9].SensorID = "s8" }), tableA, true},
		{"after the sensor twice", poll(50, 11, nil), tableA, true},
		{"more sensors", poll(60, 12, nil), tableA, true},
		{"more sensors again", poll(60, 13, nil), tableA, true},
		{"a table with room for two", poll(5, 14, nil), full, true},
		{"the two, and three by id", poll(5, 15, nil), full, true},
		{"fewer sensors", poll(3, 16, nil), tableA, true},
		{"an empty batch", poll(0, 17, nil), tableA, true},
	}
	e := &encoder{index: make(map[colKey]int32)}
	for _, s := range steps {
		got, err := e.encode(nil, s.batch, s.table, s.grow)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		fresh := &encoder{index: make(map[colKey]int32)}
		want, err := fresh.encode(nil, s.batch, s.table, s.grow)
		if err != nil {
			t.Fatalf("%s, fresh: %v", s.name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, a fresh encoder writes %d others", s.name, len(got), len(want))
		}
		var back fieldline.Batch
		if err := DecodeAliased(&back, got, DefaultLimits, aliasLookup(s.table)); err != nil || len(back.Readings) != len(s.batch.Readings) {
			t.Fatalf("%s: decoding: %v", s.name, err)
		}
		for i, r := range back.Readings {
			w := s.batch.Readings[i]
			if r.SensorID != w.SensorID || r.Value != w.Value || r.Kind != w.Kind || r.TimeNs != w.TimeNs {
				t.Fatalf("%s: reading %d decodes as %+v, want %+v", s.name, i, r, w)
			}
		}
	}
}

func aliasLookup(a *Aliases) AliasLookup {
	if a == nil {
		return nil
	}
	return a.Lookup
}
