package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

// The hand-written messages (pb.go, pbbatch.go, ack.go, status.go,
// alert.go) must make the bytes the generated code of wirepb makes, and
// read every input as the generated code reads it: the same values where it
// accepts, an error where it refuses. The references below are the
// generated code with the conversions package wire used before it wrote
// the messages by hand.

// refMarshal is the generated code's encoding, with map keys in order.
func refMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatalf("generated code refuses %v: %v", m, err)
	}
	return b
}

// batchToPB and batchFromPB convert between the hand-written Batch and the
// generated one.
func batchToPB(m *pbBatch) *wirepb.Batch {
	out := &wirepb.Batch{AgentId: m.AgentID, Lane: m.Lane, FirstSeq: m.FirstSeq, Count: m.Count, Order: m.Order, OlderUnsent: m.OlderUnsent, AliasEpoch: m.AliasEpoch, AliasCount: m.AliasCount}
	for _, c := range m.Columns {
		out.Columns = append(out.Columns, &wirepb.Column{
			SensorId: c.SensorID, Kind: c.Kind, Count: c.Count, Ts: c.Ts, ValueCoding: c.ValueCoding, Exponent: c.Exponent,
			Digits: c.Digits, ExceptionIndex: c.ExceptionIndex, ExceptionValue: c.ExceptionValue, Raw: c.Raw,
			QualityRuns: c.QualityRuns, FlagRuns: c.FlagRuns, Text: c.Text, AliasDelta: c.AliasDelta,
		})
	}
	return out
}

func batchFromPB(m *wirepb.Batch) *pbBatch {
	out := &pbBatch{AgentID: m.AgentId, Lane: m.Lane, FirstSeq: m.FirstSeq, Count: m.Count, Order: m.Order, OlderUnsent: m.OlderUnsent, AliasEpoch: m.AliasEpoch, AliasCount: m.AliasCount}
	for _, c := range m.Columns {
		out.Columns = append(out.Columns, &pbColumn{
			SensorID: c.SensorId, Kind: c.Kind, Count: c.Count, Ts: c.Ts, ValueCoding: c.ValueCoding, Exponent: c.Exponent,
			Digits: c.Digits, ExceptionIndex: c.ExceptionIndex, ExceptionValue: c.ExceptionValue, Raw: c.Raw,
			QualityRuns: c.QualityRuns, FlagRuns: c.FlagRuns, Text: c.Text, AliasDelta: c.AliasDelta,
		})
	}
	return out
}

// sameBatch compares two Batches, doubles by their bits and an empty
// list as nil.
func sameBatch(a, b *pbBatch) bool {
	return reflect.DeepEqual(normBatch(a), normBatch(b))
}

// normCol is a Column with its doubles as bits and empty lists nil.
type normCol struct {
	SensorID                 string
	Kind, Count, ValueCoding uint32
	Exponent                 int32
	Ts, Digits               []int64
	ExceptionIndex, Q, F     []uint32
	ExceptionValue, Raw      []uint64
	Text                     []string
	AliasDelta               int32
}

type normB struct {
	AgentID     string
	Lane, Count uint32
	FirstSeq    uint64
	Order       []uint32
	OlderUnsent bool
	AliasEpoch  uint64
	AliasCount  uint32
	Columns     []normCol
}

func nz[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normBatch(m *pbBatch) normB {
	bits := func(vs []float64) []uint64 {
		var out []uint64
		for _, v := range vs {
			out = append(out, math.Float64bits(v))
		}
		return out
	}
	out := normB{AgentID: m.AgentID, Lane: m.Lane, Count: m.Count, FirstSeq: m.FirstSeq, Order: nz(m.Order), OlderUnsent: m.OlderUnsent, AliasEpoch: m.AliasEpoch, AliasCount: m.AliasCount}
	for _, c := range m.Columns {
		out.Columns = append(out.Columns, normCol{
			SensorID: c.SensorID, Kind: c.Kind, Count: c.Count, ValueCoding: c.ValueCoding, Exponent: c.Exponent,
			Ts: nz(c.Ts), Digits: nz(c.Digits), ExceptionIndex: nz(c.ExceptionIndex), Q: nz(c.QualityRuns), F: nz(c.FlagRuns),
			ExceptionValue: bits(c.ExceptionValue), Raw: bits(c.Raw), Text: nz(c.Text), AliasDelta: c.AliasDelta,
		})
	}
	return out
}

// refDecodeAck, refEncodeStatus, refDecodeStatus and refDecodeAlert are
// package wire's code before it wrote the messages by hand.
func refDecodeAck(data []byte, a *fieldline.Ack) error {
	*a = fieldline.Ack{}
	var m wirepb.Ack
	if err := proto.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrAck, err)
	}
	if m.Lane >= fieldline.NumLanes {
		return fmt.Errorf("%w: lane %d", ErrAck, m.Lane)
	}
	*a = fieldline.Ack{
		AgentID: m.AgentId, Lane: fieldline.Lane(m.Lane), FirstSeq: m.FirstSeq, LastSeq: m.LastSeq,
		OK: m.Ok, Code: m.Code, Error: m.Error, Retry: m.Retry,
	}
	return nil
}

