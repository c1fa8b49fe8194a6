package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestGPIOCommandPrintsReadings(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out, stop := startCommand(t, runGPIO, "--tick", "2ms")
	// The initial states come at once; the flow meter reports every 5 s,
	// so only the states are waited for.
	waitFor(t, "the initial states", func() bool {
		s := out.String()
		return strings.Contains(s, " demo.door.open ") && strings.Contains(s, " demo.pump.on 0 bool")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestGPIOCommandErrors(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", "/nonexistent.yaml"}, "reading config"},
		{[]string{"--agent-config", "/nonexistent.yaml"}, "reading config"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out lockedBuffer
		err := runGPIO(context.Background(), &env{stdout: &out, stderr: &out, log: slog.New(slog.DiscardHandler)}, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
	var out lockedBuffer
	if err := runGPIO(context.Background(), &env{stdout: &out, stderr: &out}, []string{"--print-agent-config"}); err != nil || !strings.Contains(out.String(), "SIM_FLOW") {
		t.Errorf("--print-agent-config: %v %q", err, out.String())
	}
}
