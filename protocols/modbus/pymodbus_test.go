package modbus

import (
	"bufio"
	"math"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

const python = "/usr/bin/python3"

// startPymodbus runs testdata/pymodbus_server.py and returns its address
// once a connection to it succeeds.
func startPymodbus(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath(python); err != nil {
		testkit.Missing(t, "%s is missing: the third-party pymodbus server test needs Python 3 with pymodbus (Debian package python3-pymodbus); CI installs it", python)
	}
	if out, err := exec.Command(python, "-c", "import pymodbus").CombinedOutput(); err != nil {
		testkit.Missing(t, "pymodbus is not importable by %s (install Debian package python3-pymodbus; CI has it): %v\n%s", python, err, out)
	}
	cmd := exec.Command(python, "testdata/pymodbus_server.py")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	portc := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "PORT "); ok {
				portc <- p
			}
		}
		close(portc)
	}()
	t.Cleanup(func() {
		stdin.Close() // the server exits when its stdin closes
		done := make(chan struct{})
		go func() {
			<-drained
			cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var port string
	select {
	case p, ok := <-portc:
		if !ok {
			cmd.Wait()
			t.Fatalf("pymodbus server exited without a port:\n%s", stderr.String())
		}
		port = p
	case <-time.After(30 * time.Second):
		t.Fatal("pymodbus server printed no port within 30 s")
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("pymodbus server on %s does not accept connections: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPymodbusServer polls a third-party Modbus implementation whose
// registers pymodbus itself encoded.
func TestPymodbusServer(t *testing.T) {
	addr := startPymodbus(t)
	m := NewMetrics(nil)
	regs := []RegisterConfig{
		{Sensor: "i16", Table: Holding, Address: 0, Type: Int16, Scale: 0.1},
		{Sensor: "u16", Table: Holding, Address: 1, Type: Uint16, Scale: 0.01, Offset: 1},
		{Sensor: "u32", Table: Holding, Address: 2, Type: Uint32, Counter: true},
		{Sensor: "f32abcd", Table: Holding, Address: 4, Type: Float32},
		{Sensor: "f32cdab", Table: Holding, Address: 6, Type: Float32, WordOrder: Little},
		{Sensor: "f64", Table: Holding, Address: 8, Type: Float64},
		{Sensor: "i32cdab", Table: Holding, Address: 12, Type: Int32, WordOrder: Little},
		{Sensor: "f32dcba", Table: Holding, Address: 14, Type: Float32, ByteOrder: Little, WordOrder: Little},
		{Sensor: "u64", Table: Input, Address: 0, Type: Uint64},
		{Sensor: "c0", Table: Coil, Address: 0},
		{Sensor: "c1", Table: Coil, Address: 1},
		{Sensor: "c2", Table: Coil, Address: 2},
		{Sensor: "d0", Table: Discrete, Address: 0},
	}
	src, err := New(Config{Name: "pymodbus", URL: "tcp://" + addr, Timeout: 5 * time.Second, Units: []UnitConfig{
		{ID: 1, Groups: []GroupConfig{
			{Name: "values", Interval: 20 * time.Millisecond, Registers: regs},
			{Name: "missing", Interval: 20 * time.Millisecond, Registers: []RegisterConfig{{Sensor: "missing", Table: Holding, Address: 25}}},
		}},
		{ID: 2, Groups: []GroupConfig{{Interval: 20 * time.Millisecond, Registers: []RegisterConfig{{Sensor: "unit2", Table: Holding}}}}},
	}}, Options{Metrics: m, Now: frozenNow})
	if err != nil {
		t.Fatal(err)
	}
	c := runSource(t, src)
	c.waitUntil(t, 20*time.Second, "a reading of every sensor", func() bool {
		for _, s := range src.Sensors() {
			if len(c.readings(s.ID)) == 0 {
				return false
			}
		}
		return true
	})
	want := map[string]struct {
		v    float64
		kind fieldline.Kind
	}{
		"i16": {-12.3, fieldline.KindFloat}, "u16": {51, fieldline.KindFloat}, "u32": {123456789, fieldline.KindCounter},
		"f32abcd": {21.5, fieldline.KindFloat}, "f32cdab": {21.5, fieldline.KindFloat}, "f64": {-273.15, fieldline.KindFloat},
		"i32cdab": {-100000, fieldline.KindFloat}, "f32dcba": {21.5, fieldline.KindFloat}, "u64": {9876543210, fieldline.KindFloat},
		"c0": {1, fieldline.KindBool}, "c1": {0, fieldline.KindBool}, "c2": {1, fieldline.KindBool}, "d0": {1, fieldline.KindBool},
		"unit2": {42, fieldline.KindFloat},
	}
	for id, w := range want {
		r := c.readings(id)[0]
		// -123 × 0.1 is not exactly -12.3 in binary floating point.
		if r.Quality != fieldline.QualityGood || r.Kind != w.kind || math.Abs(r.Value-w.v) > 1e-12 {
			t.Errorf("%s: %+v, want %v (%v)", id, r, w.v, w.kind)
		}
	}
	if r := c.readings("missing")[0]; r.Quality != fieldline.QualityBad {
		t.Errorf("address past pymodbus's block: %+v, want quality bad", r)
	}
	if n := errorsOf(m, "pymodbus", "1", "illegal_data_address"); n < 1 {
		t.Errorf("illegal_data_address errors %d", n)
	}
}
