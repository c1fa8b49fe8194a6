package wire

import (
	"fmt"
	"math"
	"sync"

	"github.com/fieldline/fieldline"
)

type colKey struct {
	id   string
	kind fieldline.Kind
}

// encoder holds scratch space reused between Encode calls.
type encoder struct {
	// last: the sensors of the previous batch when it had one reading of
	// each (a poll); same: this batch's sensors are those, in that order.
	last []colKey
	same bool
	// aliasOf: each column's alias plus one (useAliases); when aliasTable
	// is set, that table's aliases of last's sensors, every one of which
	// has one (aliasCount: the batch's AliasCount).
	aliasTable *Aliases
	aliasOf    []uint32
	aliasCount uint32

	msg   pbBatch
	cols  []*pbColumn
	index map[colKey]int32
	colOf []int32 // column of each reading
	raw   []byte
	hist  [maxExponent + 2]int
	start []int32 // column i's reading indexes are pos[start[i]:start[i+1]]
	pos   []int32
	fill  []int32
}

var encoders = sync.Pool{New: func() any { return &encoder{index: make(map[colKey]int32)} }}

// Encode appends the coded form of b to dst and returns it, naming every
// sensor by its id (format version 2).
func Encode(dst []byte, b *fieldline.Batch) ([]byte, error) { return EncodeAliased(dst, b, nil) }

// EncodeAliased is Encode that names sensors by their alias in a, giving
// an alias to each sensor that has none while a has room (format version 3;
// version 2 when a is nil or no sensor gets an alias). Whoever keeps a must
// keep the aliases it gained with the bytes, and announce them (Birth)
// before the bytes are decoded elsewhere.
func EncodeAliased(dst []byte, b *fieldline.Batch, a *Aliases) ([]byte, error) {
	return encode(dst, b, a, true)
}

// EncodeKnownAliases is EncodeAliased that gives no new alias: a sensor a
// has none for goes by id. For an encoder that does not keep the table (the
// agent's forwarder, merging stored batches for the uplink).
func EncodeKnownAliases(dst []byte, b *fieldline.Batch, a *Aliases) ([]byte, error) {
	return encode(dst, b, a, false)
}