func refEncodeAck(t testing.TB, a *fieldline.Ack) []byte {
	return refMarshal(t, &wirepb.Ack{
		AgentId: validUTF8(a.AgentID), Lane: uint32(a.Lane), FirstSeq: a.FirstSeq, LastSeq: a.LastSeq,
		Ok: a.OK, Code: validUTF8(a.Code), Error: validUTF8(a.Error), Retry: a.Retry,
	})
}

func refEncodeStatus(t testing.TB, s *fieldline.AgentStatus) []byte {
	m := &wirepb.AgentStatus{
		AgentId: validUTF8(s.AgentID), Version: validUTF8(s.Version), RulesVersion: validUTF8(s.RulesVersion), RulesError: validUTF8(s.RulesError),
		SourceErrors: s.SourceErrors, ReadingsIn: s.ReadingsIn, BatchesAcked: s.BatchesAcked,
		ClockSynced: s.ClockSynced, UptimeS: s.UptimeS,
		Lanes: make([]*wirepb.LaneStatus, len(s.Lanes)),
		Fleet: validUTF8(s.Fleet), RulesKey: validUTF8(s.RulesKey), RulesRevision: s.RulesRevision, RulesWanted: s.RulesWanted, RuleErrors: s.RuleErrors,
		Labels: validMap(s.Labels),
	}
	if !s.Time.IsZero() {
		m.TimeNs = s.Time.UnixNano()
	}
	for i := range s.Lanes {
		l := &s.Lanes[i]
		m.Lanes[i] = &wirepb.LaneStatus{
			Lane: uint32(l.Lane), DepthReadings: l.DepthReadings, DepthBytes: l.DepthBytes, OldestUnsentAgeMs: l.OldestUnsentAgeMs,
			Dropped: l.Dropped, Expired: l.Expired, AckedSeq: l.AckedSeq, NextSeq: l.NextSeq,
			DeadLettered: l.DeadLettered, Undeliverable: l.Undeliverable, Lost: l.Lost,
		}
		for _, r := range l.LostRanges {
			m.Lanes[i].LostRanges = append(m.Lanes[i].LostRanges, &wirepb.SeqRange{First: r.First, Last: r.Last})
		}
	}
	return refMarshal(t, m)
}

func refDecodeStatus(data []byte, s *fieldline.AgentStatus) error {
	*s = fieldline.AgentStatus{}
	var m wirepb.AgentStatus
	if err := proto.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrStatus, err)
	}
	out := fieldline.AgentStatus{
		AgentID: m.AgentId, Version: m.Version, RulesVersion: m.RulesVersion, RulesError: m.RulesError,
		SourceErrors: m.SourceErrors, ReadingsIn: m.ReadingsIn, BatchesAcked: m.BatchesAcked,
		ClockSynced: m.ClockSynced, UptimeS: m.UptimeS,
		Fleet: m.Fleet, Labels: m.Labels, RulesKey: m.RulesKey, RulesRevision: m.RulesRevision, RulesWanted: m.RulesWanted, RuleErrors: m.RuleErrors,
	}
	if len(out.Labels) == 0 {
		out.Labels = nil
	}
	if m.TimeNs != 0 {
		out.Time = time.Unix(0, m.TimeNs).UTC()
	}
	if len(m.Lanes) > 0 {
		out.Lanes = make([]fieldline.LaneStatus, len(m.Lanes))
	}
	for i, l := range m.Lanes {
		if l.Lane >= fieldline.NumLanes {
			return fmt.Errorf("%w: lanes[%d]: lane %d", ErrStatus, i, l.Lane)
		}
		out.Lanes[i] = fieldline.LaneStatus{
			Lane: fieldline.Lane(l.Lane), DepthReadings: l.DepthReadings, DepthBytes: l.DepthBytes, OldestUnsentAgeMs: l.OldestUnsentAgeMs,
			Dropped: l.Dropped, Expired: l.Expired, AckedSeq: l.AckedSeq, NextSeq: l.NextSeq,
			DeadLettered: l.DeadLettered, Undeliverable: l.Undeliverable, Lost: l.Lost,
		}
		for j, r := range l.LostRanges {
			if r.First == 0 || r.First > r.Last {
				return fmt.Errorf("%w: lanes[%d].lost_ranges[%d]: %d..%d", ErrStatus, i, j, r.First, r.Last)
			}
			out.Lanes[i].LostRanges = append(out.Lanes[i].LostRanges, fieldline.SeqRange{First: r.First, Last: r.Last})
		}
	}
	*s = out
	return nil
}

