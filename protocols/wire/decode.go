package wire

import (
	"fmt"
	"math"
	"sync"

	"github.com/fieldline/fieldline"
)

// Decode parses an encoded batch, checking it against lim (zero means
// DefaultLimits). Every error wraps one of the sentinel errors of this
// package.
func Decode(src []byte, lim Limits) (*fieldline.Batch, error) {
	b := &fieldline.Batch{}
	if err := DecodeInto(b, src, lim); err != nil {
		return nil, err
	}
	return b, nil
}

var rawPool = sync.Pool{New: func() any { return new([]byte) }}

// DecodeInto is Decode that reuses b.Readings. A batch that names sensors
// by alias fails with ErrAliasUnknown: see DecodeAliased.
func DecodeInto(b *fieldline.Batch, src []byte, lim Limits) error {
	return DecodeAliased(b, src, lim, nil)
}

// DecodeAliased is DecodeInto that looks up the sensor aliases a batch of
// format version 3 names with look (may be nil for a caller that has no
// table).
func DecodeAliased(b *fieldline.Batch, src []byte, lim Limits, look AliasLookup) error {
	lim = lim.orDefault()
	body, bufp, err := decompress(src, lim)
	if bufp != nil {
		defer rawPool.Put(bufp)
	}
	if err != nil {
		return err
	}
	var msg pbBatch
	if err := msg.unmarshal(body); err != nil {
		return fmt.Errorf("unmarshalling batch: %v: %w", err, ErrCorrupt)
	}
	v := src[1] & 0xf0
	if v != version1 {
		if err := undeltaOrder(msg.Order, len(msg.Columns)); err != nil {
			return err
		}
	}
	if err := resolveAliases(&msg, v, look); err != nil {
		return err
	}
	return fromProto(b, &msg, lim)
}

// decompress checks the header of an encoded batch and returns its
// protobuf body, in a pooled buffer (bufp, to give back) when it was
// compressed.
func decompress(src []byte, lim Limits) (body []byte, bufp *[]byte, err error) {
	if len(src) > lim.MaxEncodedBytes {
		return nil, nil, fmt.Errorf("batch of %d bytes, limit %d: %w", len(src), lim.MaxEncodedBytes, ErrTooLarge)
	}
	if err := checkHeader(src); err != nil {
		return nil, nil, err
	}
	body = src[headerBytes:]
	switch src[1] & 0x0f {
	case compNone:
		return body, nil, nil
	case compZstd:
		bufp = rawPool.Get().(*[]byte)
		*bufp, err = zdec.DecodeAll(body, (*bufp)[:0])
		if err != nil {
			return nil, bufp, fmt.Errorf("decompressing batch: %v: %w", err, ErrCorrupt)
		}
		if len(*bufp) > lim.MaxDecodedBytes {
			return nil, bufp, fmt.Errorf("batch decompresses to %d bytes, limit %d: %w", len(*bufp), lim.MaxDecodedBytes, ErrTooLarge)
		}
		return *bufp, bufp, nil
	}
	return nil, nil, fmt.Errorf("compression %d: %w", src[1]&0x0f, ErrVersion)
}

// undeltaOrder turns a version-2 order (see version2) into column indexes,
// in place; a step of columns or more is ErrCorrupt.
func undeltaOrder(order []uint32, columns int) error {
	n := uint64(columns)
	next := uint64(0) // the column after the previous reading's
	for i, d := range order {
		if uint64(d) >= n {
			return fmt.Errorf("order[%d] steps %d columns of %d: %w", i, d, columns, ErrCorrupt)
		}
		c := next + uint64(d)
		if c >= n {
			c -= n
		}
		order[i] = uint32(c)
		if next = c + 1; next == n {
			next = 0
		}
	}
	return nil
}

func fromProto(b *fieldline.Batch, m *pbBatch, lim Limits) error {
	n := int(m.Count)
	if n > lim.MaxReadings {
		return fmt.Errorf("batch of %d readings, limit %d: %w", n, lim.MaxReadings, ErrTooLarge)
	}
	if m.Lane >= fieldline.NumLanes {
		return fmt.Errorf("lane %d: %w", m.Lane, ErrCorrupt)
	}
	if m.FirstSeq+uint64(n) < m.FirstSeq {
		return fmt.Errorf("batch at seq %d with %d readings: %w", m.FirstSeq, n, ErrSeqOverflow)
	}
	if n > 0 && len(m.Columns) == 0 {
		return fmt.Errorf("%d readings in no column: %w", n, ErrCorrupt)
	}
	if len(m.Columns) > 1 && len(m.Order) != n {
		return fmt.Errorf("order has %d entries for %d readings: %w", len(m.Order), n, ErrCorrupt)
	}
	if len(m.Columns) <= 1 && len(m.Order) != 0 {
		return fmt.Errorf("order given for a single column: %w", ErrCorrupt)
	}
	total := 0
	for i, c := range m.Columns {
		if err := checkColumn(c); err != nil {
			return fmt.Errorf("column %d (%q): %w", i, c.SensorID, err)
		}
		total += int(c.Count)
	}
	if total != n {
		return fmt.Errorf("columns hold %d readings, batch says %d: %w", total, n, ErrCorrupt)
	}
	b.AgentID = m.AgentID
	b.Lane = fieldline.Lane(m.Lane)
	b.FirstSeq = m.FirstSeq
	b.OlderUnsent = m.OlderUnsent
	if cap(b.Readings) >= n {
		b.Readings = b.Readings[:n]
	} else {
		b.Readings = make([]fieldline.Reading, n)
	}
	rs := b.Readings
	if len(m.Columns) == 1 {
		fillReadings(m.Columns[0], func(i int) *fieldline.Reading { return &rs[i] })
	} else {
		// Position of each column's i-th reading.
		pos := make([][]int32, len(m.Columns))
		for i, c := range m.Order {
			if int(c) >= len(m.Columns) {
				return fmt.Errorf("order[%d] names column %d of %d: %w", i, c, len(m.Columns), ErrCorrupt)
			}
			pos[c] = append(pos[c], int32(i))
		}
		for ci, c := range m.Columns {
			if len(pos[ci]) != int(c.Count) {
				return fmt.Errorf("column %d has %d readings, order names it %d times: %w", ci, c.Count, len(pos[ci]), ErrCorrupt)
			}
			p := pos[ci]
			fillReadings(c, func(i int) *fieldline.Reading { return &rs[p[i]] })
		}
	}
	for i := range rs {
		rs[i].Seq = m.FirstSeq + uint64(i)
	}
	return nil
}