func encode(dst []byte, b *fieldline.Batch, a *Aliases, grow bool) ([]byte, error) {
	if uint64(len(b.Readings)) > math.MaxUint32 {
		return dst, fmt.Errorf("encoding batch of %d readings: %w", len(b.Readings), ErrTooLarge)
	}
	if b.FirstSeq+uint64(len(b.Readings)) < b.FirstSeq {
		return dst, fmt.Errorf("encoding batch at seq %d: %w", b.FirstSeq, ErrSeqOverflow)
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	return e.encode(dst, b, a, grow)
}

func (e *encoder) encode(dst []byte, b *fieldline.Batch, a *Aliases, grow bool) ([]byte, error) {
	e.build(b)
	version := byte(version2)
	if a != nil && e.aliases(a, grow) {
		version = version3
	}
	var err error
	e.raw, err = e.msg.marshal(e.raw[:0])
	if err != nil {
		return dst, fmt.Errorf("marshalling batch: %w", err)
	}
	dst = append(dst, magic, version|compZstd)
	return zenc.EncodeAll(e.raw, dst), nil
}

func (e *encoder) column(i int) *pbColumn {
	if i < len(e.cols) {
		c := e.cols[i]
		*c = pbColumn{
			Ts: c.Ts[:0], Digits: c.Digits[:0], ExceptionIndex: c.ExceptionIndex[:0],
			ExceptionValue: c.ExceptionValue[:0], Raw: c.Raw[:0], QualityRuns: c.QualityRuns[:0],
			FlagRuns: c.FlagRuns[:0], Text: c.Text[:0],
		}
		return c
	}
	c := &pbColumn{}
	e.cols = append(e.cols, c)
	return c
}

func (e *encoder) build(b *fieldline.Batch) {
	rs := b.Readings
	e.colOf = e.colOf[:0]
	order := e.msg.Order[:0]
	columns := e.msg.Columns[:0]
	if e.same = e.sameSensors(rs); e.same {
		// A poll like the one before: a column for each reading, and no
		// map (its inserts were a fifth of a 1,000-sensor poll's encoding).
		for i := range rs {
			col := e.column(i)
			col.SensorID, col.Kind, col.Count = rs[i].SensorID, uint32(rs[i].Kind), 1
			columns = append(columns, col)
			e.colOf = append(e.colOf, int32(i))
		}
	} else {
		columns = e.assign(rs, columns)
		e.last, e.aliasTable = e.last[:0], nil
		if len(columns) == len(rs) {
			for _, c := range columns {
				e.last = append(e.last, colKey{c.SensorID, fieldline.Kind(c.Kind)})
			}
		}
	}
	if len(columns) > 1 {
		n, next := int32(len(columns)), int32(0) // next: the column after the previous reading's
		for _, c := range e.colOf {
			d := c - next
			if d < 0 {
				d += n
			}
			order = append(order, uint32(d))
			if next = c + 1; next == n {
				next = 0
			}
		}
	}
	if len(columns) == 1 {
		e.fillColumn(columns[0], nil, rs)
	} else {
		// Reading indexes of each column, in one flat scratch slice.
		e.start = e.start[:0]
		off := int32(0)
		for _, c := range columns {
			e.start = append(e.start, off)
			off += int32(c.Count)
		}
		e.start = append(e.start, off)
		e.pos = append(e.pos[:0], make([]int32, len(rs))...)
		fill := append(e.fill[:0], e.start[:len(columns)]...)
		for i, c := range e.colOf {
			e.pos[fill[c]] = int32(i)
			fill[c]++
		}
		e.fill = fill
		for ci, col := range columns {
			e.fillColumn(col, e.pos[e.start[ci]:e.start[ci+1]], rs)
		}
	}
	e.msg = pbBatch{
		AgentID:  b.AgentID,
		Lane:     uint32(b.Lane),
		FirstSeq: b.FirstSeq,
		Count:    uint32(len(rs)),
		Columns:  columns,
		Order:    order,

		OlderUnsent: b.OlderUnsent,
	}
}

// sameSensors tells whether rs are one reading of each of the previous
// batch's sensors, in the same order (ids compare by pointer first, and a
// source hands the same strings every poll).
func (e *encoder) sameSensors(rs []fieldline.Reading) bool {
	if len(rs) == 0 || len(rs) != len(e.last) {
		return false
	}
	for i := range rs {
		if rs[i].SensorID != e.last[i].id || rs[i].Kind != e.last[i].kind {
			return false
		}
	}
	return true
}

// assign gives each reading of rs its column, appending new columns to
// columns. Readings usually cycle through the same sensors, so it tries
// the column after the previous one before the map.
func (e *encoder) assign(rs []fieldline.Reading, columns []*pbColumn) []*pbColumn {
	clear(e.index)
	prev := int32(-1)
	for i := range rs {
		id := rs[i].SensorID
		var c int32
		switch {
		case prev >= 0 && columns[prev].SensorID == id && columns[prev].Kind == uint32(rs[i].Kind):
			c = prev
		case int(prev+1) < len(columns) && columns[prev+1].SensorID == id && columns[prev+1].Kind == uint32(rs[i].Kind):
			c = prev + 1
		default:
			key := colKey{id, rs[i].Kind}
			var ok bool
			c, ok = e.index[key]
			if !ok {
				c = int32(len(columns))
				col := e.column(int(c))
				col.SensorID, col.Kind = id, uint32(rs[i].Kind)
				columns = append(columns, col)
				e.index[key] = c
			}
		}
		columns[c].Count++
		e.colOf = append(e.colOf, c)
		prev = c
	}
	return columns
}

// fillColumn codes the readings rs[idx[0]], rs[idx[1]], ... into col; a nil
// idx means all of rs.
func (e *encoder) fillColumn(col *pbColumn, idx []int32, rs []fieldline.Reading) {
	each := func(f func(r *fieldline.Reading)) {
		if idx == nil {
			for i := range rs {
				f(&rs[i])
			}
			return
		}
		for _, i := range idx {
			f(&rs[i])
		}
	}
	// Timestamps, quality, flags, text and the exponent histogram in one pass.
	var prevT, prevD int64
	n := 0
	var q, fl uint32
	var qRun, fRun uint32
	hasText := false
	each(func(r *fieldline.Reading) {
		switch n {
		case 0:
			col.Ts = append(col.Ts, r.TimeNs)
		case 1:
			prevD = r.TimeNs - prevT
			col.Ts = append(col.Ts, prevD)
		default:
			d := r.TimeNs - prevT
			col.Ts = append(col.Ts, d-prevD)
			prevD = d
		}
		prevT = r.TimeNs
		if n == 0 || uint32(r.Quality) != q {
			if qRun > 0 {
				col.QualityRuns = append(col.QualityRuns, q, qRun)
			}
			q, qRun = uint32(r.Quality), 0
		}
		qRun++
		if n == 0 || uint32(r.Flags) != fl {
			if fRun > 0 {
				col.FlagRuns = append(col.FlagRuns, fl, fRun)
			}
			fl, fRun = uint32(r.Flags), 0
		}
		fRun++
		if r.Text != "" {
			hasText = true
		}
		n++
	})
	if !(q == 0 && len(col.QualityRuns) == 0) {
		col.QualityRuns = append(col.QualityRuns, q, qRun)
	}
	if !(fl == 0 && len(col.FlagRuns) == 0) {
		col.FlagRuns = append(col.FlagRuns, fl, fRun)
	}
	if hasText {
		each(func(r *fieldline.Reading) { col.Text = append(col.Text, r.Text) })
	}

	// Choose the exponent from a sample, as ALP does; when the sample was
	// unlucky (many exceptions), look at every value and code again.
	exp, sampleExc := e.sampleExponent(idx, rs, n, 32)
	exc := n
	if sampleExc*2 <= min(n, 32) {
		exc = e.codeDecimal(col, exp, each)
		if exc*8 > n && exc*2 <= n && n > 32 {
			if exp2, _ := e.sampleExponent(idx, rs, n, n); exp2 != exp {
				exc = e.codeDecimal(col, exp2, each)
			}
		}
	}
	if exc*2 > n {
		col.ValueCoding = codingRaw
		col.Exponent, col.Digits, col.ExceptionIndex, col.ExceptionValue = 0, col.Digits[:0], col.ExceptionIndex[:0], col.ExceptionValue[:0]
		each(func(r *fieldline.Reading) { col.Raw = append(col.Raw, r.Value) })
	}
}

// sampleExponent picks the exponent for a column of n values from up to k of
// them, evenly spaced.
func (e *encoder) sampleExponent(idx []int32, rs []fieldline.Reading, n, k int) (exp, exceptions int) {
	if k > n {
		k = n
	}
	e.hist = [maxExponent + 2]int{}
	for j := 0; j < k; j++ {
		i := j * n / k
		if idx != nil {
			i = int(idx[i])
		}
		if me := minExponent(rs[i].Value); me == noExponent {
			e.hist[maxExponent+1]++
		} else {
			e.hist[me]++
		}
	}
	return chooseExponent(&e.hist, k)
}

// codeDecimal fills col's decimal fields at exponent exp and returns the
// number of exceptions.
func (e *encoder) codeDecimal(col *pbColumn, exp int, each func(func(*fieldline.Reading))) int {
	col.ValueCoding = codingDecimal
	col.Exponent = int32(exp)
	col.Digits, col.ExceptionIndex, col.ExceptionValue = col.Digits[:0], col.ExceptionIndex[:0], col.ExceptionValue[:0]
	var prevDigit int64
	i := 0
	each(func(r *fieldline.Reading) {
		d, ok := toDigit(r.Value, exp)
		if !ok {
			col.ExceptionIndex = append(col.ExceptionIndex, uint32(i))
			col.ExceptionValue = append(col.ExceptionValue, r.Value)
			d = prevDigit
		}
		col.Digits = append(col.Digits, d-prevDigit)
		prevDigit = d
		i++
	})
	return len(col.ExceptionIndex)
}