func refEncodeAlert(t testing.TB, e *fieldline.AlertEvent) []byte {
	return refMarshal(t, &wirepb.AlertEvent{
		Rule: validUTF8(e.Rule), Fingerprint: e.Fingerprint, Seq: e.Seq,
		From: uint32(e.From), To: uint32(e.To), Origin: uint32(e.Origin),
		AgentId: validUTF8(e.AgentID), SensorId: validUTF8(e.SensorID),
		Value: e.Value, WindowNs: e.WindowNs,
		Labels: validMap(e.Labels), Annotations: validMap(e.Annotations),
		Severity: validUTF8(e.Severity), TimeNs: e.TimeNs, ActiveSinceNs: e.ActiveSinceNs,
	})
}

func refDecodeAlert(b []byte, e *fieldline.AlertEvent) error {
	*e = fieldline.AlertEvent{}
	var m wirepb.AlertEvent
	if err := proto.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if err := checkAlert(m.From, m.To, m.Origin, len(m.Labels)+len(m.Annotations)); err != nil {
		return err
	}
	out := fieldline.AlertEvent{
		Rule: m.Rule, Fingerprint: m.Fingerprint, Seq: m.Seq,
		From: fieldline.AlertState(m.From), To: fieldline.AlertState(m.To), Origin: fieldline.AlertOrigin(m.Origin),
		AgentID: m.AgentId, SensorID: m.SensorId, Value: m.Value, WindowNs: m.WindowNs,
		Labels: m.Labels, Annotations: m.Annotations, Severity: m.Severity,
		TimeNs: m.TimeNs, ActiveSinceNs: m.ActiveSinceNs,
	}
	if err := checkAlertStrings(&out); err != nil {
		return err
	}
	*e = out
	return nil
}

// sameAlertBits is sameAlert with values compared by their bits.
func sameAlertBits(a, b fieldline.AlertEvent) bool {
	if math.Float64bits(a.Value) != math.Float64bits(b.Value) {
		return false
	}
	a.Value, b.Value = 0, 0
	return reflect.DeepEqual(a, b)
}

// Random messages. Strings and numbers favour the edges: empty, long
// (multi-byte lengths), not ASCII, the extremes of each type.

func randString(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return ""
	case 1:
		return "é\u2603\U0001F600"
	case 2:
		return string(bytes.Repeat([]byte{'x'}, 100+r.IntN(300)))
	case 3:
		return "bad \xff\xfe utf-8" // only where the writer replaces it
	}
	b := make([]byte, r.IntN(12))
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

func randU64(r *rand.Rand) uint64 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxUint64
	case 2:
		return uint64(r.IntN(200))
	case 3:
		return 1 << r.IntN(64)
	}
	return r.Uint64()
}

func randF64(r *rand.Rand) float64 {
	switch r.IntN(9) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return math.NaN()
	case 3:
		return math.Float64frombits(0x7ff0_0000_0000_0001) // NaN with a payload
	case 4:
		return math.Inf(1 - 2*r.IntN(2))
	case 5:
		return math.SmallestNonzeroFloat64
	}
	return math.Float64frombits(r.Uint64())
}

