package main

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/mqtt"
	"github.com/fieldline/fieldline/protocols/source"
)

// lockedBuffer is an io.Writer the command and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

// startCommand runs a subcommand until the returned stop is called.
func startCommand(t *testing.T, run func(context.Context, *env, []string) error, args ...string) (stdout *lockedBuffer, stop func() error) {
	t.Helper()
	stdout = &lockedBuffer{}
	stderr := &lockedBuffer{}
	e := &env{stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, e, args) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("command did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stdout, stop
}

// The command's embedded broker and streams, read by the agent's MQTT
// source with the config the command prints.
func TestMQTTCommandEmbeddedBroker(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out, stop := startCommand(t, runMQTT, "--listen", "127.0.0.1:0", "--rate", "50")
	re := regexp.MustCompile(`mqtt publishing to (mqtt://\S+)`)
	waitFor(t, "the command to publish", func() bool { return re.MatchString(out.String()) })
	url := re.FindStringSubmatch(out.String())[1]
	if !strings.Contains(out.String(), "mqtt broker listening on 127.0.0.1:") {
		t.Fatalf("stdout %q", out.String())
	}

	var agent lockedBuffer
	if err := runMQTT(context.Background(), &env{stdout: &agent, stderr: &agent}, []string{"--print-agent-config"}); err != nil {
		t.Fatal(err)
	}
	var cfg mqtt.Config
	if err := confkit.Decode("agent", []byte(agent.String()), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Brokers = []string{url}
	src, err := mqtt.New(cfg, mqtt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- source.Run(ctx, src, func(rs []fieldline.Reading) {
			mu.Lock()
			for _, r := range rs {
				seen[r.SensorID]++
			}
			mu.Unlock()
		}, source.Options{})
	}()
	want := []string{"plant.boiler.temp", "plant.pump.pressure_bar", "plant.line1.temp", "plant.line1.humidity",
		"plant.meter.energy_kwh", "plant.sump.level_high", "plant.lab.temp"}
	waitFor(t, "readings of every stream", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range want {
			if seen[s] < 3 {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`mqtt published \d+ messages`).MatchString(out.String()) {
		t.Errorf("no summary in %q", out.String())
	}
}

func TestMQTTCommandToRunningBroker(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b, err := mqttsim.StartBroker(mqttsim.BrokerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	out, stop := startCommand(t, runMQTT, "--broker", b.URL(), "--rate", "20")
	waitFor(t, "the command to publish", func() bool { return strings.Contains(out.String(), "mqtt publishing to "+b.URL()) })
	if strings.Contains(out.String(), "listening") {
		t.Errorf("started a broker of its own: %q", out.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestMQTTCommandErrors(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--broker", "mqtt://h:1", "--listen", "127.0.0.1:0"}, "not both"},
		{[]string{"--rate", "-1", "--listen", "127.0.0.1:0"}, "--rate: rate must be within"},
		{[]string{"--config", "/nonexistent.yaml"}, "reading config"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out lockedBuffer
		err := runMQTT(context.Background(), &env{stdout: &out, stderr: &out, log: slog.New(slog.DiscardHandler)}, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
