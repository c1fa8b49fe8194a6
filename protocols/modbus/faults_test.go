package modbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
)

func meterGroups(missing RegisterConfig) []GroupConfig {
	return []GroupConfig{
		{Name: "good", Interval: 15 * time.Millisecond, Registers: []RegisterConfig{{Sensor: "voltage", Table: Input, Address: 0, Type: Float32, ByteOrder: Little, WordOrder: Little}}},
		{Name: "bad", Interval: 15 * time.Millisecond, Registers: []RegisterConfig{missing}},
	}
}

// TestExceptionsYieldBadReadingsAndCounts reads an address the strict
// meter does not map: every poll of it is one request, one counted
// illegal_data_address error and one bad reading (or none with on_error:
// skip), while the other group keeps reading good values.
func TestExceptionsYieldBadReadingsAndCounts(t *testing.T) {
	for _, onErr := range []OnError{OnErrorBad, OnErrorSkip} {
		t.Run(string(onErr), func(t *testing.T) {
			s := newSim(t, nil, nil)
			m := NewMetrics(nil)
			src, err := New(Config{Name: "meter", URL: "tcp://" + listenTCP(t, s).String(), OnError: onErr, Timeout: 5 * time.Second,
				Units: []UnitConfig{{ID: 2, Groups: meterGroups(RegisterConfig{Sensor: "missing", Table: Input, Address: 20})}}},
				Options{Metrics: m, Now: frozenNow})
			if err != nil {
				t.Fatal(err)
			}
			c, stop := runSourceStop(t, src)
			c.waitUntil(t, 10*time.Second, "5 polls of each group", func() bool {
				return len(c.readings("voltage")) >= 5 && errorsOf(m, "meter", "2", "illegal_data_address") >= 5
			})
			stop()
			good, excs := len(c.readings("voltage")), errorsOf(m, "meter", "2", "illegal_data_address")
			if c.count("voltage", fieldline.QualityGood) != good {
				t.Errorf("voltage has bad readings: %+v", c.readings("voltage"))
			}
			missing := c.readings("missing")
			if onErr == OnErrorBad {
				if len(missing) != excs || c.count("missing", fieldline.QualityBad) != excs {
					t.Errorf("%d exceptions but %d readings of the missing register (%d bad)", excs, len(missing), c.count("missing", fieldline.QualityBad))
				}
				for _, r := range missing {
					if !math.IsNaN(r.Value) || r.TimeNs != frozen.UnixNano() || r.Kind != fieldline.KindFloat {
						t.Errorf("bad reading %+v: want value NaN, time stamped, kind float", r)
					}
				}
			} else if len(missing) != 0 {
				t.Errorf("on_error skip emitted %d readings", len(missing))
			}
			// Exceptions are not retried: one request per poll.
			if req := requestsOf(m, "meter", "2"); req != good+excs {
				t.Errorf("%d requests for %d good and %d failed polls", req, good, excs)
			}
			if n := m.UnitDown.WithLabelValues("modbus/meter", "2").Value(); n != 0 {
				t.Errorf("a unit that answers exceptions is not down: gauge %v", n)
			}
		})
	}
}

