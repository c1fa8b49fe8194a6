package modbus

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/source"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// frozen is where the tests' clocks stand: outside every anomaly window of
// the simulator's sample config.
var frozen = time.Date(2026, 3, 1, 10, 12, 3, 0, time.UTC)

func frozenNow() time.Time { return frozen }

// collector gathers emitted readings; emit copies, as the contract allows
// the source to reuse its slice.
type collector struct {
	mu   sync.Mutex
	all  []fieldline.Reading
	cond chan struct{} // closed and replaced on every emit
}

func newCollector() *collector { return &collector{cond: make(chan struct{})} }

func (c *collector) emit(rs []fieldline.Reading) {
	c.mu.Lock()
	c.all = append(c.all, rs...)
	close(c.cond)
	c.cond = make(chan struct{})
	c.mu.Unlock()
}

func (c *collector) readings(sensor string) []fieldline.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []fieldline.Reading
	for _, r := range c.all {
		if sensor == "" || r.SensorID == sensor {
			out = append(out, r)
		}
	}
	return out
}

func (c *collector) count(sensor string, q fieldline.Quality) int {
	n := 0
	for _, r := range c.readings(sensor) {
		if r.Quality == q {
			n++
		}
	}
	return n
}

// waitUntil waits, emit by emit, until cond holds; it fails the test after
// d.
func (c *collector) waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ch := c.cond
		c.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

// runSource runs src under the source runtime (source.Run) until the test
// ends and checks that it returns nil.
func runSource(t *testing.T, src *Source) *collector {
	c, _ := runSourceStop(t, src)
	return c
}

// runSourceStop is runSource with a stop function that ends the run and
// waits for it (so that counts are final); the test's end calls it too.
func runSourceStop(t *testing.T, src *Source) (*collector, func()) {
	t.Helper()
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- source.Run(ctx, src, c.emit, source.Options{}) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// newSim builds a simulator of cfg (the sample when nil) at now (frozen
// when nil) and closes it at the end of the test.
func newSim(t *testing.T, cfg *modbussim.Config, now func() time.Time) *modbussim.Sim {
	t.Helper()
	c := modbussim.DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	if now == nil {
		now = frozenNow
	}
	s, err := modbussim.New(c, modbussim.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func listenTCP(t *testing.T, s *modbussim.Sim) net.Addr {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := s.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mirror builds a unit config that reads every register of the
// simulator's unit u as sensor "u<id>.<name>", with the same layout.
func mirror(u modbussim.UnitConfig, interval time.Duration) UnitConfig {
	g := GroupConfig{Name: "all", Interval: interval}
	for _, r := range u.Registers {
		g.Registers = append(g.Registers, RegisterConfig{
			Sensor: fmt.Sprintf("u%d.%s", u.ID, r.Name), Table: Table(r.Table), Address: r.Address,
			Type: Type(r.Type), ByteOrder: Order(r.ByteOrder), WordOrder: Order(r.WordOrder),
			Scale: r.Scale, Offset: r.Offset,
			Counter: r.Signal.Shape == "counter",
		})
	}
	return UnitConfig{ID: u.ID, Groups: []GroupConfig{g}}
}

func errorsOf(m *Metrics, src, unit, code string) int {
	return int(m.Errors.WithLabelValues("modbus/"+src, unit, code).Value())
}

func requestsOf(m *Metrics, src, unit string) int {
	return int(m.Requests.WithLabelValues("modbus/"+src, unit).Value())
}

func ptr[T any](v T) *T { return &v }

// ptyPair starts socat with two linked pseudo-terminals and returns their
// paths once both exist.
func ptyPair(t *testing.T) (a, b string) {
	t.Helper()
	socat, err := exec.LookPath("socat")
	if err != nil {
		testkit.Missing(t, "socat is not installed (Debian package socat): RTU over a pty pair cannot be tested here; CI installs it")
	}
	dir := t.TempDir()
	a, b = filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cmd := exec.Command(socat, "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting socat: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ea := filepath.EvalSymlinks(a)
		_, eb := filepath.EvalSymlinks(b)
		if ea == nil && eb == nil {
			return a, b
		}
		if time.Now().After(deadline) {
			t.Fatal("socat made no pty links within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serveRTU runs the simulator's RTU slave on path until the test ends.
func serveRTU(t *testing.T, s *modbussim.Sim, path string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeRTU(ctx, path, modbussim.SerialConfig{Baud: 19200}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeRTU: %v", err)
		}
	})
}
