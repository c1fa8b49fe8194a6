package modbus

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
)

// TestValuesFromTheSimulator reads every register of the simulator's sample
// (all types, byte and word orders, scales, coils and discrete inputs) over
// each transport and compares each reading with the value the simulator's
// signal gives at the frozen time.
func TestValuesFromTheSimulator(t *testing.T) {
	simCfg := modbussim.DefaultConfig()
	transports := map[string]func(t *testing.T, s *modbussim.Sim) string{
		"tcp": func(t *testing.T, s *modbussim.Sim) string { return "tcp://" + listenTCP(t, s).String() },
		"rtuovertcp": func(t *testing.T, s *modbussim.Sim) string {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			a, err := s.ListenRTUOverTCP(ctx, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			return "rtuovertcp://" + a.String()
		},
		"rtu over a socat pty pair": func(t *testing.T, s *modbussim.Sim) string {
			a, b := ptyPair(t)
			serveRTU(t, s, a)
			return "rtu://" + b
		},
	}
	for name, start := range transports {
		t.Run(name, func(t *testing.T) {
			s := newSim(t, &simCfg, nil)
			cfg := Config{Name: "sim", URL: start(t, s), Timeout: 5 * time.Second}
			for _, u := range simCfg.Units {
				cfg.Units = append(cfg.Units, mirror(u, 20*time.Millisecond))
			}
			src, err := New(cfg, Options{Now: frozenNow})
			if err != nil {
				t.Fatal(err)
			}
			c := runSource(t, src)
			sensors := src.Sensors()
			c.waitUntil(t, 20*time.Second, "a reading of every sensor", func() bool {
				for _, si := range sensors {
					if len(c.readings(si.ID)) == 0 {
						return false
					}
				}
				return true
			})
			checkSimValues(t, s, c)
		})
	}
}

// checkSimValues: the first reading of every register of the simulator's
// sample is the value the simulator has for it at the frozen time, good,
// of the register's kind.
func checkSimValues(t *testing.T, s *modbussim.Sim, c *collector) {
	t.Helper()
	simCfg := modbussim.DefaultConfig()
	checked := 0
	for _, u := range simCfg.Units {
		for _, r := range u.Registers {
			id := fmt.Sprintf("u%d.%s", u.ID, r.Name)
			want, ok, err := s.Expected(uint8(u.ID), r.Name, frozen)
			if err != nil || !ok {
				t.Fatalf("%s: expected %v %v", id, ok, err)
			}
			got := c.readings(id)[0]
			wantKind := fieldline.KindFloat
			switch {
			case r.Type == modbussim.Bool:
				wantKind = fieldline.KindBool
			case r.Signal.Shape == "counter":
				wantKind = fieldline.KindCounter
			}
			if got.Value != want || got.Quality != fieldline.QualityGood || got.Kind != wantKind || got.TimeNs != frozen.UnixNano() || got.Seq != 0 {
				t.Errorf("%s (%s %s %s/%s): got %+v, want value %v kind %v", id, r.Table, r.Type, r.ByteOrder, r.WordOrder, got, want, wantKind)
			}
			checked++
		}
	}
	if checked != 16 {
		t.Fatalf("checked %d registers, want the sample's 16", checked)
	}
}

// TestRealClockCounter polls the energy counter with real clocks: the value
// read must lie between the counter's values one second before the
// reading's time stamp and at it.
func TestRealClockCounter(t *testing.T) {
	s := newSim(t, nil, time.Now)
	src, err := New(Config{Name: "clock", URL: "tcp://" + listenTCP(t, s).String(), Timeout: 5 * time.Second, Units: []UnitConfig{{ID: 1, Groups: []GroupConfig{{
		Interval: 10 * time.Millisecond, Registers: []RegisterConfig{{Sensor: "energy", Table: Holding, Address: 2, Type: Uint32, Counter: true}},
	}}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := runSource(t, src)
	c.waitUntil(t, 10*time.Second, "5 readings", func() bool { return len(c.readings("energy")) >= 5 })
	prev := 0.0
	for _, r := range c.readings("energy")[:5] {
		at := time.Unix(0, r.TimeNs)
		lo, _, _ := s.Expected(1, "energy", at.Add(-time.Second))
		hi, _, _ := s.Expected(1, "energy", at)
		if r.Value < lo || r.Value > hi || r.Value < prev || r.Kind != fieldline.KindCounter {
			t.Errorf("counter %v at %s, want within [%v, %v] and ≥ %v", r.Value, at, lo, hi, prev)
		}
		prev = r.Value
	}
}

// TestSetRegistersDecode sets raw registers in the simulator and checks
// every type and order against hand-computed values.
func TestSetRegistersDecode(t *testing.T) {
	s := newSim(t, nil, nil)
	// float32 21.5 = 41AC 0000 in ABCD, CDAB, BADC, DCBA from holding 100.
	must(t, s.SetRegisters(1, modbussim.Holding, 100, 0x41ac, 0x0000, 0x0000, 0x41ac, 0xac41, 0x0000, 0x0000, 0xac41))
	// int32 -5 CDAB at 110, uint16 1234 x0.5-10 at 112, int64 -2 at 113,
	// float64 -0.5 (BFE0 0000 0000 0000) DCBA at 117, NaN float32 at 121.
	must(t, s.SetRegisters(1, modbussim.Holding, 110, 0xfffb, 0xffff, 1234, 0xffff, 0xffff, 0xffff, 0xfffe, 0, 0, 0, 0xe0bf, 0x7fc0, 0))
	must(t, s.SetBits(1, modbussim.Discrete, 40, true, false, true))
	regs := []RegisterConfig{
		{Sensor: "abcd", Table: Holding, Address: 100, Type: Float32},
		{Sensor: "cdab", Table: Holding, Address: 102, Type: Float32, WordOrder: Little},
		{Sensor: "badc", Table: Holding, Address: 104, Type: Float32, ByteOrder: Little},
		{Sensor: "dcba", Table: Holding, Address: 106, Type: Float32, ByteOrder: Little, WordOrder: Little},
		{Sensor: "i32", Table: Holding, Address: 110, Type: Int32, WordOrder: Little},
		{Sensor: "scaled", Table: Holding, Address: 112, Type: Uint16, Scale: 0.5, Offset: -10},
		{Sensor: "i64", Table: Holding, Address: 113, Type: Int64},
		{Sensor: "f64", Table: Holding, Address: 117, Type: Float64, ByteOrder: Little, WordOrder: Little},
		{Sensor: "nan", Table: Holding, Address: 121, Type: Float32},
		{Sensor: "d40", Table: Discrete, Address: 40},
		{Sensor: "d41", Table: Discrete, Address: 41},
		{Sensor: "d42", Table: Discrete, Address: 42},
	}
	m := NewMetrics(nil)
	src, err := New(Config{Name: "set", URL: "tcp://" + listenTCP(t, s).String(), MaxGap: 4, Timeout: 5 * time.Second,
		Units: []UnitConfig{{ID: 1, Groups: []GroupConfig{{Interval: 20 * time.Millisecond, Registers: regs}}}}}, Options{Now: frozenNow, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Requests()[1][0]; len(got) != 2 || got[1].Address != 100 || got[1].Count != 23 {
		t.Errorf("requests %+v, want one discrete read and holding 100+23 (gaps of ≤ 4 bridged)", got)
	}
	c := runSource(t, src)
	c.waitUntil(t, 10*time.Second, "a poll", func() bool { return len(c.readings("d42")) > 0 })
	want := map[string]float64{"abcd": 21.5, "cdab": 21.5, "badc": 21.5, "dcba": 21.5, "i32": -5, "scaled": 607, "i64": -2, "f64": -0.5, "d40": 1, "d41": 0, "d42": 1}
	for id, v := range want {
		if r := c.readings(id)[0]; r.Value != v || r.Quality != fieldline.QualityGood {
			t.Errorf("%s: %+v, want %v good", id, r, v)
		}
	}
	if r := c.readings("nan")[0]; r.Quality != fieldline.QualityBad || !math.IsNaN(r.Value) {
		t.Errorf("NaN register: %+v, want quality bad, value NaN", r)
	}
	if n := errorsOf(m, "set", "1", "decode"); n < 1 {
		t.Errorf("decode errors %d", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
