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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simonvetter/modbus"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestModbusCommandServesAndStops(t *testing.T) {
	var stdout, stderr syncBuffer
	e := &env{stdout: &stdout, stderr: &stderr, log: slog.New(slog.NewTextHandler(&stderr, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runModbus(ctx, e, []string{"--listen", "127.0.0.1:0"}) }()

	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		if line, ok := strings.CutPrefix(stdout.String(), "modbus tcp listening on "); ok && strings.HasSuffix(line, "\n") {
			addr = strings.TrimSpace(line)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop after its context ended")
	}
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
