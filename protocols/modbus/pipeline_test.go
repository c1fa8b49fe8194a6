package modbus

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
)

// frameProxy stands between the source and the simulator. For each read
// of the source's bytes (on loopback, one write of the source's), it
// forwards the request frames in it and then, by mode:
//   - reverse: waits for all their answers and sends them back last
//     first, in one write: a source that sent one request at a time gets
//     its answer as usual, one that sent several must match answers by
//     transaction id;
//   - naive: forwards only the first frame and drops the rest, as a device
//     that parses one request per read of its socket would.
//
// A request gateway says yes to is not forwarded: the proxy answers it
// with exception 11 (gateway target failed to respond), as unit 255.
type frameProxy struct {
	naive   bool
	gateway func(unit byte, address uint16) bool
	most    atomic.Int64 // most request frames in one read
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

// startProxy starts p (its mode set, the rest zero) in front of target.
func startProxy(t *testing.T, target net.Addr, p *frameProxy) (*frameProxy, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target.String())
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Go(func() { p.serve(c, s) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p, ln.Addr().String()
}

func (p *frameProxy) serve(c, s net.Conn) {
	defer c.Close()
	defer s.Close()
	buf := make([]byte, 4096)
	var pending []byte
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		var frames [][]byte
		for len(pending) >= mbapLen {
			end := mbapLen - 1 + int(binary.BigEndian.Uint16(pending[4:]))
			if end > len(pending) {
				break
			}
			frames = append(frames, slices.Clone(pending[:end]))
			pending = pending[end:]
		}
		if int64(len(frames)) > p.most.Load() {
			p.most.Store(int64(len(frames)))
		}
		if p.naive && len(frames) > 1 {
			frames = frames[:1]
		}
		var answers [][]byte
		for _, f := range frames {
			if p.gateway != nil && p.gateway(f[6], binary.BigEndian.Uint16(f[8:])) {
				answers = append(answers, mbapFrame(binary.BigEndian.Uint16(f), 0xff, f[7]|0x80, 11))
				continue
			}
			if _, err := s.Write(f); err != nil {
				return
			}
			hdr := make([]byte, mbapLen)
			if _, err := io.ReadFull(s, hdr); err != nil {
				return
			}
			body := make([]byte, int(binary.BigEndian.Uint16(hdr[4:]))-1)
			if _, err := io.ReadFull(s, body); err != nil {
				return
			}
			answers = append(answers, append(hdr, body...))
		}
		slices.Reverse(answers)
		if _, err := c.Write(slices.Concat(answers...)); err != nil {
			return
		}
	}
}

// pipelinedSource is a source of every register of the simulator's sample,
// through a proxy, at most 4 registers a request (so that groups have
// several requests), sending pipeline requests at once.
func pipelinedSource(t *testing.T, addr string, pipeline int, m *Metrics, log *slog.Logger) *Source {
	t.Helper()
	simCfg := modbussim.DefaultConfig()
	cfg := Config{Name: "sim", URL: "tcp://" + addr, Timeout: 2 * time.Second, Pipeline: pipeline, MaxRegistersPerRequest: 4}
	for _, u := range simCfg.Units {
		cfg.Units = append(cfg.Units, mirror(u, 20*time.Millisecond))
	}
	src, err := New(cfg, Options{Now: frozenNow, Metrics: m, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestPipelinedPolls: with pipeline 8 the source sends a group's requests
// together, matches answers that come back in reverse order by transaction
// id, and reads every value as the simulator has it, with no error; with
// pipeline 1 it sends one at a time.
func TestPipelinedPolls(t *testing.T) {
	for _, tc := range []struct {
		pipeline   int
		pipelined  bool
		minPerPoll int64
	}{{1, false, 1}, {8, true, 2}} {
		t.Run(map[bool]string{true: "pipeline 8", false: "pipeline 1"}[tc.pipelined], func(t *testing.T) {
			s := newSim(t, nil, nil)
			p, addr := startProxy(t, listenTCP(t, s), &frameProxy{})
			m := NewMetrics(nil)
			src := pipelinedSource(t, addr, tc.pipeline, m, nil)
			most := 0
			for _, u := range src.Requests() {
				for _, g := range u {
					most = max(most, len(g))
				}
			}
			if most < 3 {
				t.Fatalf("the test wants a group of 3 or more requests, the largest has %d", most)
			}
			c, stop := runSourceStop(t, src)
			c.waitUntil(t, 20*time.Second, "5 readings of every sensor", func() bool {
				for _, si := range src.Sensors() {
					if len(c.readings(si.ID)) < 5 {
						return false
					}
				}
				return true
			})
			stop()
			checkSimValues(t, s, c)
			if n := errorsTotal(m, "modbus/sim"); n != 0 {
				t.Errorf("%d errors: %s", n, dumpErrors(m))
			}
			switch got := p.most.Load(); {
			case tc.pipelined && got != int64(most):
				t.Errorf("at most %d requests arrived together, want the largest group's %d", got, most)
			case !tc.pipelined && got != 1:
				t.Errorf("%d requests arrived together with pipeline 1", got)
			}
		})
	}
}

// TestPipelineFallsBackOnADeviceThatDropsRequests: a device that answers
// only the first of the requests sent together costs one timeout; the
// source counts it, says so in its log, and from then on sends one request
// at a time, every value good.
func TestPipelineFallsBackOnADeviceThatDropsRequests(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := newSim(t, nil, nil)
	p, addr := startProxy(t, listenTCP(t, s), &frameProxy{naive: true})
	m := NewMetrics(nil)
	src := pipelinedSource(t, addr, 8, m, log)
	src.cfg.Timeout = 200 * time.Millisecond
	c, stop := runSourceStop(t, src)
	c.waitUntil(t, 20*time.Second, "10 good readings of every sensor", func() bool {
		for _, si := range src.Sensors() {
			if c.count(si.ID, fieldline.QualityGood) < 10 {
				return false
			}
		}
		return true
	})
	stop()
	if p.most.Load() < 2 {
		t.Fatalf("the source never sent requests together")
	}
	if n := errorsOf(m, "sim", "1", "timeout") + errorsOf(m, "sim", "2", "timeout"); n != 1 {
		t.Errorf("%d timeouts counted, want the one of the pipelined poll: %s", n, dumpErrors(m))
	}
	if n := errorsTotal(m, "modbus/sim"); n != 1 {
		t.Errorf("%d errors, want 1: %s", n, dumpErrors(m))
	}
	if got := strings.Count(logs.String(), "sending them one at a time from now on"); got != 1 {
		t.Errorf("%d log lines about the fallback, want 1:\n%s", got, logs.String())
	}
	for _, si := range src.Sensors() {
		if bad := c.count(si.ID, fieldline.QualityBad); bad != 0 {
			t.Errorf("%s: %d bad readings; the requests not answered together are sent again, one at a time", si.ID, bad)
		}
	}
}

// TestPipelinedExceptions: an exception to a request sent with others is
// that request's first attempt: illegal_data_address is counted once a
// poll and not sent again (two requests a poll, one per register), busy
// is retried once, alone (four: the pipelined pair, then a retry of
// each). Stopping may cut the last poll short, hence the ranges.
func TestPipelinedExceptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		busy    bool
		code    string
		perPoll int
	}{
		{"illegal address", false, "illegal_data_address", 2},
		{"busy", true, "server_device_busy", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, nil, nil)
			if tc.busy {
				must(t, s.SetFault(2, modbussim.Fault{Exception: 6}))
			}
			p, addr := startProxy(t, listenTCP(t, s), &frameProxy{})
			m := NewMetrics(nil)
			src, err := New(Config{Name: "meter", URL: "tcp://" + addr, Pipeline: 8, Timeout: 5 * time.Second, Retries: ptr(1), RetryBackoff: time.Millisecond,
				Units: []UnitConfig{{ID: 2, Groups: []GroupConfig{{Name: "both", Interval: 15 * time.Millisecond, Registers: []RegisterConfig{
					{Sensor: "voltage", Table: Input, Address: 0, Type: Float32, ByteOrder: Little, WordOrder: Little},
					{Sensor: "missing", Table: Input, Address: 20},
				}}}}}},
				Options{Metrics: m, Now: frozenNow})
			if err != nil {
				t.Fatal(err)
			}
			c, stop := runSourceStop(t, src)
			c.waitUntil(t, 10*time.Second, "5 polls", func() bool { return len(c.readings("missing")) >= 5 })
			stop()
			polls := len(c.readings("missing"))
			if n := c.count("missing", fieldline.QualityBad); n != polls {
				t.Errorf("%d bad readings of the missing register in %d polls", n, polls)
			}
			voltages, good := len(c.readings("voltage")), c.count("voltage", fieldline.QualityGood)
			if voltages < polls || voltages > polls+1 || (good == voltages) == tc.busy {
				t.Errorf("%d voltage readings (%d good) in %d polls", voltages, good, polls)
			}
			if p.most.Load() != 2 {
				t.Errorf("at most %d requests arrived together, want the poll's 2", p.most.Load())
			}
			excs, want := errorsOf(m, "meter", "2", tc.code), polls
			if tc.busy {
				want = polls + voltages // each register counted once a poll
			}
			if excs != want {
				t.Errorf("%d %s errors in %d polls, want %d", excs, tc.code, polls, want)
			}
			if req := requestsOf(m, "meter", "2"); req < tc.perPoll*polls || req > tc.perPoll*(polls+1) {
				t.Errorf("%d requests in %d polls, want %d a poll", req, polls, tc.perPoll)
			}
		})
	}
}

