package wire

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
)

// turnBatch is polls rounds of sensors s0..s<sensors-1> read in turn, one
// second apart, plus an event after the first round.
func turnBatch(agent string, first uint64, sensors, polls int) *fieldline.Batch {
	b := &fieldline.Batch{AgentID: agent, Lane: fieldline.LaneTelemetry, FirstSeq: first}
	t0 := int64(1_765_000_000_000_000_000)
	for p := range polls {
		for s := range sensors {
			b.Readings = append(b.Readings, fieldline.Reading{SensorID: fmt.Sprintf("plant.line-%d.s%03d", s%3, s), TimeNs: t0 + int64(p)*1e9, Value: float64(200+s) / 10})
		}
		if p == 0 {
			b.Readings = append(b.Readings, fieldline.Reading{SensorID: "plant.door", Kind: fieldline.KindEvent, Text: "open", TimeNs: t0 + 5e8})
		}
	}
	for i := range b.Readings {
		b.Readings[i].Seq = first + uint64(i)
	}
	return b
}

// TestAliasRoundTrip: a batch encoded with an alias table decodes to the
// same readings with that table; the table gains the sensors in the order
// they first come; the next batch of the same sensors needs no new alias,
// names every sensor with a zero delta and is smaller than the same batch
// by id.
func TestAliasRoundTrip(t *testing.T) {
	a, err := NewAliases(0xfeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	b1 := turnBatch("gw", 1, 50, 10)
	enc1, err := EncodeAliased(nil, b1, a)
	if err != nil {
		t.Fatal(err)
	}
	if enc1[1]&0xf0 != version3 {
		t.Fatalf("EncodeAliased wrote version %d, want 3", enc1[1]>>4)
	}
	var want []string
	for _, r := range b1.Readings {
		if !slices.Contains(want, r.SensorID) {
			want = append(want, r.SensorID)
		}
	}
	if got := a.IDs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("table after the first batch\n%q\nwant\n%q", got, want)
	}
	if h, err := DecodeHeader(enc1, Limits{}); err != nil || h.AliasEpoch != 0xfeed || h.AliasCount != len(want) || h.Count != len(b1.Readings) {
		t.Fatalf("header %+v, %v; want table feed of %d aliases", h, err, len(want))
	}
	got, err := Decode(enc1, Limits{})
	if !errors.Is(err, ErrAliasUnknown) || got != nil {
		t.Fatalf("Decode without a table: %v, want ErrAliasUnknown", err)
	}
	var d fieldline.Batch
	if err := DecodeAliased(&d, enc1, Limits{}, a.Lookup); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&d, b1) {
		t.Fatalf("round trip\n%+v\nwant\n%+v", d, *b1)
	}

	b2 := turnBatch("gw", 1+uint64(len(b1.Readings)), 50, 10)
	enc2, err := EncodeAliased(nil, b2, a)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != len(want) {
		t.Fatalf("the second batch grew the table to %d, want %d", a.Len(), len(want))
	}
	e := encoders.Get().(*encoder)
	e.build(b2)
	useAliases(&e.msg, a, true, &e.aliasOf)
	for i, c := range e.msg.Columns {
		if c.SensorID != "" || (c.AliasDelta != 0 && i != 1) {
			t.Errorf("column %d: id %q, alias delta %d", i, c.SensorID, c.AliasDelta)
		}
	}
	encoders.Put(e)
	byID, err := Encode(nil, b2)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc2) >= len(byID) {
		t.Errorf("aliased batch %d bytes, by id %d", len(enc2), len(byID))
	}
	t.Logf("500 readings of 50 sensors: %d bytes by id, %d by alias (%.2f / %.2f B/reading)", len(byID), len(enc2),
		float64(len(byID))/float64(len(b2.Readings)), float64(len(enc2))/float64(len(b2.Readings)))
	if err := DecodeAliased(&d, enc2, Limits{}, a.Lookup); err != nil || !reflect.DeepEqual(&d, b2) {
		t.Fatalf("second batch: %v", err)
	}
}

// TestAliasLookupRefuses: a table that is another, or shorter than the
// batch needs, is ErrAliasUnknown, never a guess.
func TestAliasLookupRefuses(t *testing.T) {
	a, _ := NewAliases(7, nil)
	enc, err := EncodeAliased(nil, turnBatch("gw", 1, 4, 2), a)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewAliases(8, a.IDs())
	ids := a.IDs()
	cases := []struct {
		name string
		look AliasLookup
	}{
		{"none", nil},
		{"another epoch", other.Lookup},
		{"short table", func(uint64, int) ([]string, error) { return ids[:len(ids)-1], nil }},
		{"empty table", func(uint64, int) ([]string, error) { return nil, nil }},
		{"lookup fails", func(uint64, int) ([]string, error) { return nil, fmt.Errorf("kv away: %w", ErrAliasUnknown) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d fieldline.Batch
			if err := DecodeAliased(&d, enc, Limits{}, tc.look); !errors.Is(err, ErrAliasUnknown) {
				t.Fatalf("got %v, want ErrAliasUnknown", err)
			}
		})
	}
}

