package buffer

import (
	"slices"
	"testing"
)

// TestDropBelowDoesNotAlias guards the bug where a copy of a cycle's input
// shared its acked ranges with the original and dropBelow on the copy
// corrupted the original (duplicated spans, written to disk, then the file
// rejected as corrupt at the next open).
func TestDropBelowDoesNotAlias(t *testing.T) {
	orig := spanSet{s: []span{{10, 19}, {30, 39}, {50, 59}}}
	cp := orig // shallow, as `drop := *in` copies a cycleIn
	cp.dropBelow(21)
	if want := []span{{10, 19}, {30, 39}, {50, 59}}; !slices.Equal(orig.s, want) {
		t.Fatalf("original changed to %v", orig.s)
	}
	if want := []span{{30, 39}, {50, 59}}; !slices.Equal(cp.s, want) {
		t.Fatalf("copy is %v, want %v", cp.s, want)
	}
	cp.dropBelow(35)
	if want := []span{{35, 39}, {50, 59}}; !slices.Equal(cp.s, want) {
		t.Fatalf("copy is %v, want %v", cp.s, want)
	}
	if _, err := decodeSpans(marshalSpans(&orig)); err != nil {
		t.Fatalf("original no longer decodes: %v", err)
	}
}