// TestPipelinedPollKeepsABackoffItSet: when the first request of a
// pipelined poll fails as a silent unit does (a gateway's exception 11,
// retried) and backs the unit off, the answers the same exchange got to
// the poll's later requests do not bring the unit back: they are skipped
// as without pipelining, and the backoff holds.
func TestPipelinedPollKeepsABackoffItSet(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := newSim(t, nil, nil)
	p, addr := startProxy(t, listenTCP(t, s), &frameProxy{gateway: func(unit byte, address uint16) bool { return unit == 1 && address == 0 }})
	m := NewMetrics(nil)
	src := boilerPair(t, addr, 5*time.Second, 1, time.Hour, m, log)
	c, stop := runSourceStop(t, src)
	c.waitUntil(t, 10*time.Second, "5 polls", func() bool { return len(c.readings("pressure")) >= 5 })
	stop()
	if p.most.Load() != 2 {
		t.Errorf("at most %d requests arrived together, want the first poll's 2", p.most.Load())
	}
	if n := c.count("pressure", fieldline.QualityGood); n != 0 {
		t.Errorf("%d good pressure readings: an answer of the pipelined exchange was used although the poll had backed the unit off", n)
	}
	if n := errorsOf(m, "boiler", "1", "gateway_target_failed"); n != 1 {
		t.Errorf("%d gateway errors, want the first poll's failed request: %s", n, dumpErrors(m))
	}
	if n := requestsOf(m, "boiler", "1"); n != 3 {
		t.Errorf("%d requests, want the first poll's two and the retry of the failed one (then the unit is skipped for an hour)", n)
	}
	if v := m.UnitDown.WithLabelValues("modbus/boiler", "1").Value(); v != 1 {
		t.Errorf("unit down gauge %v, want 1", v)
	}
	if strings.Contains(logs.String(), "answering again") {
		t.Errorf("the unit was said to answer again:\n%s", logs.String())
	}
}

