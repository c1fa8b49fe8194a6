package retry

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestPolicyWaits(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		name string
		p    Policy
		want []time.Duration
	}{
		{"doubling up to max", Policy{Min: s, Max: 8 * s}, []time.Duration{s, 2 * s, 4 * s, 8 * s, 8 * s, 8 * s}},
		{"max not a power of two", Policy{Min: s, Max: 5 * s}, []time.Duration{s, 2 * s, 4 * s, 5 * s, 5 * s}},
		{"max below min is constant", Policy{Min: 3 * s, Max: s}, []time.Duration{3 * s, 3 * s, 3 * s}},
		{"min equal max", Policy{Min: 2 * s, Max: 2 * s}, []time.Duration{2 * s, 2 * s}},
		{"zero waits nothing", Policy{}, []time.Duration{0, 0, 0}},
		{"huge max does not overflow", Policy{Min: s, Max: 1 << 62}, []time.Duration{s, 2 * s, 4 * s, 8 * s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bo := tc.p.Start()
			var got []time.Duration
			for range tc.want {
				got = append(got, bo.Next())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("waits %v, want %v", got, tc.want)
			}
			bo.Reset()
			if d := bo.Next(); d != tc.want[0] {
				t.Fatalf("after Reset: %v, want %v", d, tc.want[0])
			}
		})
	}
}

// TestJitterStaysInTheUpperHalf: every jittered wait d' of a wait d lies in
// [d/2, d], and the draws are not all the same.
func TestJitterStaysInTheUpperHalf(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: 800 * time.Millisecond, Jitter: true}
	plain := Policy{Min: p.Min, Max: p.Max}.Start()
	seen := map[time.Duration]bool{}
	for range 200 {
		bo, ref := p.Start(), plain
		for range 6 {
			d, want := bo.Next(), ref.Next()
			if d < want/2 || d > want {
				t.Fatalf("jittered wait %v outside [%v, %v]", d, want/2, want)
			}
			seen[d] = true
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct waits in 1200 draws: no jitter", len(seen))
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("a 1ms sleep with a live context reported it was cut short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("a sleep with an ended context reported the wait passed")
	}
	if Sleep(ctx, 0) {
		t.Error("a zero sleep with an ended context reported the wait passed")
	}
	if !Sleep(context.Background(), 0) {
		t.Error("a zero sleep with a live context reported it was cut short")
	}
}