// TestRetriedExceptions: busy (6) is retried once per poll; every code is
// counted under its name.
func TestRetriedExceptions(t *testing.T) {
	s := newSim(t, nil, nil)
	must(t, s.SetFault(1, modbussim.Fault{Exception: 6}))
	m := NewMetrics(nil)
	src, err := New(Config{Name: "busy", URL: "tcp://" + listenTCP(t, s).String(), Retries: ptr(1), RetryBackoff: time.Millisecond, Timeout: 5 * time.Second,
		Units: []UnitConfig{{ID: 1, Groups: []GroupConfig{{Interval: 10 * time.Millisecond, Registers: []RegisterConfig{{Sensor: "t", Table: Holding, Type: Int16}}}}}}},
		Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := runSourceStop(t, src)
	c.waitUntil(t, 10*time.Second, "3 bad readings", func() bool { return c.count("t", fieldline.QualityBad) >= 3 })
	stop()
	bad := c.count("t", fieldline.QualityBad)
	if e := errorsOf(m, "busy", "1", "server_device_busy"); e != bad {
		t.Errorf("%d busy errors for %d bad readings", e, bad)
	}
	// Two requests per poll (one retry), but stopping ends the retries of
	// a poll in progress.
	if r := requestsOf(m, "busy", "1"); r != 2*bad && r != 2*bad-1 {
		t.Errorf("%d requests for %d polls, want 2 per poll (one retry)", r, bad)
	}
}

// TestDeadUnitBackedOffThenPickedUp: a unit that does not answer times
// out, is retried once, then skipped with bad readings; probes after each
// backoff get no retry; once it answers again it is read without a
// restart.
func TestDeadUnitBackedOffThenPickedUp(t *testing.T) {
	s := newSim(t, nil, nil)
	must(t, s.SetFault(1, modbussim.Fault{Dead: true}))
	m := NewMetrics(nil)
	src, err := New(Config{Name: "dead", URL: "tcp://" + listenTCP(t, s).String(),
		Timeout: 400 * time.Millisecond, Retries: ptr(1), RetryBackoff: 5 * time.Millisecond,
		UnitBackoff: Backoff{Min: 100 * time.Millisecond, Max: 200 * time.Millisecond},
		Units:       []UnitConfig{{ID: 1, Groups: []GroupConfig{{Interval: 20 * time.Millisecond, Registers: []RegisterConfig{{Sensor: "t", Table: Holding, Type: Int16, Scale: 0.1}}}}}}},
		Options{Metrics: m, Now: frozenNow})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := runSourceStop(t, src)
	c.waitUntil(t, 20*time.Second, "3 timeouts and skipped polls", func() bool {
		return errorsOf(m, "dead", "1", "timeout") >= 3 &&
			m.SkippedPolls.WithLabelValues("modbus/dead", "1", "unit_down").Value() >= 3
	})
	if g := m.UnitDown.WithLabelValues("modbus/dead", "1").Value(); g != 1 {
		t.Errorf("unit_down gauge %v while dead", g)
	}
	// While dead: the first timeout was retried once, every later probe
	// was sent once (one more may be in flight now).
	timeouts, req := errorsOf(m, "dead", "1", "timeout"), requestsOf(m, "dead", "1")
	if req != timeouts+1 && req != timeouts+2 {
		t.Errorf("%d requests for %d timeouts: want one retry for the first timeout only", req, timeouts)
	}
	if n := c.count("t", fieldline.QualityGood); n != 0 {
		t.Fatalf("%d good readings from a dead unit", n)
	}
	badBefore := c.count("t", fieldline.QualityBad)
	must(t, s.SetFault(1, modbussim.Fault{}))
	c.waitUntil(t, 20*time.Second, "a good reading after the unit came back", func() bool { return c.count("t", fieldline.QualityGood) >= 3 })
	stop()
	if got, want := src.Failures(), errorsTotal(m, "modbus/dead"); got != want || got == 0 {
		t.Errorf("Failures() %d, want every error counted in the metric (%d)", got, want)
	}

	want, _, _ := s.Expected(1, "temperature", frozen)
	rs := c.readings("t")
	if last := rs[len(rs)-1]; last.Value != want || last.Quality != fieldline.QualityGood {
		t.Errorf("after coming back: %+v, want %v", last, want)
	}
	if badBefore < 3 {
		t.Errorf("%d bad readings while dead, want one per poll", badBefore)
	}
	if g := m.UnitDown.WithLabelValues("modbus/dead", "1").Value(); g != 0 {
		t.Errorf("unit_down gauge %v after recovery", g)
	}
}

// TestDeviceGoesAwayAndComesBack stops the simulator's TCP server and
// starts it again on the same port: the source yields bad readings and
// counts connect errors meanwhile, then reads good values again without a
// restart.
func TestDeviceGoesAwayAndComesBack(t *testing.T) {
	s := newSim(t, nil, nil)
	ctx1, stopServer := context.WithCancel(context.Background())
	addr, err := s.ListenTCP(ctx1, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	src, err := New(Config{Name: "away", URL: "tcp://" + addr.String(), Timeout: 5 * time.Second,
		ReconnectBackoff: Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		Units:            []UnitConfig{{ID: 1, Groups: []GroupConfig{{Interval: 10 * time.Millisecond, Registers: []RegisterConfig{{Sensor: "p", Table: Holding, Address: 1, Scale: 0.01}}}}}}},
		Options{Metrics: m, Now: frozenNow})
	if err != nil {
		t.Fatal(err)
	}
	c := runSource(t, src)
	c.waitUntil(t, 10*time.Second, "3 good readings", func() bool { return c.count("p", fieldline.QualityGood) >= 3 })
	stopServer()
	c.waitUntil(t, 10*time.Second, "bad readings and connect errors", func() bool {
		return c.count("p", fieldline.QualityBad) >= 3 && errorsOf(m, "away", "1", "connect") >= 2
	})
	if g := m.Connected.WithLabelValues("modbus/away").Value(); g != 0 {
		t.Errorf("connected gauge %v while the device is away", g)
	}
	goodBefore := c.count("p", fieldline.QualityGood)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	if _, err := s.ListenTCP(ctx2, addr.String()); err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	c.waitUntil(t, 10*time.Second, "good readings after the device came back", func() bool {
		return c.count("p", fieldline.QualityGood) >= goodBefore+3
	})
	if g := m.Connected.WithLabelValues("modbus/away").Value(); g != 1 {
		t.Errorf("connected gauge %v after reconnecting", g)
	}
	if n := errorsOf(m, "away", "1", "io"); n > 1 {
		t.Errorf("%d io errors: the dropped connection should fail one read, then connects fail", n)
	}
}

// TestDeadAndSlowDevicesDoNotDelayOthers runs three sources, one per TCP
// device, as the agent does: a dead one, a slow one (answers after 10 s)
// and a healthy one polled every 20 ms. The healthy source completes 25
// polls while neither the dead nor the slow one has finished its first
// request: their waits cost the healthy device nothing.
func TestDeadAndSlowDevicesDoNotDelayOthers(t *testing.T) {
	mk := func(name string, f modbussim.Fault) (*collector, *modbussim.Sim) {
		s := newSim(t, nil, nil)
		must(t, s.SetFault(1, f))
		src, err := New(Config{Name: name, URL: "tcp://" + listenTCP(t, s).String(), Timeout: 20 * time.Second, Retries: ptr(0),
			Units: []UnitConfig{{ID: 1, Groups: []GroupConfig{{Interval: 20 * time.Millisecond, Registers: []RegisterConfig{{Sensor: name, Table: Holding, Type: Int16}}}}}}},
			Options{Now: frozenNow})
		if err != nil {
			t.Fatal(err)
		}
		c := runSource(t, src)
		t.Cleanup(func() { s.SetFault(1, modbussim.Fault{}) }) // runs first: answers the held or delayed request
		return c, s
	}
	dead, _ := mk("dead", modbussim.Fault{Dead: true})
	slow, _ := mk("slow", modbussim.Fault{Delay: 10 * time.Second})
	healthy, _ := mk("healthy", modbussim.Fault{})
	healthy.waitUntil(t, 20*time.Second, "25 healthy polls", func() bool { return len(healthy.readings("healthy")) >= 25 })
	if n := len(dead.readings("")); n != 0 {
		t.Errorf("the dead device yielded %d readings before its first timeout", n)
	}
	if n := len(slow.readings("")); n != 0 {
		t.Errorf("the slow device (10 s per answer) answered %d polls while the healthy one answered 25", n)
	}
	if n := healthy.count("healthy", fieldline.QualityGood); n < 25 {
		t.Errorf("healthy: %d good of %d", n, len(healthy.readings("")))
	}
}

// TestDeadUnitOnASharedRTUBus puts three units on one serial bus (a socat
// pty pair): unit 2 is dead. Units 1 and 3 keep reading good values; unit 2
// yields one bad reading per poll, and is probed once per backoff period
// (its polls in between are skipped without touching the bus). When it
// answers again it is picked up.
func TestDeadUnitOnASharedRTUBus(t *testing.T) {
	a, b := ptyPair(t)
	simCfg := modbussim.Config{}
	for id := 1; id <= 3; id++ {
		simCfg.Units = append(simCfg.Units, modbussim.UnitConfig{ID: id, Registers: []modbussim.RegisterConfig{
			{Name: "level", Table: modbussim.Holding, Address: 0, Type: modbussim.Uint16, Signal: signal.Config{Shape: signal.Constant, Base: float64(100 * id)}},
		}})
	}
	s := newSim(t, &simCfg, nil)
	must(t, s.SetFault(2, modbussim.Fault{Dead: true}))
	serveRTU(t, s, a)
	m := NewMetrics(nil)
	cfg := Config{Name: "bus", URL: "rtu://" + b, Serial: Serial{Baud: 19200},
		// A generous timeout: on a loaded machine a healthy unit must not
		// time out, or the test would measure the machine.
		Timeout: 2 * time.Second, Retries: ptr(1), RetryBackoff: 5 * time.Millisecond,
		UnitBackoff: Backoff{Min: 2 * time.Second, Max: 4 * time.Second}}
	for id := 1; id <= 3; id++ {
		cfg.Units = append(cfg.Units, UnitConfig{ID: id, Groups: []GroupConfig{{Interval: 50 * time.Millisecond,
			Registers: []RegisterConfig{{Sensor: "level" + string(rune('0'+id)), Table: Holding}}}}})
	}
	src, err := New(cfg, Options{Metrics: m, Now: frozenNow})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := runSourceStop(t, src)
	c.waitUntil(t, 60*time.Second, "40 polls of units 1 and 3", func() bool {
		return len(c.readings("level1")) >= 40 && len(c.readings("level3")) >= 40
	})
	for _, id := range []string{"level1", "level3"} {
		for _, r := range c.readings(id) {
			if r.Quality != fieldline.QualityGood || r.Value != map[string]float64{"level1": 100, "level3": 300}[id] {
				t.Fatalf("%s beside a dead unit: %+v; errors %s", id, r, dumpErrors(m))
			}
		}
	}
	timeouts := errorsOf(m, "bus", "2", "timeout")
	skipped := int(m.SkippedPolls.WithLabelValues("modbus/bus", "2", "unit_down").Value())
	if timeouts < 1 || skipped < 3*timeouts {
		t.Errorf("dead unit: %d timeouts, %d skipped polls; want ≥ 3 skipped per timeout (one probe per backoff period)", timeouts, skipped)
	}
	// One retry for the first timeout only; a probe may be in flight.
	if req := requestsOf(m, "bus", "2"); req != timeouts+1 && req != timeouts+2 {
		t.Errorf("dead unit: %d requests for %d timeouts, want one retry for the first only", req, timeouts)
	}
	if n, bad := len(c.readings("level2")), c.count("level2", fieldline.QualityBad); n != bad || n < skipped {
		t.Errorf("dead unit: %d readings, %d bad, %d skipped polls", n, bad, skipped)
	}

	must(t, s.SetFault(2, modbussim.Fault{}))
	c.waitUntil(t, 30*time.Second, "unit 2 read again", func() bool { return c.count("level2", fieldline.QualityGood) >= 1 })
	stop()
	rs := c.readings("level2")
	if last := rs[len(rs)-1]; last.Value != 200 {
		t.Errorf("unit 2 after coming back: %+v", last)
	}
}

func TestRunErrorsNameTheRequest(t *testing.T) {
	f := classify(errors.New("unknown exception code (42)"))
	err := f.wrap(3, &ReadRequest{Table: Holding, Address: 100, Count: 2}, errors.New("unknown exception code (42)"))
	if !errors.Is(err, ErrException) || !strings.Contains(err.Error(), "reading modbus unit 3 holding 100+2") {
		t.Errorf("%v", err)
	}
}

func dumpErrors(m *Metrics) string {
	var b strings.Builder
	for _, f := range m.Errors.Collect(nil) {
		for _, s := range f.Samples {
			fmt.Fprintf(&b, "%v=%v ", s.Labels, s.Value)
		}
	}
	return b.String()
}

// errorsTotal sums fieldline_modbus_errors_total of one source.
func errorsTotal(m *Metrics, source string) uint64 {
	var n float64
	for _, f := range m.Errors.Collect(nil) {
		for _, s := range f.Samples {
			for _, l := range s.Labels {
				if l.Name == "source" && l.Value == source {
					n += s.Value
				}
			}
		}
	}
	return uint64(n)
}