// TestPipelineSurvivesADeviceThatHangs: a device that stops answering
// (every request of a pipelined poll times out, and the one sent alone
// after them too) and then answers again is sent requests together again:
// a failure that is not the device dropping requests sent together does
// not turn pipelining off.
func TestPipelineSurvivesADeviceThatHangs(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := newSim(t, nil, nil)
	p, addr := startProxy(t, listenTCP(t, s), &frameProxy{})
	m := NewMetrics(nil)
	src := boilerPair(t, addr, 100*time.Millisecond, 0, 50*time.Millisecond, m, log)
	c, stop := runSourceStop(t, src)
	c.waitUntil(t, 10*time.Second, "a good poll", func() bool { return c.count("pressure", fieldline.QualityGood) >= 1 })
	must(t, s.SetFault(1, modbussim.Fault{Dead: true}))
	c.waitUntil(t, 10*time.Second, "timeouts", func() bool { return errorsOf(m, "boiler", "1", "timeout") >= 2 })
	must(t, s.SetFault(1, modbussim.Fault{}))
	good := c.count("pressure", fieldline.QualityGood)
	c.waitUntil(t, 10*time.Second, "good polls again", func() bool { return c.count("pressure", fieldline.QualityGood) >= good+5 })
	p.most.Store(0)
	good = c.count("pressure", fieldline.QualityGood)
	c.waitUntil(t, 10*time.Second, "more good polls", func() bool { return c.count("pressure", fieldline.QualityGood) >= good+5 })
	stop()
	if p.most.Load() != 2 {
		t.Errorf("after the device answered again at most %d requests arrived together, want 2", p.most.Load())
	}
	if strings.Contains(logs.String(), "from now on") {
		t.Errorf("pipelining was turned off:\n%s", logs.String())
	}
}

