package wire

import (
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

// Header bytes in front of every encoded batch.
const (
	magic       = 0xF1
	version1    = 1 << 4
	compNone    = 0
	compZstd    = 1
	headerBytes = 2
)

// Limits bound what Decode accepts. The zero value means DefaultLimits.
type Limits struct {
	MaxEncodedBytes int // compressed size
	MaxDecodedBytes int // size after decompression
	MaxReadings     int
}

// DefaultLimits accept batches far larger than any agent sends.
var DefaultLimits = Limits{
	MaxEncodedBytes: 16 << 20,
	MaxDecodedBytes: 64 << 20,
	MaxReadings:     1 << 20,
}

func (l Limits) orDefault() Limits {
	if l.MaxEncodedBytes <= 0 {
		l.MaxEncodedBytes = DefaultLimits.MaxEncodedBytes
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = DefaultLimits.MaxDecodedBytes
	}
	if l.MaxReadings <= 0 {
		l.MaxReadings = DefaultLimits.MaxReadings
	}
	return l
}

var (
	zenc, _ = zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true))
	zdec, _ = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(uint64(DefaultLimits.MaxDecodedBytes)),
		zstd.WithDecoderLowmem(true))
)

type colKey struct {
	id   string
	kind Kind
}

// encoder holds scratch space reused between Encode calls.
type encoder struct {
	msg   wirepb.Batch
	cols  []*wirepb.Column
	index map[colKey]int32
	colOf []int32 // column of each reading
	raw   []byte
	hist  [maxExponent + 2]int
	start []int32 // column i's reading indexes are pos[start[i]:start[i+1]]
	pos   []int32
	fill  []int32
}

var encoders = sync.Pool{New: func() any { return &encoder{index: make(map[colKey]int32)} }}

