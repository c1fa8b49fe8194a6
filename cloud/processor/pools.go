package processor

import (
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchPool lends franz-go the two large buffers of every fetched batch:
// the bytes it decompresses the batch into and the slice of Records it
// decodes them into. Without it both are allocated per batch, about half of
// every byte the processor allocates (at 2 M JSON readings: 0.8 of 1.5 GB),
// and the garbage collector's work follows. A batch's buffers come back when
// the loop has recycled its last record (process), so a record must not be
// kept after handle: everything that outlives it is copied (the decoder's
// ids, the transaction's arena).
//
// The pool keeps at most poolBytes of idle buffers, each at most
// poolMaxBuf: a fetch in flight holds what it holds, and the rest goes to
// the garbage collector, so the pool adds a bounded few MB to the resident
// memory instead of following the largest fetch ever seen (process-bench's
// peak RSS: 90 MB with 4 MB kept, 94–100 MB with 8).
type fetchPool struct {
	mu    sync.Mutex
	bytes [][]byte
	recs  [][]kgo.Record
	held  int // bytes kept in bytes and recs
}

const (
	poolBytes  = 4 << 20
	poolMaxBuf = 2 << 20
	recordSize = 160 // about unsafe.Sizeof(kgo.Record{}), for the bound
)

var (
	_ kgo.PoolDecompressBytes = (*fetchPool)(nil)
	_ kgo.PoolRecords         = (*fetchPool)(nil)
)

// GetDecompressBytes returns a buffer of at least the batch's decoded size
// when the codec says it (snappy), else of four times the compressed size
// (the codec grows it when that was short).
func (p *fetchPool) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	want := 4 * len(compressed)
	if codec == kgo.CodecSnappy {
		if n, err := s2.DecodedLen(compressed); err == nil {
			want = n
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.bytes) - 1; i >= 0; i-- {
		if b := p.bytes[i]; cap(b) >= want {
			p.bytes[i] = p.bytes[len(p.bytes)-1]
			p.bytes[len(p.bytes)-1] = nil
			p.bytes = p.bytes[:len(p.bytes)-1]
			p.held -= cap(b)
			return b[:0]
		}
	}
	return make([]byte, 0, want)
}

// PutDecompressBytes takes back a buffer (franz-go zeroed what was used).
func (p *fetchPool) PutDecompressBytes(b []byte) {
	if cap(b) > poolMaxBuf {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held+cap(b) > poolBytes {
		return
	}
	p.bytes = append(p.bytes, b[:0])
	p.held += cap(b)
}

// GetRecords returns a slice of capacity at least n.
func (p *fetchPool) GetRecords(n int) []kgo.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.recs) - 1; i >= 0; i-- {
		if rs := p.recs[i]; cap(rs) >= n {
			p.recs[i] = p.recs[len(p.recs)-1]
			p.recs[len(p.recs)-1] = nil
			p.recs = p.recs[:len(p.recs)-1]
			p.held -= cap(rs) * recordSize
			return rs[:0]
		}
	}
	return make([]kgo.Record, 0, n)
}

// PutRecords takes back a slice whose records were all recycled (zeroed).
func (p *fetchPool) PutRecords(rs []kgo.Record) {
	size := cap(rs) * recordSize
	if size > poolMaxBuf {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held+size > poolBytes {
		return
	}
	p.recs = append(p.recs, rs[:0])
	p.held += size
}

// recycle gives the records of fs back to the pool, for a poll whose
// records are not processed.
func recycle(fs kgo.Fetches) {
	fs.EachRecord(func(r *kgo.Record) { r.Recycle() })
}