// TestPipeVerdict: when the first request sent alone after a failed
// pipelined exchange turns pipelining off.
func TestPipeVerdict(t *testing.T) {
	type step struct {
		unit int
		pipe pipeOutcome
		ok   bool // the request sent alone was answered
	}
	timedOut := func(answered int, drops bool) pipeOutcome {
		return pipeOutcome{failed: true, code: "timeout", answered: answered, of: 4, drops: drops}
	}
	broken := pipeOutcome{failed: true, code: "io", of: 4}
	for _, tc := range []struct {
		name  string
		steps []step
		off   bool
	}{
		{"the first answered, the rest dropped: at once", []step{{0, timedOut(1, true), true}}, true},
		{"an answer missing in the middle, once: a glitch", []step{{0, timedOut(3, false), true}}, false},
		{"none answered together, answered alone once: a stall", []step{{0, timedOut(0, false), true}}, false},
		{"none answered together, answered alone twice in a row", []step{{0, timedOut(0, false), true}, {0, timedOut(0, false), true}}, true},
		{"a dead device in between resets the count", []step{{0, timedOut(0, false), true}, {0, timedOut(0, false), false}, {0, timedOut(0, false), true}}, false},
		{"not alone either: the device, not pipelining", []step{{0, timedOut(2, true), false}, {0, timedOut(2, true), false}}, false},
		{"a line closed on requests sent together, twice", []step{{0, broken, true}, {0, broken, true}}, true},
		{"a line broken once", []step{{0, broken, true}}, false},
		{"strikes are per unit", []step{{0, broken, true}, {1, broken, true}}, false},
		{"and add up per unit", []step{{0, broken, true}, {1, broken, true}, {0, broken, true}}, true},
		{"no failure", []step{{0, pipeOutcome{}, true}, {0, pipeOutcome{}, true}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Source{cfg: Config{Pipeline: 4}, log: slog.New(slog.DiscardHandler)}
			r := &run{}
			units := []*unitState{{plannedUnit: &plannedUnit{}}, {plannedUnit: &plannedUnit{}}}
			req := &plannedRequest{}
			for _, st := range tc.steps {
				r.pipe = st.pipe
				var err error
				if !st.ok {
					err = io.ErrUnexpectedEOF
				}
				s.pipeVerdict(r, units[st.unit], req, err)
			}
			if r.unpiped != tc.off {
				t.Errorf("pipelining off: %v, want %v", r.unpiped, tc.off)
			}
		})
	}
}

// boilerPair is a source of the simulator's unit 1 temperature and
// pressure, one request each, sent together (pipeline 8), every 10 ms,
// with retries after 1 ms and the unit backed off for unitBackoff.
func boilerPair(t *testing.T, addr string, timeout time.Duration, retries int, unitBackoff time.Duration, m *Metrics, log *slog.Logger) *Source {
	t.Helper()
	src, err := New(Config{Name: "boiler", URL: "tcp://" + addr, Pipeline: 8, Timeout: timeout, Retries: ptr(retries), RetryBackoff: time.Millisecond,
		MaxRegistersPerRequest: 1, UnitBackoff: Backoff{Min: unitBackoff, Max: unitBackoff},
		Units: []UnitConfig{{ID: 1, Groups: []GroupConfig{{Name: "both", Interval: 10 * time.Millisecond, Registers: []RegisterConfig{
			{Sensor: "temperature", Table: Holding, Address: 0, Type: Int16},
			{Sensor: "pressure", Table: Holding, Address: 1},
		}}}}}},
		Options{Metrics: m, Now: frozenNow, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return src
}