// Encode appends the coded form of b to dst and returns it.
func Encode(dst []byte, b *Batch) ([]byte, error) {
	if uint64(len(b.Readings)) > math.MaxUint32 {
		return dst, fmt.Errorf("encoding batch of %d readings: %w", len(b.Readings), ErrTooLarge)
	}
	if b.FirstSeq+uint64(len(b.Readings)) < b.FirstSeq {
		return dst, fmt.Errorf("encoding batch at seq %d: %w", b.FirstSeq, ErrSeqOverflow)
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.build(b)
	var err error
	e.raw, err = proto.MarshalOptions{}.MarshalAppend(e.raw[:0], &e.msg)
	if err != nil {
		return dst, fmt.Errorf("marshalling batch: %w", err)
	}
	dst = append(dst, magic, version1|compZstd)
	return zenc.EncodeAll(e.raw, dst), nil
}

func (e *encoder) column(i int) *wirepb.Column {
	if i < len(e.cols) {
		c := e.cols[i]
		*c = wirepb.Column{
			Ts: c.Ts[:0], Digits: c.Digits[:0], ExceptionIndex: c.ExceptionIndex[:0],
			ExceptionValue: c.ExceptionValue[:0], Raw: c.Raw[:0], QualityRuns: c.QualityRuns[:0],
			FlagRuns: c.FlagRuns[:0], Text: c.Text[:0],
		}
		return c
	}
	c := &wirepb.Column{}
	e.cols = append(e.cols, c)
	return c
}

func (e *encoder) build(b *Batch) {
	rs := b.Readings
	clear(e.index)
	e.colOf = e.colOf[:0]
	order := e.msg.Order[:0]
	columns := e.msg.Columns[:0]
	// Assign columns. Readings usually cycle through the same sensors, so try
	// the column after the previous one before the map.
	prev := int32(-1)
	for i := range rs {
		id := rs[i].SensorID
		var c int32
		switch {
		case prev >= 0 && columns[prev].SensorId == id && columns[prev].Kind == uint32(rs[i].Kind):
			c = prev
		case int(prev+1) < len(columns) && columns[prev+1].SensorId == id && columns[prev+1].Kind == uint32(rs[i].Kind):
			c = prev + 1
		default:
			key := colKey{id, rs[i].Kind}
			var ok bool
			c, ok = e.index[key]
			if !ok {
				c = int32(len(columns))
				col := e.column(int(c))
				col.SensorId, col.Kind = id, uint32(rs[i].Kind)
				columns = append(columns, col)
				e.index[key] = c
			}
		}
		columns[c].Count++
		e.colOf = append(e.colOf, c)
		prev = c
	}
	if len(columns) > 1 {
		for _, c := range e.colOf {
			order = append(order, uint32(c))
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
	e.msg = wirepb.Batch{
		AgentId:  b.AgentID,
		Lane:     uint32(b.Lane),
		FirstSeq: b.FirstSeq,
		Count:    uint32(len(rs)),
		Columns:  columns,
		Order:    order,
	}
}

// fillColumn codes the readings rs[idx[0]], rs[idx[1]], ... into col; a nil
// idx means all of rs.
func (e *encoder) fillColumn(col *wirepb.Column, idx []int32, rs []Reading) {
	each := func(f func(r *Reading)) {
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
	each(func(r *Reading) {
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
		each(func(r *Reading) { col.Text = append(col.Text, r.Text) })
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
		col.ValueCoding = uint32(wirepb.ValueCoding_VALUE_CODING_RAW)
		col.Exponent, col.Digits, col.ExceptionIndex, col.ExceptionValue = 0, col.Digits[:0], col.ExceptionIndex[:0], col.ExceptionValue[:0]
		each(func(r *Reading) { col.Raw = append(col.Raw, r.Value) })
	}
}

// sampleExponent picks the exponent for a column of n values from up to k of
// them, evenly spaced.
func (e *encoder) sampleExponent(idx []int32, rs []Reading, n, k int) (exp, exceptions int) {
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
func (e *encoder) codeDecimal(col *wirepb.Column, exp int, each func(func(*Reading))) int {
	col.ValueCoding = uint32(wirepb.ValueCoding_VALUE_CODING_DECIMAL)
	col.Exponent = int32(exp)
	col.Digits, col.ExceptionIndex, col.ExceptionValue = col.Digits[:0], col.ExceptionIndex[:0], col.ExceptionValue[:0]
	var prevDigit int64
	i := 0
	each(func(r *Reading) {
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

// Decode parses an encoded batch, checking it against lim (zero means
// DefaultLimits). Every error wraps one of the sentinel errors of this
// package.
func Decode(src []byte, lim Limits) (*Batch, error) {
	b := &Batch{}
	if err := DecodeInto(b, src, lim); err != nil {
		return nil, err
	}
	return b, nil
}

var rawPool = sync.Pool{New: func() any { return new([]byte) }}

// DecodeInto is Decode that reuses b.Readings.
func DecodeInto(b *Batch, src []byte, lim Limits) error {
	lim = lim.orDefault()
	if len(src) > lim.MaxEncodedBytes {
		return fmt.Errorf("batch of %d bytes, limit %d: %w", len(src), lim.MaxEncodedBytes, ErrTooLarge)
	}
	if len(src) < headerBytes || src[0] != magic {
		return ErrMagic
	}
	if src[1]&0xf0 != version1 {
		return fmt.Errorf("version %d: %w", src[1]>>4, ErrVersion)
	}
	body := src[headerBytes:]
	var bufp *[]byte
	switch src[1] & 0x0f {
	case compNone:
	case compZstd:
		bufp = rawPool.Get().(*[]byte)
		defer rawPool.Put(bufp)
		var err error
		*bufp, err = zdec.DecodeAll(body, (*bufp)[:0])
		if err != nil {
			return fmt.Errorf("decompressing batch: %v: %w", err, ErrCorrupt)
		}
		if len(*bufp) > lim.MaxDecodedBytes {
			return fmt.Errorf("batch decompresses to %d bytes, limit %d: %w", len(*bufp), lim.MaxDecodedBytes, ErrTooLarge)
		}
		body = *bufp
	default:
		return fmt.Errorf("compression %d: %w", src[1]&0x0f, ErrVersion)
	}
	var msg wirepb.Batch
	if err := proto.Unmarshal(body, &msg); err != nil {
		return fmt.Errorf("unmarshalling batch: %v: %w", err, ErrCorrupt)
	}
	return fromProto(b, &msg, lim)
}

func fromProto(b *Batch, m *wirepb.Batch, lim Limits) error {
	n := int(m.Count)
	if n > lim.MaxReadings {
		return fmt.Errorf("batch of %d readings, limit %d: %w", n, lim.MaxReadings, ErrTooLarge)
	}
	if m.Lane >= NumLanes {
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
			return fmt.Errorf("column %d (%q): %w", i, c.SensorId, err)
		}
		total += int(c.Count)
	}
	if total != n {
		return fmt.Errorf("columns hold %d readings, batch says %d: %w", total, n, ErrCorrupt)
	}
	b.AgentID = m.AgentId
	b.Lane = Lane(m.Lane)
	b.FirstSeq = m.FirstSeq
	if cap(b.Readings) >= n {
		b.Readings = b.Readings[:n]
	} else {
		b.Readings = make([]Reading, n)
	}
	rs := b.Readings
	if len(m.Columns) == 1 {
		fillReadings(m.Columns[0], func(i int) *Reading { return &rs[i] })
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
			fillReadings(c, func(i int) *Reading { return &rs[p[i]] })
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

func checkColumn(c *wirepb.Column) error {
	n := int(c.Count)
	if c.Kind > uint32(KindEvent) {
		return fmt.Errorf("kind %d: %w", c.Kind, ErrCorrupt)
	}
	if len(c.Ts) != n {
		return fmt.Errorf("%d timestamps for %d readings: %w", len(c.Ts), n, ErrCorrupt)
	}
	switch wirepb.ValueCoding(c.ValueCoding) {
	case wirepb.ValueCoding_VALUE_CODING_DECIMAL:
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
	case wirepb.ValueCoding_VALUE_CODING_RAW:
		if len(c.Raw) != n {
			return fmt.Errorf("%d raw values for %d readings: %w", len(c.Raw), n, ErrCorrupt)
		}
	default:
		return fmt.Errorf("value coding %d: %w", c.ValueCoding, ErrCorrupt)
	}
	if err := checkRuns(c.QualityRuns, n, uint32(QualityBad), "quality"); err != nil {
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
func fillReadings(c *wirepb.Column, at func(i int) *Reading) {
	n := int(c.Count)
	var t, d int64
	var digit int64
	exp := int(c.Exponent)
	exc := 0
	qi, qLeft := 0, uint32(0)
	fi, fLeft := 0, uint32(0)
	q, fl := uint32(0), uint32(0)
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
		r.SensorID = c.SensorId
		r.Kind = Kind(c.Kind)
		if c.ValueCoding == uint32(wirepb.ValueCoding_VALUE_CODING_RAW) {
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
		for len(c.QualityRuns) > 0 && qLeft == 0 {
			q, qLeft = c.QualityRuns[qi], c.QualityRuns[qi+1]
			qi += 2
		}
		if qLeft > 0 {
			qLeft--
		}
		r.Quality = Quality(q)
		for len(c.FlagRuns) > 0 && fLeft == 0 {
			fl, fLeft = c.FlagRuns[fi], c.FlagRuns[fi+1]
			fi += 2
		}
		if fLeft > 0 {
			fLeft--
		}
		r.Flags = Flags(fl)
		if len(c.Text) > 0 {
			r.Text = c.Text[i]
		} else {
			r.Text = ""
		}
	}
}