func randList[T any](r *rand.Rand, f func(*rand.Rand) T) []T {
	n := 0
	switch r.IntN(4) {
	case 1:
		n = 1
	case 2:
		n = r.IntN(10)
	case 3:
		n = 100 + r.IntN(200) // packed lengths over 127 bytes
	}
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = f(r)
	}
	return out
}

func randMap(r *rand.Rand) map[string]string {
	n := r.IntN(5)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		m[randString(r)] = randString(r)
	}
	return m
}

// randBatch is a random Batch, UTF-8 strings only (the generated code
// refuses others).
func randBatch(r *rand.Rand) *pbBatch {
	str := func(r *rand.Rand) string { return validUTF8(randString(r)) }
	u32 := func(r *rand.Rand) uint32 { return uint32(randU64(r)) }
	s64 := func(r *rand.Rand) int64 { return int64(randU64(r)) }
	m := &pbBatch{AgentID: str(r), Lane: u32(r), FirstSeq: randU64(r), Count: u32(r), Order: randList(r, u32), OlderUnsent: r.IntN(2) == 0}
	if r.IntN(2) == 0 {
		m.AliasEpoch, m.AliasCount = randU64(r), u32(r)
	}
	m.Columns = randList(r, func(r *rand.Rand) *pbColumn {
		return &pbColumn{
			SensorID: str(r), Kind: u32(r), Count: u32(r), Ts: randList(r, s64), ValueCoding: u32(r), Exponent: int32(randU64(r)),
			Digits: randList(r, s64), ExceptionIndex: randList(r, u32), ExceptionValue: randList(r, randF64), Raw: randList(r, randF64),
			QualityRuns: randList(r, u32), FlagRuns: randList(r, u32), Text: randList(r, str), AliasDelta: int32(randU64(r)) >> (r.IntN(32)),
		}
	})
	if len(m.Columns) > 8 {
		m.Columns = m.Columns[:8]
	}
	return m
}

func randStatus(r *rand.Rand) fieldline.AgentStatus {
	s := fieldline.AgentStatus{
		AgentID: randString(r), Version: randString(r), RulesVersion: randString(r), RulesError: randString(r),
		SourceErrors: randU64(r), ReadingsIn: randU64(r), BatchesAcked: randU64(r), ClockSynced: r.IntN(2) == 0, UptimeS: int64(randU64(r)),
		Fleet: randString(r), Labels: randMap(r), RulesKey: randString(r), RulesRevision: randU64(r), RulesWanted: randU64(r), RuleErrors: randU64(r),
	}
	if r.IntN(3) > 0 {
		s.Time = time.Unix(0, int64(randU64(r))).UTC()
	}
	for range r.IntN(4) {
		l := fieldline.LaneStatus{
			Lane: fieldline.Lane(r.IntN(fieldline.NumLanes)), DepthReadings: randU64(r), DepthBytes: randU64(r), OldestUnsentAgeMs: int64(randU64(r)),
			Dropped: randU64(r), Expired: randU64(r), AckedSeq: randU64(r), NextSeq: randU64(r), DeadLettered: randU64(r), Undeliverable: randU64(r), Lost: randU64(r),
		}
		for range r.IntN(3) {
			first := 1 + randU64(r)%1000
			l.LostRanges = append(l.LostRanges, fieldline.SeqRange{First: first, Last: first + randU64(r)%1000})
		}
		s.Lanes = append(s.Lanes, l)
	}
	return s
}

func randAlert(r *rand.Rand) fieldline.AlertEvent {
	return fieldline.AlertEvent{
		Rule: randString(r), Fingerprint: randU64(r), Seq: randU64(r),
		From: fieldline.AlertState(r.IntN(5)), To: fieldline.AlertState(r.IntN(5)), Origin: fieldline.AlertOrigin(r.IntN(2)),
		AgentID: randString(r), SensorID: randString(r), Value: randF64(r), WindowNs: int64(randU64(r)),
		Labels: randMap(r), Annotations: randMap(r), Severity: randString(r), TimeNs: int64(randU64(r)), ActiveSinceNs: int64(randU64(r)),
	}
}

