package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/simonvetter/modbus"
)

// startModbusCommand runs the modbus command with args until the test ends and
// returns what follows prefix in the first stdout line that has it.
func startModbusCommand(t *testing.T, prefix string, args ...string) (string, func()) {
	t.Helper()
	var stdout, stderr testkit.SyncBuffer
	e := &env{stdout: &stdout, stderr: &stderr, log: slog.New(slog.NewTextHandler(&stderr, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runModbus(ctx, e, args) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("did not stop after its context ended")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.SplitAfter(stdout.String(), "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok && strings.HasSuffix(v, "\n") {
				return strings.TrimSpace(v), stop
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no %q line; stdout %q stderr %q", prefix, stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestModbusCommandOverRTU(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		testkit.Missing(t, "socat is not installed (Debian package socat); needed for a pty pair")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cmd := exec.Command(socat, "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ea := os.Stat(a)
		_, eb := os.Stat(b)
		if ea == nil && eb == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socat made no pty links")
		}
		time.Sleep(5 * time.Millisecond)
	}
	path, stop := startModbusCommand(t, "modbus rtu serving on ", "--rtu", a, "--baud", "9600", "--parity", "even")
	defer stop()
	if path != a {
		t.Fatalf("serving on %q, want %q", path, a)
	}
	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "rtu://" + b, Speed: 9600, Parity: modbus.PARITY_EVEN, Timeout: 2 * time.Second, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.ReadRegister(9, modbus.HOLDING_REGISTER); err != nil || r != 220 {
		t.Fatalf("setpoint over RTU: %v %v, want 220", r, err)
	}
}

func TestModbusCommandServesAndStops(t *testing.T) {
	addr, stop := startModbusCommand(t, "modbus tcp listening on ", "--listen", "127.0.0.1:0")
	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + addr, Timeout: 2 * time.Second, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	regs, err := c.ReadRegisters(0, 10, modbus.HOLDING_REGISTER)
	c.Close()
	if err != nil || regs[9] != 220 {
		t.Fatalf("read %v %v; want setpoint 220 at register 9", regs, err)
	}
	stop()
}

func TestModbusCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("units:\n  - id: 300\n    registers: [{name: x, table: attic}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", bad}, "units[0].id: must be within 1..247, got 300"},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, "reading config"},
		{[]string{"--listen", "nonsense"}, "modbus tcp listen address"},
		{[]string{"--rtu", "/nonexistent/tty", "--parity", "mark"}, `parity "mark"`},
		{[]string{"--rtu", "/nonexistent/tty"}, "opening /nonexistent/tty"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		var out bytes.Buffer
		err := runModbus(context.Background(), &env{stdout: &out, stderr: &out, log: slog.New(slog.DiscardHandler)}, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	var out bytes.Buffer
	if err := runModbus(context.Background(), &env{stdout: &out, stderr: &out}, []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if !strings.Contains(out.String(), "mbpoll -m tcp") {
		t.Errorf("--help lacks the mbpoll example:\n%s", out.String())
	}
}
