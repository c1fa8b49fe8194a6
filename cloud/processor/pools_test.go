package processor

import (
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFetchPool: a batch gets a buffer large enough for it (snappy's
// decoded size, read from the batch), a buffer given back serves the next
// batch it is large enough for, and the pool keeps no more than poolBytes
// of idle buffers.
func TestFetchPool(t *testing.T) {
	var p fetchPool
	raw := make([]byte, 100_000)
	for i := range raw {
		raw[i] = byte(i % 251)
	}
	batch := s2.EncodeSnappy(nil, raw)
	b := p.GetDecompressBytes(batch, kgo.CodecSnappy)
	if len(b) != 0 || cap(b) < len(raw) {
		t.Fatalf("buffer len %d cap %d for a batch of %d bytes", len(b), cap(b), len(raw))
	}
	small := p.GetDecompressBytes(make([]byte, 100), kgo.CodecZstd)
	if cap(small) < 400 {
		t.Fatalf("zstd buffer of cap %d for 100 compressed bytes, want 4x", cap(small))
	}
	p.PutDecompressBytes(b)
	p.PutDecompressBytes(small)
	if again := p.GetDecompressBytes(batch, kgo.CodecSnappy); &again[:1][0] != &b[:1][0] {
		t.Fatal("a batch of the same size did not get the buffer back")
	}

	rs := p.GetRecords(3000)
	if len(rs) != 0 || cap(rs) < 3000 {
		t.Fatalf("records len %d cap %d for 3000", len(rs), cap(rs))
	}
	p.PutRecords(rs)
	if again := p.GetRecords(2900); &again[:1][0] != &rs[:1][0] {
		t.Fatal("a smaller batch did not get the records back")
	}
	if more := p.GetRecords(3000); cap(more) < 3000 {
		t.Fatalf("records cap %d for 3000 with the pool empty", cap(more))
	}

	// The bound: buffers given back beyond poolBytes are left to the
	// collector.
	var q fetchPool
	for range 2 * poolBytes / poolMaxBuf {
		q.PutDecompressBytes(make([]byte, 0, poolMaxBuf))
	}
	if q.held > poolBytes {
		t.Fatalf("pool holds %d bytes, bound %d", q.held, poolBytes)
	}
	q.PutDecompressBytes(make([]byte, 0, 2*poolMaxBuf))
	if q.held > poolBytes {
		t.Fatalf("pool holds %d bytes after a buffer over poolMaxBuf", q.held)
	}
}

// TestSizeClass: a class holds what it is asked for, at most a quarter of
// a power of two more, and a buffer of a class's size goes back to it.
func TestSizeClass(t *testing.T) {
	tests := []struct {
		n, minimum, class, size int
	}{
		{1, minBytesClass, 0, 4096},
		{4096, minBytesClass, 0, 4096},
		{4097, minBytesClass, 1, 5120},
		{8192, minBytesClass, 4, 8192},
		{8193, minBytesClass, 5, 10240},
		{1 << 20, minBytesClass, 32, 1 << 20},
		{poolMaxBuf, minBytesClass, 36, poolMaxBuf},
		{17, minRecsClass, 1, 20},
		{3000, minRecsClass, 30, 3072},
	}
	for _, tt := range tests {
		class, size := sizeClass(tt.n, tt.minimum)
		if class != tt.class || size != tt.size {
			t.Errorf("sizeClass(%d, %d) = %d, %d; want %d, %d", tt.n, tt.minimum, class, size, tt.class, tt.size)
		}
	}
	for _, c := range []struct{ minimum, largest int }{{minBytesClass, 4 * poolMaxBuf}, {minRecsClass, 4 * poolMaxBuf / recordSize}} {
		minimum := c.minimum
		for n := 1; n <= c.largest; n += 1 + n/64 {
			class, size := sizeClass(n, minimum)
			if size < n || 4*size > 5*n+4*minimum || class >= nClasses || floorClass(size, minimum) != class {
				t.Fatalf("sizeClass(%d, %d) = %d, %d (floor %d)", n, minimum, class, size, floorClass(size, minimum))
			}
		}
	}
}