func checkRuns(runs []uint32, n int, max uint32, what string) error {
	if len(runs) == 0 {
		return nil
	}
	if len(runs)%2 != 0 {
		return fmt.Errorf("%s runs of odd length %d: %w", what, len(runs), ErrCorrupt)
	}
	sum := uint64(0)
	for i := 0; i < len(runs); i += 2 {
		if runs[i] > max {
			return fmt.Errorf("%s value %d: %w", what, runs[i], ErrCorrupt)
		}
		sum += uint64(runs[i+1])
	}
	if sum != uint64(n) {
		return fmt.Errorf("%s runs cover %d of %d readings: %w", what, sum, n, ErrCorrupt)
	}
	return nil
}

func checkColumn(c *pbColumn) error {
	n := int(c.Count)
	if c.Kind > uint32(fieldline.KindEvent) {
		return fmt.Errorf("kind %d: %w", c.Kind, ErrCorrupt)
	}
	if len(c.Ts) != n {
		return fmt.Errorf("%d timestamps for %d readings: %w", len(c.Ts), n, ErrCorrupt)
	}
	switch c.ValueCoding {
	case codingDecimal:
		if c.Exponent < 0 || c.Exponent > maxExponent {
			return fmt.Errorf("exponent %d: %w", c.Exponent, ErrCorrupt)
		}
		if len(c.Digits) != n {
			return fmt.Errorf("%d digits for %d readings: %w", len(c.Digits), n, ErrCorrupt)
		}
		if len(c.ExceptionIndex) != len(c.ExceptionValue) {
			return fmt.Errorf("%d exception indexes, %d values: %w", len(c.ExceptionIndex), len(c.ExceptionValue), ErrCorrupt)
		}
		for i, x := range c.ExceptionIndex {
			if int(x) >= n || (i > 0 && x <= c.ExceptionIndex[i-1]) {
				return fmt.Errorf("exception index %d: %w", x, ErrCorrupt)
			}
		}
	case codingRaw:
		if len(c.Raw) != n {
			return fmt.Errorf("%d raw values for %d readings: %w", len(c.Raw), n, ErrCorrupt)
		}
	default:
		return fmt.Errorf("value coding %d: %w", c.ValueCoding, ErrCorrupt)
	}
	if err := checkRuns(c.QualityRuns, n, uint32(fieldline.QualityBad), "quality"); err != nil {
		return err
	}
	if err := checkRuns(c.FlagRuns, n, math.MaxUint8, "flag"); err != nil {
		return err
	}
	if len(c.Text) != 0 && len(c.Text) != n {
		return fmt.Errorf("%d texts for %d readings: %w", len(c.Text), n, ErrCorrupt)
	}
	return nil
}

// fillReadings writes column c into the readings at(0..count-1). c has been
// checked.
// runs walks run-length pairs (value, count): next returns the value of
// the next reading. The pairs were checked (checkRuns) to cover the column.
type runs struct {
	r       []uint32
	i       int
	v, left uint32
}

func (d *runs) next() uint32 {
	for len(d.r) > 0 && d.left == 0 {
		d.v, d.left = d.r[d.i], d.r[d.i+1]
		d.i += 2
	}
	if d.left > 0 {
		d.left--
	}
	return d.v
}

func fillReadings(c *pbColumn, at func(i int) *fieldline.Reading) {
	n := int(c.Count)
	var t, d int64
	var digit int64
	exp := int(c.Exponent)
	exc := 0
	quality, flags := runs{r: c.QualityRuns}, runs{r: c.FlagRuns}
	for i := 0; i < n; i++ {
		r := at(i)
		switch i {
		case 0:
			t = c.Ts[0]
		case 1:
			d = c.Ts[1]
			t += d
		default:
			d += c.Ts[i]
			t += d
		}
		r.TimeNs = t
		r.SensorID = c.SensorID
		r.Kind = fieldline.Kind(c.Kind)
		if c.ValueCoding == codingRaw {
			r.Value = c.Raw[i]
		} else {
			digit += c.Digits[i]
			if exc < len(c.ExceptionIndex) && int(c.ExceptionIndex[exc]) == i {
				r.Value = c.ExceptionValue[exc]
				exc++
			} else {
				r.Value = fromDigit(digit, exp)
			}
		}
		r.Quality = fieldline.Quality(quality.next())
		r.Flags = fieldline.Flags(flags.next())
		if len(c.Text) > 0 {
			r.Text = c.Text[i]
		} else {
			r.Text = ""
		}
	}
}
