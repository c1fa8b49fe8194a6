package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// TestProgressLine: the rates of the demo's line over ticks that come on
// time, late (slow status fetches), with an agent's fetch failing, and
// after an agent restarted (its count starts over): each rate is the
// increase over the time it took, a failed fetch keeps the agent's last
// known figures, and no rate is negative or skipped.
func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	st := func(in uint64, depth int64) *fieldline.AgentStatus {
		return &fieldline.AgentStatus{ReadingsIn: in, Lanes: []fieldline.LaneStatus{{DepthReadings: uint64(depth), OldestUnsentAgeMs: depth * 10}}}
	}
	p := newProgressMeter(t0)
	for i, tc := range []struct {
		at       time.Duration // since t0
		statuses []*fieldline.AgentStatus
		kafka    float64
		want     string // in/s, into Kafka/s, total, depth, oldest
	}{
		// First sight of the agents: their rate is not known yet.
		{1 * time.Second, []*fieldline.AgentStatus{st(100, 5), st(1000, 0)}, 900, "1s in 0/s Kafka 900/s total 900 depth 5 oldest 0.1s"},
		// On time: 100/s and 200/s.
		{2 * time.Second, []*fieldline.AgentStatus{st(200, 5), st(1200, 0)}, 1200, "2s in 300/s Kafka 300/s total 1200 depth 5 oldest 0.1s"},
		// Late by 1.5 s (slow fetches): the increase over 2.5 s.
		{4500 * time.Millisecond, []*fieldline.AgentStatus{st(450, 7), st(1700, 0)}, 1950, "4s in 300/s Kafka 300/s total 1950 depth 7 oldest 0.1s"},
		// The second agent's fetch fails: it keeps its last known figures.
		{5500 * time.Millisecond, []*fieldline.AgentStatus{st(550, 7), nil}, 2250, "6s in 300/s Kafka 300/s total 2250 depth 7 oldest 0.1s"},
		// It answers again, 2 s after its last answer: 400 over 2 s.
		{6500 * time.Millisecond, []*fieldline.AgentStatus{st(650, 7), st(2100, 20)}, 2550, "6s in 300/s Kafka 300/s total 2550 depth 27 oldest 0.2s"},
		// The first agent restarted: its count starts over from 0.
		{7500 * time.Millisecond, []*fieldline.AgentStatus{st(40, 0), st(2300, 20)}, 2790, "8s in 240/s Kafka 240/s total 2790 depth 20 oldest 0.2s"},
		// Every fetch fails and the tick is late: last known rates, Kafka
		// over the time it took.
		{9500 * time.Millisecond, []*fieldline.AgentStatus{nil, nil}, 3190, "10s in 240/s Kafka 200/s total 3190 depth 20 oldest 0.2s"},
	} {
		got := strings.Join(strings.Fields(p.line(t0.Add(tc.at), tc.statuses, tc.kafka)), " ")
		got = strings.NewReplacer("into Kafka", "Kafka", "total in Kafka", "total", "buffer depth", "depth", "oldest unsent", "oldest").Replace(got)
		if got != tc.want {
			t.Errorf("tick %d at %s:\n got %s\nwant %s", i, tc.at, got, tc.want)
		}
		if strings.Contains(got, "-") {
			t.Errorf("tick %d: a negative figure: %s", i, got)
		}
	}
}