// TestAliasTableFull: sensors beyond MaxAliases go by id in the same batch,
// and a batch none of whose sensors has an alias is version 2.
func TestAliasTableFull(t *testing.T) {
	ids := make([]string, MaxAliases-1)
	for i := range ids {
		ids[i] = fmt.Sprintf("old%d", i)
	}
	a, err := NewAliases(9, ids)
	if err != nil {
		t.Fatal(err)
	}
	b := turnBatch("gw", 1, 3, 2)
	enc, err := EncodeAliased(nil, b, a)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != MaxAliases || enc[1]&0xf0 != version3 {
		t.Fatalf("table %d, version %d", a.Len(), enc[1]>>4)
	}
	var d fieldline.Batch
	if err := DecodeAliased(&d, enc, Limits{}, a.Lookup); err != nil || !reflect.DeepEqual(&d, b) {
		t.Fatalf("mixed batch: %v\n%+v", err, d)
	}
	b2 := turnBatch("gw", 100, 3, 1)
	for i := range b2.Readings {
		b2.Readings[i].SensorID += ".new"
	}
	enc2, err := EncodeAliased(nil, b2, a)
	if err != nil || enc2[1]&0xf0 != version2 {
		t.Fatalf("batch of new sensors into a full table: %v, version %d", err, enc2[1]>>4)
	}
}

// TestNewAliasesRefuses: tables that do not hold together.
func TestNewAliasesRefuses(t *testing.T) {
	many := make([]string, MaxAliases+1)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	for name, tc := range map[string]struct {
		epoch uint64
		ids   []string
	}{
		"epoch 0":    {0, []string{"a"}},
		"empty id":   {1, []string{"a", ""}},
		"repeated":   {1, []string{"a", "b", "a"}},
		"too many":   {1, many},
		"nil epoch0": {0, nil},
	} {
		if _, err := NewAliases(tc.epoch, tc.ids); !errors.Is(err, ErrAliasTable) {
			t.Errorf("%s: %v, want ErrAliasTable", name, err)
		}
	}
}

