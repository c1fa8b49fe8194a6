package modbus

import (
	"cmp"
	"slices"
)

// Protocol limits of one read request.
const (
	MaxRegistersPerRequest = 125  // function codes 3 and 4
	MaxBitsPerRequest      = 2000 // function codes 1 and 2
)

// Span is the extent of one configured value: Count registers (or bits)
// of Table from Address.
type Span struct {
	Table   Table
	Address uint16
	Count   uint16
}

// Limits bound the requests Coalesce makes.
type Limits struct {
	MaxRegisters int // registers per request, ≤ 125
	MaxBits      int // coils or discrete inputs per request, ≤ 2000
	// MaxGap is the largest run of unconfigured addresses a request may
	// read through to join two values; 0 joins only adjacent ones.
	MaxGap int
}

// ReadRequest is one read of Count registers or bits of Table from
// Address, covering the spans listed in Spans (indexes into Coalesce's
// input, in address order).
type ReadRequest struct {
	Table   Table
	Address uint16
	Count   uint16
	Spans   []int
}

var tableOrder = map[Table]int{Coil: 0, Discrete: 1, Input: 2, Holding: 3}

// Coalesce groups the spans of one unit into the fewest read requests
// (within the greedy order of addresses) that respect the limits: a
// request never crosses tables, never exceeds MaxRegisters or MaxBits, and
// reads through at most MaxGap unconfigured addresses between two spans.
// Overlapping spans share a request. A span longer than the limit gets a
// request of its own (the caller's config check prevents it). Requests come
// in table order (coil, discrete, input, holding), then by address. It is
// a pure function.
func Coalesce(spans []Span, lim Limits) []ReadRequest {
	idx := make([]int, len(spans))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		sa, sb := spans[a], spans[b]
		if c := cmp.Compare(tableOrder[sa.Table], tableOrder[sb.Table]); c != 0 {
			return c
		}
		return cmp.Compare(sa.Address, sb.Address)
	})
	var out []ReadRequest
	var cur *ReadRequest
	var curEnd int // one past the last address of cur
	for _, i := range idx {
		s := spans[i]
		end := int(s.Address) + int(s.Count)
		limit := lim.MaxRegisters
		if s.Table.IsBit() {
			limit = lim.MaxBits
		}
		if cur != nil && cur.Table == s.Table &&
			int(s.Address)-curEnd <= lim.MaxGap &&
			max(end, curEnd)-int(cur.Address) <= limit {
			curEnd = max(curEnd, end)
			cur.Count = uint16(curEnd - int(cur.Address))
			cur.Spans = append(cur.Spans, i)
			continue
		}
		out = append(out, ReadRequest{Table: s.Table, Address: s.Address, Count: s.Count, Spans: []int{i}})
		cur, curEnd = &out[len(out)-1], end
	}
	return out
}
