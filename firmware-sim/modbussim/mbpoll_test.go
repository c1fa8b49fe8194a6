package modbussim

import (
	"context"
	"math"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// mbpoll runs Debian's mbpoll (a third-party Modbus master) once against
// addr and returns the values it prints, by reference number.
func mbpoll(t *testing.T, addr net.Addr, args ...string) map[int]string {
	t.Helper()
	bin, err := exec.LookPath("mbpoll")
	if err != nil {
		t.Skip("mbpoll is not installed (Debian package mbpoll); the third-party client test needs it")
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