// TestBatchProtoMatchesGenerated: random Batches make the generated code's
// bytes, and read back as the generated code reads them, both ways.
func TestBatchProtoMatchesGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 19))
	for i := range 1000 {
		m := randBatch(r)
		got, err := m.marshal(nil)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		want := refMarshal(t, batchToPB(m))
		if !bytes.Equal(got, want) {
			t.Fatalf("#%d: bytes differ\n got %x\nwant %x", i, got, want)
		}
		var back pbBatch
		if err := back.unmarshal(want); err != nil {
			t.Fatalf("#%d: reading the generated bytes: %v", i, err)
		}
		if !sameBatch(&back, m) {
			t.Fatalf("#%d: read\n%v\nwant\n%v", i, normBatch(&back), normBatch(m))
		}
		var gen wirepb.Batch
		if err := proto.Unmarshal(got, &gen); err != nil {
			t.Fatalf("#%d: generated code refuses the bytes: %v", i, err)
		}
		if !sameBatch(batchFromPB(&gen), m) {
			t.Fatalf("#%d: generated code read\n%v\nwant\n%v", i, normBatch(batchFromPB(&gen)), normBatch(m))
		}
	}
}

// TestBatchProtoRefusesInvalidUTF8: the generated code refused to marshal
// a string that is not UTF-8, and so does the hand-written one (Encode
// then fails instead of sending what no reader accepts).
func TestBatchProtoRefusesInvalidUTF8(t *testing.T) {
	for _, m := range []*pbBatch{
		{AgentID: "gw-\xff"},
		{AgentID: "gw", Columns: []*pbColumn{{SensorID: "t\xc3"}}},
		{AgentID: "gw", Columns: []*pbColumn{{SensorID: "t", Text: []string{"ok", "\xfe"}}}},
	} {
		if _, err := m.marshal(nil); !errors.Is(err, errUTF8) {
			t.Errorf("%+v: %v, want errUTF8", normBatch(m), err)
		}
		if _, err := proto.Marshal(batchToPB(m)); err == nil {
			t.Errorf("%+v: the generated code takes it", normBatch(m))
		}
	}
	_, err := Encode(nil, &fieldline.Batch{AgentID: "gw", Readings: []fieldline.Reading{{SensorID: "\xff"}}})
	if !errors.Is(err, errUTF8) {
		t.Errorf("Encode: %v, want errUTF8", err)
	}
}

// TestMessagesMatchGenerated: random Acks, heartbeats and alert events make
// the generated code's bytes and decode as it decodes them.
func TestMessagesMatchGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 19))
	for i := range 3000 {
		a := fieldline.Ack{AgentID: randString(r), Lane: fieldline.Lane(r.IntN(fieldline.NumLanes)), FirstSeq: randU64(r), LastSeq: randU64(r),
			OK: r.IntN(2) == 0, Code: randString(r), Error: randString(r), Retry: r.IntN(2) == 0}
		ab := EncodeAck(&a)
		if want := refEncodeAck(t, &a); !bytes.Equal(ab, want) {
			t.Fatalf("ack #%d: bytes differ\n got %x\nwant %x", i, ab, want)
		}
		var got, want fieldline.Ack
		if err1, err2 := DecodeAck(ab, &got), refDecodeAck(ab, &want); err1 != nil || err2 != nil || got != want {
			t.Fatalf("ack #%d: %+v, %v; generated %+v, %v", i, got, err1, want, err2)
		}

		s := randStatus(r)
		sb := EncodeStatus(&s)
		if want := refEncodeStatus(t, &s); !bytes.Equal(sb, want) {
			t.Fatalf("status #%d: bytes differ\n got %x\nwant %x", i, sb, want)
		}
		var gs, ws fieldline.AgentStatus
		if err1, err2 := DecodeStatus(sb, &gs), refDecodeStatus(sb, &ws); err1 != nil || err2 != nil || !sameStatus(gs, ws) {
			t.Fatalf("status #%d: %+v, %v; generated %+v, %v", i, gs, err1, ws, err2)
		}

		e := randAlert(r)
		eb := AppendAlertProto(nil, &e)
		if want := refEncodeAlert(t, &e); !bytes.Equal(eb, want) {
			t.Fatalf("alert #%d: bytes differ\n got %x\nwant %x", i, eb, want)
		}
		var ge, we fieldline.AlertEvent
		err1, err2 := DecodeAlert(SchemaAlertProto, eb, &ge), refDecodeAlert(eb, &we)
		if (err1 == nil) != (err2 == nil) || !sameAlertBits(ge, we) {
			t.Fatalf("alert #%d: %+v, %v; generated %+v, %v", i, ge, err1, we, err2)
		}
	}
}

