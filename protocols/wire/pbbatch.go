package wire

import (
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// pbBatch is fieldline.v1.Batch (wirepb.Batch), written and read by hand.
type pbBatch struct {
	AgentID     string
	Lane        uint32
	FirstSeq    uint64
	Count       uint32
	Columns     []*pbColumn
	Order       []uint32
	OlderUnsent bool
	AliasEpoch  uint64
	AliasCount  uint32
}

// pbColumn is fieldline.v1.Column (wirepb.Column).
type pbColumn struct {
	SensorID       string
	Kind           uint32
	Count          uint32
	Ts             []int64
	ValueCoding    uint32
	Exponent       int32
	Digits         []int64
	ExceptionIndex []uint32
	ExceptionValue []float64
	Raw            []float64
	QualityRuns    []uint32
	FlagRuns       []uint32
	Text           []string
	AliasDelta     int32
}

// Values of Column.value_coding (fieldline.v1.ValueCoding).
const (
	codingDecimal = 0
	codingRaw     = 1
)

// Field numbers of fieldline.v1.Batch and Column.
const (
	fBatchColumns     = 5
	fBatchOrder       = 6
	fBatchOlderUnsent = 7
	fBatchAliasEpoch  = 8
	fBatchAliasCount  = 9

	fColSensorID       = 1
	fColKind           = 2
	fColCount          = 3
	fColTs             = 4
	fColValueCoding    = 5
	fColExponent       = 6
	fColDigits         = 7
	fColExceptionIndex = 8
	fColExceptionValue = 9
	fColRaw            = 10
	fColQualityRuns    = 11
	fColFlagRuns       = 12
	fColText           = 13
	fColAliasDelta     = 14
)

// marshal appends m's protobuf encoding to b. Like the generated code, it
// refuses a string that is not UTF-8 (errUTF8).
func (m *pbBatch) marshal(b []byte) ([]byte, error) {
	if !utf8.ValidString(m.AgentID) {
		return b, errUTF8
	}
	b = appendStringField(b, fBatchAgentID, m.AgentID)
	b = appendVarintField(b, fBatchLane, uint64(m.Lane))
	b = appendVarintField(b, fBatchFirstSeq, m.FirstSeq)
	b = appendVarintField(b, fBatchCount, uint64(m.Count))
	for _, c := range m.Columns {
		var start int
		b, start = openLen(b, fBatchColumns)
		var err error
		if b, err = c.marshal(b); err != nil {
			return b, err
		}
		b = closeLen(b, start)
	}
	b = appendPackedUint32(b, fBatchOrder, m.Order)
	b = appendBoolField(b, fBatchOlderUnsent, m.OlderUnsent)
	b = appendFixed64Field(b, fBatchAliasEpoch, m.AliasEpoch)
	return appendVarintField(b, fBatchAliasCount, uint64(m.AliasCount)), nil
}

func (c *pbColumn) marshal(b []byte) ([]byte, error) {
	if !utf8.ValidString(c.SensorID) {
		return b, errUTF8
	}
	b = appendStringField(b, fColSensorID, c.SensorID)
	b = appendVarintField(b, fColKind, uint64(c.Kind))
	b = appendVarintField(b, fColCount, uint64(c.Count))
	b = appendPackedSint64(b, fColTs, c.Ts)
	b = appendVarintField(b, fColValueCoding, uint64(c.ValueCoding))
	b = appendVarintField(b, fColExponent, uint64(int64(c.Exponent))) // int32: sign-extended, as protobuf does
	b = appendPackedSint64(b, fColDigits, c.Digits)
	b = appendPackedUint32(b, fColExceptionIndex, c.ExceptionIndex)
	b = appendPackedDouble(b, fColExceptionValue, c.ExceptionValue)
	b = appendPackedDouble(b, fColRaw, c.Raw)
	b = appendPackedUint32(b, fColQualityRuns, c.QualityRuns)
	b = appendPackedUint32(b, fColFlagRuns, c.FlagRuns)
	for _, s := range c.Text { // every entry, empty ones too
		if !utf8.ValidString(s) {
			return b, errUTF8
		}
		b = protowire.AppendTag(b, fColText, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	return appendVarintField(b, fColAliasDelta, protowire.EncodeZigZag(int64(c.AliasDelta))), nil
}

// unmarshal reads a Batch into m, which must be zero.
func (m *pbBatch) unmarshal(data []byte) error {
	for len(data) > 0 {
		f, rest, err := nextField(data)
		if err != nil {
			return err
		}
		data = rest
		switch {
		case f.is(fBatchAgentID, protowire.BytesType):
			m.AgentID, err = f.str()
		case f.is(fBatchLane, protowire.VarintType):
			m.Lane = uint32(f.v)
		case f.is(fBatchFirstSeq, protowire.VarintType):
			m.FirstSeq = f.v
		case f.is(fBatchCount, protowire.VarintType):
			m.Count = uint32(f.v)
		case f.is(fBatchColumns, protowire.BytesType):
			c := &pbColumn{}
			err = c.unmarshal(f.b)
			m.Columns = append(m.Columns, c)
		case f.num == fBatchOrder:
			m.Order, err = appendUint32s(m.Order, &f)
		case f.is(fBatchOlderUnsent, protowire.VarintType):
			m.OlderUnsent = f.v != 0
		case f.is(fBatchAliasEpoch, protowire.Fixed64Type):
			m.AliasEpoch = f.v
		case f.is(fBatchAliasCount, protowire.VarintType):
			m.AliasCount = uint32(f.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *pbColumn) unmarshal(data []byte) error {
	for len(data) > 0 {
		f, rest, err := nextField(data)
		if err != nil {
			return err
		}
		data = rest
		switch {
		case f.is(fColSensorID, protowire.BytesType):
			c.SensorID, err = f.str()
		case f.is(fColKind, protowire.VarintType):
			c.Kind = uint32(f.v)
		case f.is(fColCount, protowire.VarintType):
			c.Count = uint32(f.v)
		case f.num == fColTs:
			c.Ts, err = appendSint64s(c.Ts, &f)
		case f.is(fColValueCoding, protowire.VarintType):
			c.ValueCoding = uint32(f.v)
		case f.is(fColExponent, protowire.VarintType):
			c.Exponent = int32(f.v)
		case f.num == fColDigits:
			c.Digits, err = appendSint64s(c.Digits, &f)
		case f.num == fColExceptionIndex:
			c.ExceptionIndex, err = appendUint32s(c.ExceptionIndex, &f)
		case f.num == fColExceptionValue:
			c.ExceptionValue, err = f.appendDoubles(c.ExceptionValue)
		case f.num == fColRaw:
			c.Raw, err = f.appendDoubles(c.Raw)
		case f.num == fColQualityRuns:
			c.QualityRuns, err = appendUint32s(c.QualityRuns, &f)
		case f.num == fColFlagRuns:
			c.FlagRuns, err = appendUint32s(c.FlagRuns, &f)
		case f.is(fColText, protowire.BytesType):
			var s string
			s, err = f.str()
			c.Text = append(c.Text, s)
		case f.is(fColAliasDelta, protowire.VarintType):
			c.AliasDelta = int32(protowire.DecodeZigZag(f.v & math.MaxUint32))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
