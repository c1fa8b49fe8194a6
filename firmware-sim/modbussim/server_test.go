package modbussim

import (
	"context"
	"errors"
	"io"
	"log"
	"math"
	"os/exec"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

func client(t *testing.T, url string, timeout time.Duration) *modbus.ModbusClient {
	t.Helper()
	c, err := modbus.NewClient(&modbus.ClientConfiguration{
		URL: url, Timeout: timeout, Speed: 19200, Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// transports starts every transport of s and returns a client URL for each.
func transports(t *testing.T, s *Sim) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tcp, err := s.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rot, err := s.ListenRTUOverTCP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{"tcp": "tcp://" + tcp.String(), "rtuovertcp": "rtuovertcp://" + rot.String()}
	if a, b, ok := tryPtyPair(t); ok {
		done := make(chan error, 1)
		go func() { done <- s.ServeRTU(ctx, a, SerialConfig{Baud: 19200}) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ServeRTU: %v", err)
			}
		})
		urls["rtu"] = "rtu://" + b
	}
	return urls
}

// tryPtyPair is ptyPair that logs instead of skipping when socat is
// missing, so that the other transports are still tested.
func tryPtyPair(t *testing.T) (a, b string, ok bool) {
	if _, err := exec.LookPath("socat"); err != nil {
		testkit.Optional(t, "socat is not installed (Debian package socat): RTU over a pty is NOT tested here")
		return "", "", false
	}
	a, b = ptyPair(t)
	return a, b, true
}

func TestValuesOverEveryTransport(t *testing.T) {
	s := newSim(t, nil)
	exp := func(unit uint8, name string) float64 {
		v, ok, err := s.Expected(unit, name, frozen)
		if err != nil || !ok {
			t.Fatalf("expected %s: %v %v", name, ok, err)
		}
		return v
	}
	for name, url := range transports(t, s) {
		t.Run(name, func(t *testing.T) {
			c := client(t, url, 5*time.Second)
			c.SetUnitId(1)
			regs, err := c.ReadRegisters(0, 10, modbus.HOLDING_REGISTER)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := float64(int16(regs[0]))*0.1, exp(1, "temperature"); got != want {
				t.Errorf("temperature %v, want %v", got, want)
			}
			if got, want := float64(regs[1])*0.01, exp(1, "pressure"); got != want {
				t.Errorf("pressure %v, want %v", got, want)
			}
			if got, want := float64(uint32(regs[2])<<16|uint32(regs[3])), exp(1, "energy"); got != want {
				t.Errorf("energy %v, want %v", got, want)
			}
			abcd := math.Float32frombits(uint32(regs[4])<<16 | uint32(regs[5]))
			cdab := math.Float32frombits(uint32(regs[7])<<16 | uint32(regs[6]))
			if want := exp(1, "flow"); float64(abcd) != want || float64(cdab) != want {
				t.Errorf("flow %v (ABCD) %v (CDAB), want %v", abcd, cdab, want)
			}
			if regs[9] != 220 {
				t.Errorf("setpoint %d, want 220", regs[9])
			}
			// The library's own decoding agrees for both word orders.
			c.SetEncoding(modbus.BIG_ENDIAN, modbus.LOW_WORD_FIRST)
			if f, err := c.ReadFloat32(6, modbus.HOLDING_REGISTER); err != nil || float64(f) != exp(1, "flow") {
				t.Errorf("ReadFloat32 CDAB: %v %v", f, err)
			}
			c.SetEncoding(modbus.BIG_ENDIAN, modbus.HIGH_WORD_FIRST)

			c.SetUnitId(2)
			c.SetEncoding(modbus.LITTLE_ENDIAN, modbus.LOW_WORD_FIRST)
			if f, err := c.ReadFloat32(0, modbus.INPUT_REGISTER); err != nil || float64(f) != exp(2, "voltage") {
				t.Errorf("voltage DCBA: %v %v, want %v", f, err, exp(2, "voltage"))
			}
			c.SetEncoding(modbus.BIG_ENDIAN, modbus.HIGH_WORD_FIRST)
			if u, err := c.ReadUint64(6, modbus.INPUT_REGISTER); err != nil || float64(u) != exp(2, "energy_total") {
				t.Errorf("energy_total: %v %v", u, err)
			}
			if f, err := c.ReadFloat64(10, modbus.INPUT_REGISTER); err != nil || f != exp(2, "frequency") {
				t.Errorf("frequency: %v %v", f, err)
			}
			if _, err := c.ReadRegisters(16, 2, modbus.INPUT_REGISTER); !errors.Is(err, modbus.ErrIllegalDataAddress) {
				t.Errorf("strict unit, unmapped address: %v", err)
			}

			c.SetUnitId(1)
			pump, err := c.ReadCoil(0)
			if want := exp(1, "pump"); err != nil || pump != (want == 1) {
				t.Errorf("pump coil %v %v, want %v", pump, err, want)
			}
			if err := c.WriteRegister(100, 777); err != nil {
				t.Fatal(err)
			}
			if r, err := c.ReadRegister(100, modbus.HOLDING_REGISTER); err != nil || r != 777 {
				t.Errorf("written register reads %v %v", r, err)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	s := newSim(t, nil)
	for name, url := range transports(t, s) {
		t.Run(name, func(t *testing.T) {
			rtu := name != "tcp"
			// Long enough that a loaded machine does not time out a
			// healthy answer; the faults below outlast it.
			c := client(t, url, 500*time.Millisecond)
			read := func(unit uint8) error {
				c.SetUnitId(unit)
				_, err := c.ReadRegisters(0, 2, modbus.HOLDING_REGISTER)
				return err
			}
			set := func(unit uint8, f Fault) {
				if err := s.SetFault(unit, f); err != nil {
					t.Fatal(err)
				}
			}
			set(1, Fault{Exception: 6})
			if err := read(1); !errors.Is(err, modbus.ErrServerDeviceBusy) {
				t.Errorf("exception 6: %v", err)
			}
			set(1, Fault{Exception: 11})
			if err := read(1); !errors.Is(err, modbus.ErrGWTargetFailedToRespond) {
				t.Errorf("exception 11: %v", err)
			}
			set(1, Fault{Dead: true})
			if err := read(1); !errors.Is(err, modbus.ErrRequestTimedOut) {
				t.Errorf("dead unit: %v", err)
			}
			if rtu {
				// On a bus the other unit answers right after a dead one.
				c.SetUnitId(2)
				if _, err := c.ReadRegisters(0, 2, modbus.INPUT_REGISTER); err != nil {
					t.Errorf("unit 2 beside a dead unit 1: %v", err)
				}
			}
			set(1, Fault{})
			// Over TCP the held request is answered late once the fault
			// clears; the unit is healthy again within a few requests.
			testkit.WaitFor(t, 5*time.Second, "unit 1 to answer again", func() bool { return read(1) == nil })

			set(1, Fault{Delay: 2 * time.Second})
			if err := read(1); !errors.Is(err, modbus.ErrRequestTimedOut) {
				t.Errorf("slow unit: %v", err)
			}
			set(1, Fault{})
			testkit.WaitFor(t, 5*time.Second, "unit 1 to answer again", func() bool { return read(1) == nil })
			// An RTU line has no transaction ids: late answers to the
			// timed-out requests may still wait in the line. A master
			// flushes its input, as reopening the client does.
			c.Close()
			if err := c.Open(); err != nil {
				t.Fatal(err)
			}

			err := read(99)
			if rtu && !errors.Is(err, modbus.ErrRequestTimedOut) {
				t.Errorf("unknown unit on a bus: %v", err)
			}
			if !rtu && !errors.Is(err, modbus.ErrGWTargetFailedToRespond) {
				t.Errorf("unknown unit over tcp: %v", err)
			}
			if err := s.SetFault(99, Fault{}); !errors.Is(err, ErrNoUnit) {
				t.Errorf("SetFault of an unknown unit: %v", err)
			}
		})
	}
}

func TestDropout(t *testing.T) {
	cfg := Config{Units: []UnitConfig{{ID: 5, Registers: []RegisterConfig{
		{Name: "gone", Table: Input, Address: 0, Signal: signal.Config{Shape: signal.Constant, Base: 7,
			Anomalies: []signal.Anomaly{{Kind: signal.Dropout, Every: time.Hour, For: 30 * time.Minute}}}},
		{Name: "here", Table: Input, Address: 5, Signal: signal.Config{Shape: signal.Constant, Base: 9}},
	}}}}
	s := newSim(t, &cfg) // frozen at 10:12, inside the dropout window
	if _, err := s.Registers(5, Input, 0, 1, frozen); !errors.Is(err, ErrDropout) {
		t.Fatalf("Registers in a dropout: %v", err)
	}
	if _, ok, _ := s.Expected(5, "gone", frozen); ok {
		t.Fatal("Expected in a dropout says ok")
	}
	for name, url := range transports(t, s) {
		t.Run(name, func(t *testing.T) {
			c := client(t, url, 500*time.Millisecond)
			c.SetUnitId(5)
			if _, err := c.ReadRegisters(0, 1, modbus.INPUT_REGISTER); !errors.Is(err, modbus.ErrRequestTimedOut) {
				t.Errorf("read in dropout: %v", err)
			}
			if name == "tcp" {
				return // the connection is held, as a hung device's is
			}
			if r, err := c.ReadRegister(5, modbus.INPUT_REGISTER); err != nil || r != 9 {
				t.Errorf("register beside the dropout: %v %v", r, err)
			}
		})
	}
}

func TestSetRegisters(t *testing.T) {
	s := newSim(t, nil)
	if err := s.SetRegisters(2, Input, 20, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	got, err := s.Registers(2, Input, 20, 3, frozen)
	if err != nil || len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("got %v %v", got, err)
	}
	if err := s.SetBits(1, Discrete, 3, true, false, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Registers(1, Discrete, 3, 3, frozen); got[0] != 1 || got[1] != 0 || got[2] != 1 {
		t.Fatalf("bits %v", got)
	}
	if err := s.SetRegisters(1, Coil, 0, 1); !errors.Is(err, ErrTable) {
		t.Errorf("registers on a coil: %v", err)
	}
	if err := s.SetRegisters(1, Holding, 65535, 1, 2); !errors.Is(err, ErrAddress) {
		t.Errorf("past 65535: %v", err)
	}
	if _, _, err := s.Expected(1, "nope", frozen); !errors.Is(err, ErrNoRegister) {
		t.Errorf("unknown register: %v", err)
	}
}

// TestSpikeAndStuck shows the sample's injected anomalies in the registers
// a client reads: the temperature spikes by 15 °C (150 in the int16 x10
// register) 5 minutes into every 10, and the humidity sticks for a minute
// 7 minutes into every 15.
func TestSpikeAndStuck(t *testing.T) {
	s := newSim(t, nil)
	read := func(addr uint16, at time.Time) int16 {
		w, err := s.Registers(1, Holding, addr, 1, at)
		if err != nil {
			t.Fatal(err)
		}
		return int16(w[0])
	}
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	spikeAt := hour.Add(5*time.Minute + 2*time.Second)
	clean := s.mustExpected(t, 1, "temperature", spikeAt) // Expected includes the spike
	if got := read(0, spikeAt); float64(got)*0.1 != clean {
		t.Errorf("temperature register %d in the spike, Expected %v", got, clean)
	}
	before := read(0, hour.Add(5*time.Minute-100*time.Millisecond))
	if d := read(0, hour.Add(5*time.Minute)) - before; d < 140 || d > 160 {
		t.Errorf("spike raised the register by %d, want about 150", d)
	}
	stuckFrom := hour.Add(7 * time.Minute)
	a, b := read(8, stuckFrom.Add(time.Second)), read(8, stuckFrom.Add(59*time.Second))
	if a != b {
		t.Errorf("humidity moved while stuck: %d then %d", a, b)
	}
}

func (s *Sim) mustExpected(t *testing.T, unit uint8, name string, at time.Time) float64 {
	t.Helper()
	v, ok, err := s.Expected(unit, name, at)
	if err != nil || !ok {
		t.Fatalf("Expected(%d, %s): %v %v", unit, name, ok, err)
	}
	return v
}