// soup appends random fields to b: every wire type under field numbers the
// messages use and some they do not, scalars where lists are expected and
// the other way round, nested soup in length-delimited fields, and now and
// then a broken byte. It is what a newer writer, an older one or line noise
// may send; the hand-written readers must take it exactly as the generated
// code does.
func soup(r *rand.Rand, b []byte, depth int) []byte {
	for range r.IntN(12) {
		num := protowire.Number(1 + r.IntN(18))
		if r.IntN(20) == 0 {
			num = protowire.Number(r.Uint32N(1 << 29))
		}
		switch r.IntN(7) {
		case 0, 1:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, randU64(r))
		case 2:
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, r.Uint64())
		case 3:
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, r.Uint32())
		case 4, 5:
			var v []byte
			switch {
			case depth < 3 && r.IntN(2) == 0:
				v = soup(r, nil, depth+1)
			case r.IntN(2) == 0:
				for range r.IntN(6) {
					v = protowire.AppendVarint(v, randU64(r))
				}
			default:
				v = []byte(randString(r))
			}
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, v)
		case 6:
			b = protowire.AppendTag(b, num, protowire.StartGroupType)
			if depth < 3 {
				b = soup(r, b, depth+1)
			}
			b = protowire.AppendTag(b, num, protowire.EndGroupType)
		}
	}
	if r.IntN(15) == 0 && len(b) > 0 {
		b[r.IntN(len(b))] ^= byte(1 << r.IntN(8))
	}
	if r.IntN(15) == 0 && len(b) > 0 {
		b = b[:r.IntN(len(b))]
	}
	return b
}

// checkSameReading runs every hand-written reader and its generated
// reference on data and fails when they disagree.
func checkSameReading(t *testing.T, data []byte) {
	t.Helper()
	var hb pbBatch
	var gb wirepb.Batch
	err1, err2 := hb.unmarshal(data), proto.Unmarshal(data, &gb)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("batch %x: hand-written %v, generated %v", data, err1, err2)
	}
	if err1 == nil && !sameBatch(&hb, batchFromPB(&gb)) {
		t.Fatalf("batch %x:\n got %v\nwant %v", data, normBatch(&hb), normBatch(batchFromPB(&gb)))
	}

	var ha, ga fieldline.Ack
	err1, err2 = DecodeAck(data, &ha), refDecodeAck(data, &ga)
	if (err1 == nil) != (err2 == nil) || ha != ga {
		t.Fatalf("ack %x: %+v, %v; generated %+v, %v", data, ha, err1, ga, err2)
	}

	var hs, gs fieldline.AgentStatus
	err1, err2 = DecodeStatus(data, &hs), refDecodeStatus(data, &gs)
	if (err1 == nil) != (err2 == nil) || !sameStatus(hs, gs) {
		t.Fatalf("status %x: %+v, %v; generated %+v, %v", data, hs, err1, gs, err2)
	}

	var he, ge fieldline.AlertEvent
	err1, err2 = DecodeAlert(SchemaAlertProto, data, &he), refDecodeAlert(data, &ge)
	if (err1 == nil) != (err2 == nil) || !sameAlertBits(he, ge) {
		t.Fatalf("alert %x: %+v, %v; generated %+v, %v", data, he, err1, ge, err2)
	}
}

// TestReadersMatchGenerated feeds field soup, and valid messages with soup
// after them, to the hand-written readers and the generated code.
func TestReadersMatchGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 19))
	for range 10000 {
		checkSameReading(t, soup(r, nil, 0))
	}
	for range 1000 {
		m := randBatch(r)
		b, _ := m.marshal(nil)
		checkSameReading(t, soup(r, b, 0))
		s := randStatus(r)
		checkSameReading(t, soup(r, EncodeStatus(&s), 0))
		e := randAlert(r)
		checkSameReading(t, soup(r, AppendAlertProto(nil, &e), 0))
	}
}

