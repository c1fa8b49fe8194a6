package modbus

import (
	"fmt"
	"testing"
	"time"
)

func TestCoalesce(t *testing.T) {
	def := Limits{MaxRegisters: 125, MaxBits: 2000}
	cases := []struct {
		name  string
		spans []Span
		lim   Limits
		want  string // requests as table@addr+count[spans]
	}{
		{"empty", nil, def, "[]"},
		{"adjacent join", []Span{{Holding, 0, 1}, {Holding, 1, 2}, {Holding, 3, 2}}, def, "[holding@0+5[0 1 2]]"},
		{"unsorted input", []Span{{Holding, 10, 2}, {Holding, 0, 1}, {Holding, 1, 1}}, Limits{125, 2000, 10}, "[holding@0+12[1 2 0]]"},
		{"gap not bridged with max_gap 0", []Span{{Holding, 0, 1}, {Holding, 2, 1}}, def, "[holding@0+1[0] holding@2+1[1]]"},
		{"gap bridged up to max_gap", []Span{{Holding, 0, 1}, {Holding, 4, 1}, {Holding, 10, 1}}, Limits{125, 2000, 3}, "[holding@0+5[0 1] holding@10+1[2]]"},
		{"tables never mix", []Span{{Holding, 0, 1}, {Input, 1, 1}, {Coil, 2, 1}, {Discrete, 3, 1}}, Limits{125, 2000, 100}, "[coil@2+1[2] discrete@3+1[3] input@1+1[1] holding@0+1[0]]"},
		{"125 registers exactly", []Span{{Input, 0, 4}, {Input, 121, 4}}, Limits{125, 2000, 200}, "[input@0+125[0 1]]"},
		{"126 splits", []Span{{Input, 0, 4}, {Input, 122, 4}}, Limits{125, 2000, 200}, "[input@0+4[0] input@122+4[1]]"},
		{"a value never split", []Span{{Holding, 0, 2}, {Holding, 2, 2}, {Holding, 4, 2}}, Limits{5, 2000, 0}, "[holding@0+4[0 1] holding@4+2[2]]"},
		{"per-device limit", []Span{{Holding, 0, 1}, {Holding, 1, 1}, {Holding, 2, 1}}, Limits{2, 2000, 0}, "[holding@0+2[0 1] holding@2+1[2]]"},
		{"overlapping spans share", []Span{{Holding, 0, 4}, {Holding, 2, 1}, {Holding, 3, 2}}, def, "[holding@0+5[0 1 2]]"},
		{"bits up to 2000", []Span{{Coil, 0, 1}, {Coil, 1999, 1}, {Coil, 2000, 1}}, Limits{125, 2000, 2000}, "[coil@0+2000[0 1] coil@2000+1[2]]"},
		{"end of address space", []Span{{Holding, 65532, 4}, {Holding, 65530, 2}}, def, "[holding@65530+6[1 0]]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Coalesce(tc.spans, tc.lim)
			var s []string
			for _, r := range got {
				s = append(s, fmt.Sprintf("%s@%d+%d%v", r.Table, r.Address, r.Count, r.Spans))
			}
			if str := fmt.Sprint(s); str != tc.want && !(tc.want == "[]" && len(s) == 0) {
				t.Fatalf("got  %s\nwant %s", str, tc.want)
			}
			// Invariants: every span in exactly one request that covers it.
			seen := map[int]int{}
			for _, r := range got {
				limit := tc.lim.MaxRegisters
				if r.Table.IsBit() {
					limit = tc.lim.MaxBits
				}
				if int(r.Count) > limit {
					t.Errorf("request %+v over the limit %d", r, limit)
				}
				for _, i := range r.Spans {
					seen[i]++
					sp := tc.spans[i]
					if sp.Table != r.Table || sp.Address < r.Address || int(sp.Address)+int(sp.Count) > int(r.Address)+int(r.Count) {
						t.Errorf("span %+v not inside %+v", sp, r)
					}
				}
			}
			for i := range tc.spans {
				if seen[i] != 1 {
					t.Errorf("span %d in %d requests", i, seen[i])
				}
			}
		})
	}
}

func TestSpreadPhases(t *testing.T) {
	group := func(d time.Duration) GroupConfig {
		return GroupConfig{Interval: d, Registers: []RegisterConfig{{Sensor: fmt.Sprint("s", d, len(fmt.Sprint(d))), Table: Holding}}}
	}
	cfg := Config{Name: "p", URL: "tcp://h:502", Units: []UnitConfig{
		{ID: 1, Groups: []GroupConfig{group(100 * time.Millisecond), group(101 * time.Millisecond)}},
		{ID: 2, Groups: []GroupConfig{group(time.Second), group(4 * time.Second)}},
	}}
	for i := range cfg.Units {
		for j := range cfg.Units[i].Groups {
			cfg.Units[i].Groups[j].Registers[0].Sensor = fmt.Sprintf("u%d.g%d", i, j)
		}
	}
	for _, tc := range []struct {
		spread bool
		want   string
	}{
		{true, "[0s 25.25ms 500ms 3s]"},
		{false, "[0s 0s 0s 0s]"},
	} {
		c := cfg
		c.Spread = &tc.spread
		s, err := New(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(s.phases()); got != tc.want {
			t.Errorf("spread %v: phases %s, want %s", tc.spread, got, tc.want)
		}
	}
}
