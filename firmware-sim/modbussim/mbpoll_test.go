package modbussim

import (
	"context"
	"math"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// mbpoll runs Debian's mbpoll (a third-party Modbus master) once against
// addr and returns the values it prints, by reference number.
func mbpoll(t *testing.T, addr net.Addr, args ...string) map[int]string {
	t.Helper()
	bin, err := exec.LookPath("mbpoll")
	if err != nil {
		testkit.Missing(t, "mbpoll is not installed (Debian package mbpoll); the third-party client test needs it")
	}
	_, port, _ := net.SplitHostPort(addr.String())
	args = append([]string{"-m", "tcp", "-p", port, "-1"}, args...)
	args = append(args, "127.0.0.1")
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %v: %v\n%s", args, err, out)
	}
	vals := map[int]string{}
	for _, m := range regexp.MustCompile(`(?m)^\[(\d+)\]:\s+(\S+)`).FindAllStringSubmatch(string(out), -1) {
		ref, _ := strconv.Atoi(m[1])
		vals[ref] = m[2]
	}
	if len(vals) == 0 {
		t.Fatalf("mbpoll printed no value:\n%s", out)
	}
	return vals
}

func TestMbpollReadsTheSimulator(t *testing.T) {
	s := newSim(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := s.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	// The command from the README: ten holding registers of unit 1.
	got := mbpoll(t, addr, "-a", "1", "-r", "1", "-c", "10")
	want, err := s.Registers(1, Holding, 0, 10, frozen)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if got[i+1] != strconv.Itoa(int(w)) {
			t.Errorf("reference %d: mbpoll printed %q, the register holds %d", i+1, got[i+1], w)
		}
	}
	temp, _, _ := s.Expected(1, "temperature", frozen)
	if raw, _ := strconv.Atoi(got[1]); float64(int16(raw))*0.1 != temp {
		t.Errorf("temperature: mbpoll read %s, want %v x10", got[1], temp)
	}

	// Floats in both word orders: mbpoll's default word order is low word
	// first (CDAB), -B is high word first (ABCD).
	flow, _, _ := s.Expected(1, "flow", frozen)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"ABCD with -B", []string{"-a", "1", "-t", "4:float", "-B", "-r", "5", "-c", "1"}},
		{"CDAB", []string{"-a", "1", "-t", "4:float", "-r", "7", "-c", "1"}},
	} {
		printed := mbpoll(t, addr, tc.args...)
		ref, _ := strconv.Atoi(tc.args[len(tc.args)-3])
		v, err := strconv.ParseFloat(printed[ref], 64)
		if err != nil || math.Abs(v-flow) > 1e-5*math.Abs(flow) {
			t.Errorf("flow %s: mbpoll %v (%v), want %v", tc.name, v, err, flow)
		}
	}

	// A coil and an exception the third-party client reports.
	pump, _, _ := s.Expected(1, "pump", frozen)
	if got := mbpoll(t, addr, "-a", "1", "-t", "0", "-r", "1", "-c", "1")[1]; got != strconv.Itoa(int(pump)) {
		t.Errorf("pump coil: mbpoll %s, want %v", got, pump)
	}
}

// TestMbpollOverRTU has mbpoll, a third-party RTU master (libmodbus), read
// the simulator's RTU slave over a socat pty pair: a check of this
// package's own RTU framing and CRC.
func TestMbpollOverRTU(t *testing.T) {
	bin, err := exec.LookPath("mbpoll")
	if err != nil {
		testkit.Missing(t, "mbpoll is not installed (Debian package mbpoll); the third-party RTU master test needs it")
	}
	a, b := ptyPair(t)
	s := newSim(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeRTU(ctx, a, SerialConfig{Baud: 19200, Parity: "even", StopBits: 1}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeRTU: %v", err)
		}
	}()
	for _, unit := range []string{"1", "2"} {
		table, count := "4", "10"
		if unit == "2" {
			table, count = "3", "15"
		}
		args := []string{"-m", "rtu", "-b", "19200", "-P", "even", "-s", "1", "-a", unit, "-t", table, "-r", "1", "-c", count, "-1", "-o", "2", b}
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("mbpoll %v: %v\n%s", args, err, out)
		}
		tbl, n := Holding, uint16(10)
		if unit == "2" {
			tbl, n = Input, 15
		}
		id, _ := strconv.Atoi(unit)
		want, err := s.Registers(uint8(id), tbl, 0, n, frozen)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int]string{}
		for _, m := range regexp.MustCompile(`(?m)^\[(\d+)\]:\s+(\S+)`).FindAllStringSubmatch(string(out), -1) {
			ref, _ := strconv.Atoi(m[1])
			got[ref] = m[2]
		}
		for i, w := range want {
			if got[i+1] != strconv.Itoa(int(w)) {
				t.Errorf("unit %s reference %d: mbpoll printed %q, the register holds %d\n%s", unit, i+1, got[i+1], w, out)
			}
		}
	}
	// One register more reaches an unmapped address of the strict meter:
	// mbpoll decodes the RTU exception frame.
	out, err := exec.Command(bin, "-m", "rtu", "-b", "19200", "-P", "even", "-s", "1", "-a", "2", "-t", "3", "-r", "1", "-c", "16", "-1", "-o", "2", b).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Illegal data address") {
		t.Errorf("mbpoll past the meter's registers: %v\n%s", err, out)
	}
}