// TestReadersEdgeCases are inputs the generated code treats in a way worth
// naming; the hand-written readers must agree on each.
func TestReadersEdgeCases(t *testing.T) {
	for name, data := range map[string]string{
		"empty":                           "",
		"field number 0":                  "\x00\x01",
		"field number over 2^29-1":        "\xf8\xff\xff\xff\x0f\x01",
		"wire type 6":                     "\x0e",
		"wire type 7":                     "\x0f",
		"end group alone":                 "\x0c",
		"group of field 1":                "\x0b\x08\x01\x0c",
		"group not closed":                "\x0b\x08\x01",
		"group closed by another number":  "\x0b\x14",
		"unpacked order":                  "\x30\x01\x30\x02",
		"packed then unpacked order":      "\x32\x02\x01\x02\x30\x03",
		"lane as fixed64 is skipped":      "\x11\x01\x00\x00\x00\x00\x00\x00\x00",
		"lane twice, last wins":           "\x10\x05\x10\x01",
		"lane over 32 bits":               "\x10\x81\x80\x80\x80\x10",
		"varint of 10 bytes":              "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
		"varint overflowing 64 bits":      "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",
		"varint not minimal":              "\x18\x80\x00",
		"packed doubles not whole":        "\x2a\x0b\x4a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00",
		"packed varint truncated":         "\x2a\x04\x22\x02\x80\x80",
		"string not UTF-8 in column":      "\x2a\x03\x0a\x01\xff",
		"text not UTF-8":                  "\x2a\x03\x6a\x01\xc3",
		"label key not UTF-8":             "\x6a\x05\x0a\x01\xff\x12\x00",
		"label entry empty":               "\x6a\x00",
		"label entry with unknown fields": "\x6a\x06\x18\x01\x0a\x01\x6b\x10",
		"label key twice":                 "\x6a\x03\x0a\x01\x61\x6a\x06\x0a\x01\x61\x12\x01\x62",
		"label key as varint":             "\x6a\x02\x08\x01",
		"nested length past end":          "\x32\x05\x08\x01",
		"lost range as varint":            "\x32\x02\x60\x01",
		"fingerprint as varint":           "\x10\x05",
		"value as packed":                 "\x4a\x08\x00\x00\x00\x00\x00\x00\xf0\x3f",
		"negative exponent":               "\x2a\x0b\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
	} {
		t.Run(name, func(t *testing.T) { checkSameReading(t, []byte(data)) })
	}
}

// FuzzReadersMatchGenerated is TestReadersMatchGenerated for the fuzzer:
// on any input every hand-written reader agrees with the generated code.
func FuzzReadersMatchGenerated(f *testing.F) {
	small := &pbBatch{AgentID: "gw-1", Lane: 2, FirstSeq: 7, Count: 3, Order: []uint32{0, 1, 0}, OlderUnsent: true, Columns: []*pbColumn{
		{SensorID: "t", Count: 2, Ts: []int64{1e18, 1e9}, Exponent: 1, Digits: []int64{213, 1}, QualityRuns: []uint32{0, 1, 2, 1}},
		{SensorID: "e", Kind: 3, Count: 1, Ts: []int64{5}, ValueCoding: codingRaw, Raw: []float64{math.NaN()}, FlagRuns: []uint32{4, 1}, Text: []string{"firing"}},
	}}
	b, err := small.marshal(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, tc := range ackCases {
		f.Add(EncodeAck(&tc.ack))
	}
	for _, tc := range statusCases {
		f.Add(EncodeStatus(&tc.status))
	}
	for _, e := range alertSamples() {
		f.Add(AppendAlertProto(nil, &e))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSameReading(t, data) })
}

// TestBirthMatchesGenerated: Birth records (after their two header bytes
// and zstd) are the generated code's fieldline.v1.Birth.
func TestBirthMatchesGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 19))
	for i := range 300 {
		b := Birth{AgentID: validUTF8(randString(r)), Epoch: randU64(r)}
		for range r.IntN(5) {
			b.IDs = append(b.IDs, validUTF8(randString(r)))
		}
		enc, err := AppendBirth(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := zdec.DecodeAll(enc[headerBytes:], nil)
		if err != nil {
			t.Fatal(err)
		}
		want := refMarshal(t, &wirepb.Birth{AgentId: b.AgentID, Epoch: b.Epoch, Ids: b.IDs})
		if !bytes.Equal(raw, want) {
			t.Fatalf("#%d: bytes differ\n got %x\nwant %x", i, raw, want)
		}
	}
}