// TestAliasCorrupt: hand-made version-3 messages that name aliases out of
// range, or mix versions and aliases, are ErrCorrupt.
func TestAliasCorrupt(t *testing.T) {
	ids := []string{"a", "b"}
	look := func(uint64, int) ([]string, error) { return ids, nil }
	col := func(id string, delta int32) *pbColumn {
		return &pbColumn{SensorID: id, Count: 1, Ts: []int64{1}, Digits: []int64{1}, AliasDelta: delta}
	}
	cases := []struct {
		name string
		v    byte
		m    pbBatch
	}{
		{"alias past count", version3, pbBatch{Count: 2, AliasEpoch: 1, AliasCount: 2, Columns: []*pbColumn{col("", 0), col("", 1)}, Order: []uint32{0, 0}}},
		{"negative alias", version3, pbBatch{Count: 1, AliasEpoch: 1, AliasCount: 2, Columns: []*pbColumn{col("", -1)}}},
		{"id and alias", version3, pbBatch{Count: 1, AliasEpoch: 1, AliasCount: 2, Columns: []*pbColumn{col("x", 1)}}},
		{"no epoch", version3, pbBatch{Count: 1, AliasCount: 1, Columns: []*pbColumn{col("", 0)}}},
		{"no count", version3, pbBatch{Count: 1, AliasEpoch: 1, Columns: []*pbColumn{col("", 0)}}},
		{"count too large", version3, pbBatch{Count: 1, AliasEpoch: 1, AliasCount: MaxAliases + 1, Columns: []*pbColumn{col("", 0)}}},
		{"aliases in version 2", version2, pbBatch{Count: 1, AliasEpoch: 1, AliasCount: 1, Columns: []*pbColumn{col("", 0)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.m.marshal(nil)
			if err != nil {
				t.Fatal(err)
			}
			src := append([]byte{magic, tc.v | compNone}, raw...)
			var d fieldline.Batch
			if err := DecodeAliased(&d, src, Limits{}, look); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestBirthRoundTrip and its refusals.
func TestBirthRoundTrip(t *testing.T) {
	a, _ := NewAliases(0x0123456789abcdef, []string{"plant.s1", "plant.s2", "ünï"})
	want := a.Birth("gw-7")
	enc, err := AppendBirth(nil, &want)
	if err != nil {
		t.Fatal(err)
	}
	if !IsBirth(enc) || IsBirth([]byte{magic}) {
		t.Fatal("IsBirth does not tell a birth from a batch")
	}
	got, err := DecodeBirth(enc, Limits{})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v, want %+v", got, err, want)
	}
	mk := func(b Birth) []byte {
		enc, err := AppendBirth(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	cases := []struct {
		name string
		src  []byte
		want error
	}{
		{"empty", nil, ErrBirth},
		{"a batch", []byte{magic, version2 | compNone}, ErrBirth},
		{"bad compression", []byte{magicBirth, version1 | compNone, 1}, ErrBirth},
		{"not zstd", []byte{magicBirth, version1 | compZstd, 1, 2, 3}, ErrBirth},
		{"epoch 0", mk(Birth{AgentID: "gw", IDs: []string{"a"}}), ErrBirth},
		{"repeated id", mk(Birth{AgentID: "gw", Epoch: 1, IDs: []string{"a", "a"}}), ErrBirth},
		{"empty id", mk(Birth{AgentID: "gw", Epoch: 1, IDs: []string{""}}), ErrBirth},
		{"too large", mk(Birth{AgentID: "gw", Epoch: 1, IDs: []string{"a"}}), ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lim := Limits{}
			if tc.want == ErrTooLarge {
				lim.MaxEncodedBytes = len(tc.src) - 1
			}
			if _, err := DecodeBirth(tc.src, lim); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestEncodeKnownAliases: only sensors the table has go by alias, the
// table does not grow, and a batch of unknown sensors is version 2.
func TestEncodeKnownAliases(t *testing.T) {
	a, _ := NewAliases(5, []string{"plant.line-0.s000", "plant.line-1.s001"})
	b := turnBatch("gw", 1, 4, 2)
	enc, err := EncodeKnownAliases(nil, b, a)
	if err != nil || enc[1]&0xf0 != version3 || a.Len() != 2 {
		t.Fatalf("err %v, version %d, table %d (want 3, 2)", err, enc[1]>>4, a.Len())
	}
	var d fieldline.Batch
	if err := DecodeAliased(&d, enc, Limits{}, a.Lookup); err != nil || !reflect.DeepEqual(&d, b) {
		t.Fatalf("round trip: %v", err)
	}
	other := turnBatch("gw", 1, 4, 2)
	for i := range other.Readings {
		other.Readings[i].SensorID = "x." + other.Readings[i].SensorID
	}
	if enc, err := EncodeKnownAliases(nil, other, a); err != nil || enc[1]&0xf0 != version2 || a.Len() != 2 {
		t.Fatalf("unknown sensors: err %v, version %d, table %d", err, enc[1]>>4, a.Len())
	}
}

// TestLongIDGoesByID: a sensor id over MaxAliasIDLen gets no alias.
func TestLongIDGoesByID(t *testing.T) {
	a, _ := NewAliases(3, nil)
	long := strings.Repeat("x", MaxAliasIDLen+1)
	b := &fieldline.Batch{AgentID: "gw", FirstSeq: 1, Readings: []fieldline.Reading{{Seq: 1, SensorID: "short"}, {Seq: 2, SensorID: long}}}
	enc, err := EncodeAliased(nil, b, a)
	if err != nil || a.Len() != 1 {
		t.Fatalf("err %v, table %d", err, a.Len())
	}
	var d fieldline.Batch
	if err := DecodeAliased(&d, enc, Limits{}, a.Lookup); err != nil || d.Readings[1].SensorID != long {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := NewAliases(3, []string{long}); !errors.Is(err, ErrAliasTable) {
		t.Fatalf("NewAliases took an id of %d bytes: %v", len(long), err)
	}
}

// TestStartOf: a copy of a table is the start of a later one of the same
// epoch, not of another epoch's nor of a table that went another way.
func TestStartOf(t *testing.T) {
	mk := func(epoch uint64, ids ...string) *Aliases { a, _ := NewAliases(epoch, ids); return a }
	for _, tc := range []struct {
		a, b *Aliases
		want bool
	}{
		{mk(1, "a", "b"), mk(1, "a", "b", "c"), true},
		{mk(1, "a", "b"), mk(1, "a", "b"), true},
		{mk(1), mk(1, "a"), true},
		{mk(1, "a", "b", "c"), mk(1, "a", "b"), false},
		{mk(1, "a", "c"), mk(1, "a", "b", "c"), false},
		{mk(1, "a"), mk(2, "a", "b"), false},
	} {
		if got := tc.a.StartOf(tc.b); got != tc.want {
			t.Errorf("%q StartOf %q (epochs %d, %d) = %v", tc.a.IDs(), tc.b.IDs(), tc.a.Epoch(), tc.b.Epoch(), got)
		}
	}
}
