package signal

import (
	"math"
	"strconv"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestShapes(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		check func(t *testing.T, s *Signal)
	}{
		{"drift stays in range and has 0.1 resolution", Config{Shape: Drift, Base: 21, Amplitude: 2, Drift: 1, Noise: 0.2, Resolution: 0.1}, func(t *testing.T, s *Signal) {
			for i := 0; i < 10000; i++ {
				v, ok := s.At(epoch.Add(time.Duration(i) * time.Second))
				if !ok || v < 17.7 || v > 24.3 {
					t.Fatalf("t=%ds: %v %v", i, v, ok)
				}
				if str := strconv.FormatFloat(v, 'f', -1, 64); len(str) > 5 {
					t.Fatalf("value %s is not a 0.1 step", str)
				}
			}
		}},
		{"loop is a triangle", Config{Shape: Loop, Base: 2, Amplitude: 4, Period: 100 * time.Second}, func(t *testing.T, s *Signal) {
			lo, hi := math.Inf(1), math.Inf(-1)
			for i := 0; i < 100; i++ {
				v, _ := s.At(epoch.Add(time.Duration(i) * time.Second))
				lo, hi = min(lo, v), max(hi, v)
			}
			if lo != 2 || hi != 6 {
				t.Fatalf("range %v..%v, want 2..6", lo, hi)
			}
		}},
		{"counter never decreases", Config{Shape: Counter, Base: 1000, Rate: 2.5}, func(t *testing.T, s *Signal) {
			prev := -1.0
			for i := 0; i < 1000; i++ {
				v, _ := s.At(epoch.Add(time.Duration(i) * 100 * time.Millisecond))
				if v < prev {
					t.Fatalf("counter went from %v to %v", prev, v)
				}
				prev = v
			}
			if v, _ := s.At(epoch.Add(10 * time.Second)); v != 1025 {
				t.Fatalf("after 10 s: %v, want 1025", v)
			}
		}},
		{"square", Config{Shape: Square, Period: 10 * time.Second, Duty: 0.3}, func(t *testing.T, s *Signal) {
			high := 0
			for i := 0; i < 100; i++ {
				v, _ := s.At(epoch.Add(time.Duration(i) * 100 * time.Millisecond))
				high += int(v)
			}
			if high != 30 {
				t.Fatalf("high %d of 100, want 30", high)
			}
		}},
		{"anomalies", Config{Shape: Constant, Base: 5, Anomalies: []Anomaly{
			{Kind: Dropout, Every: time.Minute, For: 5 * time.Second},
			{Kind: Spike, Every: time.Minute, For: time.Second, Offset: 10 * time.Second, Magnitude: 100},
		}}, func(t *testing.T, s *Signal) {
			if _, ok := s.At(epoch.Add(61 * time.Second)); ok {
				t.Fatal("no dropout at 61 s")
			}
			if v, ok := s.At(epoch.Add(70*time.Second + 500*time.Millisecond)); !ok || v != 105 {
				t.Fatalf("spike: %v %v", v, ok)
			}
			if v, ok := s.At(epoch.Add(80 * time.Second)); !ok || v != 5 {
				t.Fatalf("clean: %v %v", v, ok)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg, epoch)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestStuck(t *testing.T) {
	s := MustNew(Config{Shape: Counter, Rate: 1, Anomalies: []Anomaly{{Kind: Stuck, Every: time.Minute, For: 10 * time.Second, Offset: 30 * time.Second}}}, epoch)
	a, _ := s.At(epoch.Add(31 * time.Second))
	b, _ := s.At(epoch.Add(39 * time.Second))
	c, _ := s.At(epoch.Add(41 * time.Second))
	if a != b || a != 30 || c != 41 {
		t.Fatalf("stuck: %v %v %v", a, b, c)
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Shape: Drift, Base: 10, Noise: 1, Seed: 3}
	a, b := MustNew(cfg, epoch), MustNew(cfg, epoch)
	at := epoch.Add(1234567 * time.Millisecond)
	va, _ := a.At(at)
	vb, _ := b.At(at)
	if va != vb {
		t.Fatal("same seed and time gave different values")
	}
}

func TestCheck(t *testing.T) {
	_, err := New(Config{Shape: "wobble", Noise: -1, Anomalies: []Anomaly{{Kind: "melt"}}}, epoch)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"shape", "noise", "anomalies[0].kind", "anomalies[0].every"} {
		if !contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
